//! Reading the arrays of `weights.npz`: a zip of `.npy` files.
//!
//! The `.npy` header is a tiny Python dict literal and the model only uses
//! C-ordered little-endian `f4`, `f8` and `u1` arrays, so a 60-line parser
//! here replaces a general npy crate (and its extra dependencies).

use std::io::{Cursor, Read};

use crate::UseError;

/// Element types that occur in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F4,
    F8,
    U1,
    I1,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F4 => 4,
            Dtype::F8 => 8,
            Dtype::U1 | Dtype::I1 => 1,
        }
    }
}

/// What a `.npy` header says about the data that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Bytes taken by magic, version, length field and header text.
    pub data_offset: usize,
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Number of bytes that must be read before the header text length is known.
const PREAMBLE_V1: usize = 10;

/// Parses a `.npy` header from the start of `bytes`.
///
/// `bytes` must hold at least the whole header; the data may follow.
pub(crate) fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader, String> {
    if bytes.len() < PREAMBLE_V1 || &bytes[..6] != MAGIC {
        return Err("not an .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (text_len, text_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let text = bytes
        .get(text_start..text_start + text_len)
        .ok_or("truncated .npy header")?;
    let text = std::str::from_utf8(text).map_err(|_| "non-UTF-8 .npy header")?;

    let descr = dict_value(text, "descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("bad descr in .npy header")?;
    let dtype = match descr {
        "<f4" => Dtype::F4,
        "<f8" => Dtype::F8,
        "|u1" | "<u1" => Dtype::U1,
        "|i1" | "<i1" => Dtype::I1,
        other => return Err(format!("unsupported dtype {other:?}")),
    };
    if dict_value(text, "fortran_order")?.starts_with("True") {
        return Err("fortran_order arrays are not supported".into());
    }
    let shape = dict_value(text, "shape")?;
    let shape = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("bad shape in .npy header")?;
    let shape = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NpyHeader {
        dtype,
        shape,
        data_offset: text_start + text_len,
    })
}

/// The text after `'key':` in a header dict, left-trimmed.
fn dict_value<'a>(text: &'a str, key: &str) -> Result<&'a str, String> {
    let pat = format!("'{key}':");
    let at = text
        .find(&pat)
        .ok_or_else(|| format!("no {key:?} in .npy header"))?;
    Ok(text[at + pat.len()..].trim_start())
}

