//! Readers that turn plain-text, JSON Lines, directories and stdin into Articles, with per-record errors.
