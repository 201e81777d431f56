//! The SQLite store: articles, embeddings, stories, assignments and merge history.
