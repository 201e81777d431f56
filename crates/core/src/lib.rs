//! The shared data model of storyweave: [`Article`], language codes, dates and
//! the well-known paths (model directory, database, evaluation data).
//!
//! Every other crate speaks in these types; this crate depends on nothing of
//! storyweave's own.

pub mod paths;
