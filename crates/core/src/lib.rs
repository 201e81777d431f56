//! The shared data model of storyweave: [`Article`], dates and the
//! well-known paths (model directory, database, evaluation data).
//!
//! Every other crate speaks in these types; this crate depends on nothing of
//! storyweave's own.

pub mod article;
pub mod date;
pub mod paths;

pub use article::Article;
pub use date::{parse_date, DateError};
