//! Online story assignment: signals, learned scorer, candidate retrieval, merges.
