use std::fmt;

/// Where a record came from: file (or `<stdin>`) and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLocation {
    pub file: String,
    /// 1-based line for line-oriented formats; `None` for whole-file records.
    pub line: Option<usize>,
}

impl RecordLocation {
    /// A record that is a whole file (a page, a feed, a plain-text article).
    pub fn whole(file: impl Into<String>) -> Self {
        RecordLocation {
            file: file.into(),
            line: None,
        }
    }

    /// A record on 1-based line `line` of a line-oriented file.
    pub fn at_line(file: impl Into<String>, line: usize) -> Self {
        RecordLocation {
            file: file.into(),
            line: Some(line),
        }
    }
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.file, l),
            None => write!(f, "{}", self.file),
        }
    }
}

/// One bad record: where, which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct RecordError {
    pub location: RecordLocation,
    pub field: Option<String>,
    pub message: String,
}

impl RecordError {
    pub fn new(location: RecordLocation, field: Option<&str>, message: impl Into<String>) -> Self {
        RecordError {
            location,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}
