//! Entity extraction and cross-script name keys for people, places and organisations.
