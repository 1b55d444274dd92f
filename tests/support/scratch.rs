//! Private scratch space: one root per checkout (so two clones never share a path), one
//! directory per use inside it, removed by a guard also when the test panics.
use crate::cargo::repo_root;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Eight hex digits naming this checkout: the start of the sha256 of its path. Everything the
/// tests keep outside `target/` (the podman store, scratch directories, run directories) is
/// under a name that holds it.
pub fn checkout_key() -> String {
    let digest = Sha256::digest(repo_root().as_os_str().as_encoded_bytes());
    format!("{digest:x}")[..8].to_string()
}

/// This checkout's scratch root, `/var/tmp/pt-<key>`. Short on purpose: unix socket paths are
/// limited to 108 bytes and podman refuses a runroot over 50 characters.
pub fn checkout_root() -> PathBuf {
    PathBuf::from(format!("/var/tmp/pt-{}", checkout_key()))
}

/// This checkout's directory under /run (tmpfs: what podman wants for its run state).
pub fn checkout_run_root() -> PathBuf {
    PathBuf::from(format!("/run/pt-{}", checkout_key()))
}

/// A fresh, empty directory of one test's own: `<checkout root>/<pid>-<n>-<label>`; removed
/// with everything in it when dropped.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = checkout_root().join(format!("{}-{}-{label}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot make {}: {e}", path.display()));
        Scratch { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
