//! Language identification: BCP-47 codes for article text.
