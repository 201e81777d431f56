//! The Encoder trait, the model directory, and fetching the encoders' weights.
