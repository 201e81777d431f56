use std::path::PathBuf;

use storyweave_ingest::RecordError;

/// Why a data set could not be found or loaded, or a metric not computed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bad line; the record error names the file, line and field.
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{what}: {left} predicted labels but {right} gold labels")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    #[error("{0}: no items to score")]
    Empty(&'static str),
}
