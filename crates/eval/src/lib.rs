//! Evaluation: BCubed and pairwise F1 for clustering, Pearson and ROC AUC for pair similarity.
