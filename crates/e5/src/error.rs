//! Errors from loading an E5S1 file.

use std::path::PathBuf;

/// Why a model file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum E5Error {
    /// The file could not be opened or mapped.
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The first four bytes are not `E5S1`.
    #[error("not an E5S1 model file (magic bytes {0:02x?}, expected \"E5S1\")")]
    BadMagic(Vec<u8>),
    /// A version this reader does not know.
    #[error("unsupported E5S1 version {0} (only version 1 is known)")]
    BadVersion(u32),
    /// A section runs past the end of the file.
    #[error(
        "model file truncated: {what} needs bytes {start}..{end}, but the file has {len} bytes"
    )]
    Truncated {
        what: String,
        start: u64,
        end: u64,
        len: u64,
    },
    /// A header field is out of range or disagrees with multilingual-e5-small.
    #[error("invalid E5S1 header: {0}")]
    BadHeader(String),
    /// The tokenizer vocabulary or normalisation table is inconsistent.
    #[error("invalid E5S1 tokenizer section: {0}")]
    BadVocab(String),
    /// The tensor directory is inconsistent, or a tensor is missing or misshapen.
    #[error("invalid E5S1 tensor directory: {0}")]
    BadTensor(String),
}
