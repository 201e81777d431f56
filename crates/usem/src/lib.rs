//! A pure-Rust engine for Google's universal-sentence-encoder-multilingual v3 (weights.npz + sp.model).
