//! The pause crate as cargo sees it: the repository, its Cargo.toml fields, and release builds per arch.
use crate::arch::Arch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository's top directory (the pause crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A field of the top-level Cargo.toml's [package], if it has it.
pub fn package_field_opt(key: &str) -> Option<String> {
    let toml = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let package = toml.split("\n[").find(|t| t.starts_with("package]"))?;
    package.lines().find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('=').map(|v| v.trim().trim_matches('"').to_string()))
}

/// A field of the top-level Cargo.toml's [package]; panics if it is missing.
pub fn package_field(key: &str) -> String {
    package_field_opt(key).unwrap_or_else(|| panic!("no {key} in Cargo.toml's [package]"))
}

/// pause's version, from Cargo.toml.
pub fn version() -> String {
    package_field("version")
}

/// Runs `cargo build --release --target <triple>` in the repository and returns the binary it
/// made. Extra `--config` values give a variant build in its own target directory.
pub fn build_with(arch: &Arch, configs: &[&str], target_dir: Option<&Path>) -> Result<PathBuf, String> {
    build_in(&repo_root(), arch, configs, target_dir)
}

/// The same, for a copy of the source tree at `tree` (target dir: `tree`/target by default).
pub fn build_in(tree: &Path, arch: &Arch, configs: &[&str], target_dir: Option<&Path>) -> Result<PathBuf, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(tree).args(["build", "--release", "--quiet", "--target", arch.triple]);
    for c in configs {
        cmd.args(["--config", c]);
    }
    let dir = target_dir.map(Path::to_path_buf).unwrap_or_else(|| tree.join("target"));
    cmd.env("CARGO_TARGET_DIR", &dir);
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(dir.join(arch.triple).join("release/pause"))
}

/// The release binary for `arch`, as `cargo build --release --target <triple>` makes it (built
/// once per process and arch).
pub fn binary(arch: &Arch) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<&'static str, PathBuf>>> = OnceLock::new();
    let mut map = BUILT.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(arch.triple) {
        return p.clone();
    }
    let path = build_with(arch, &[], None).unwrap_or_else(|e| panic!("cargo build for {} failed:\n{e}", arch.triple));
    map.insert(arch.triple, path.clone());
    path
}