/// One array read from the archive.
#[derive(Debug)]
pub(crate) struct Array {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl Array {
    /// The elements as `f32`; `f8` is narrowed, as numpy does when it mixes
    /// a float64 scalar into float32 arithmetic.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        match self.dtype {
            Dtype::F4 => Some(
                self.data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Dtype::F8 => Some(
                self.data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")) as f32)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// The archive, read fully into memory (30 MB) so it can be shared by the
/// threads that inflate its members in parallel.
pub(crate) struct Npz<'a> {
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
}

impl Clone for Npz<'_> {
    fn clone(&self) -> Self {
        Npz {
            zip: self.zip.clone(),
        }
    }
}

impl<'a> Npz<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, UseError> {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| UseError::Weights {
            detail: format!("not a readable zip archive: {e}"),
        })?;
        Ok(Npz { zip })
    }

    /// Reads array `name` (without the `.npy` suffix).
    pub fn array(&mut self, name: &str) -> Result<Array, UseError> {
        let bad = |detail: String| UseError::Weights {
            detail: format!("{name}.npy: {detail}"),
        };
        let mut file = self
            .zip
            .by_name(&format!("{name}.npy"))
            .map_err(|e| bad(e.to_string()))?;
        let mut head = vec![0u8; PREAMBLE_V1];
        file.read_exact(&mut head)
            .map_err(|e| bad(format!("cannot read header: {e}")))?;
        let text_len = match head[6] {
            1 => u16::from_le_bytes([head[8], head[9]]) as usize,
            _ => {
                let mut more = [0u8; 2];
                file.read_exact(&mut more)
                    .map_err(|e| bad(format!("cannot read header: {e}")))?;
                head.extend_from_slice(&more);
                u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize
            }
        };
        if &head[..6] != MAGIC {
            return Err(bad("not an .npy file (bad magic)".into()));
        }
        // Real headers are a few hundred bytes; refuse absurd lengths
        // instead of allocating them.
        if text_len > 1 << 20 {
            return Err(bad(format!("header length {text_len} is implausible")));
        }
        let before = head.len();
        head.resize(before + text_len, 0);
        file.read_exact(&mut head[before..])
            .map_err(|e| bad(format!("cannot read header: {e}")))?;
        let header = parse_npy_header(&head).map_err(bad)?;

        let count = header
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|c| c.checked_mul(header.dtype.size()))
            .ok_or_else(|| bad("array size overflows".into()))?;
        // Deflate cannot expand more than ~1032:1: a larger claimed size is a
        // crafted or corrupt archive, refused before allocating for it.
        if file.size()
            > file
                .compressed_size()
                .saturating_mul(1100)
                .saturating_add(1 << 20)
        {
            return Err(bad(format!(
                "member claims {} bytes from {} compressed bytes",
                file.size(),
                file.compressed_size()
            )));
        }
        if count as u64 > file.size() {
            return Err(bad(format!(
                "header promises {count} bytes but the member holds {}",
                file.size()
            )));
        }
        let mut data = vec![0u8; count];
        file.read_exact(&mut data)
            .map_err(|e| bad(format!("cannot read data: {e}")))?;
        // Reading to the end makes the zip reader check the member's CRC.
        let mut rest = Vec::new();
        file.read_to_end(&mut rest)
            .map_err(|e| bad(format!("corrupt data: {e}")))?;
        if !rest.is_empty() {
            return Err(bad(format!("{} bytes after the data", rest.len())));
        }
        Ok(Array {
            dtype: header.dtype,
            shape: header.shape,
            data,
        })
    }

    /// Reads an `f32` array and checks its shape.
    pub fn f32(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, UseError> {
        let a = self.array(name)?;
        if a.shape != shape {
            return Err(UseError::Weights {
                detail: format!("{name}.npy: shape {:?}, expected {shape:?}", a.shape),
            });
        }
        a.to_f32().ok_or_else(|| UseError::Weights {
            detail: format!("{name}.npy: dtype {:?}, expected a float", a.dtype),
        })
    }

    /// Reads a `u8` array and checks its shape.
    pub fn u8(&mut self, name: &str, shape: &[usize]) -> Result<Vec<u8>, UseError> {
        let a = self.array(name)?;
        if a.shape != shape || a.dtype != Dtype::U1 {
            return Err(UseError::Weights {
                detail: format!(
                    "{name}.npy: {:?} {:?}, expected u8 {shape:?}",
                    a.dtype, a.shape
                ),
            });
        }
        Ok(a.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[1, 0]);
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v
    }

    #[test]
    fn parses_numpy_headers() {
        let h = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (512, 256), }   \n");
        let p = parse_npy_header(&h).unwrap();
        assert_eq!(p.dtype, Dtype::F4);
        assert_eq!(p.shape, vec![512, 256]);
        assert_eq!(p.data_offset, h.len());
        let s = parse_npy_header(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
        ))
        .unwrap();
        assert_eq!(s.shape, Vec::<usize>::new());
        let one = parse_npy_header(&npy(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }",
        ))
        .unwrap();
        assert_eq!((one.dtype, one.shape), (Dtype::U1, vec![7]));
    }

    #[test]
    fn rejects_bad_headers() {
        let mut bad_magic = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
        bad_magic[1] = b'X';
        assert!(parse_npy_header(&bad_magic).unwrap_err().contains("magic"));
        let bad_dtype = npy("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }");
        assert!(parse_npy_header(&bad_dtype).unwrap_err().contains("dtype"));
        let fortran = npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
        assert!(parse_npy_header(&fortran).unwrap_err().contains("fortran"));
        let bad_dim = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }");
        assert!(parse_npy_header(&bad_dim)
            .unwrap_err()
            .contains("dimension"));
        let no_shape = npy("{'descr': '<f4', 'fortran_order': False, }");
        assert!(parse_npy_header(&no_shape).unwrap_err().contains("shape"));
        let mut short = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
        short.truncate(20);
        assert!(parse_npy_header(&short).unwrap_err().contains("truncated"));
    }

    /// A stored (uncompressed) zip with the given members.
    fn zip_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in members {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_arrays_and_reports_bad_members() {
        let mut good = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
        good.extend_from_slice(&1.5f32.to_le_bytes());
        good.extend_from_slice(&(-2.0f32).to_le_bytes());
        let mut short = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }");
        short.extend_from_slice(&[0; 10]);
        let mut bad_header = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }");
        bad_header[0] = 0;
        let mut long = good.clone();
        long.push(7);
        let bytes = zip_of(&[
            ("good.npy", good),
            ("short.npy", short),
            ("bad.npy", bad_header),
            ("long.npy", long),
        ]);
        let mut z = Npz::new(&bytes).unwrap();
        assert_eq!(z.f32("good", &[2]).unwrap(), vec![1.5, -2.0]);
        let msg = |e: UseError| e.to_string();
        assert!(msg(z.f32("good", &[3]).unwrap_err()).contains("shape"));
        assert!(msg(z.u8("good", &[2]).unwrap_err()).contains("expected u8"));
        assert!(msg(z.f32("short", &[100]).unwrap_err()).contains("promises"));
        assert!(msg(z.f32("bad", &[2]).unwrap_err()).contains("magic"));
        assert!(msg(z.f32("long", &[2]).unwrap_err()).contains("after the data"));
        assert!(msg(z.f32("absent", &[2]).unwrap_err()).contains("absent.npy"));
    }
}
