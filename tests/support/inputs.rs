//! What a build of pause is made from, read from the real inputs (git, Cargo.lock, cargo
//! metadata, the pinned toolchain's own channel manifest): what the SBOM and the provenance state.
use crate::arch::Arch;
use crate::cargo::{package_field, repo_root};
use crate::layout::sha256;
use crate::process::text;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::process::Command;

/// The source tree: its commit, whether the tree is clean, the commit's time.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// None when the tree is not a git checkout.
    pub commit: Option<String>,
    /// No change to a tracked file and no untracked file (`git status --porcelain` says nothing).
    pub clean: bool,
    /// The commit's time, UTC, RFC 3339 (`1970-01-01T00:00:00Z` without git): the documents'
    /// creation time, so that a rebuild of the same commit gives the same documents.
    pub time: String,
}

/// One crate compiled into the binary, as Cargo.lock and cargo metadata name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// The SPDX license expression of its Cargo.toml.
    pub license: String,
    /// The sha256 of its .crate file, from Cargo.lock.
    pub checksum: String,
}

/// The Rust toolchain the build is pinned to, and its `core` (built from the rust-src component).
#[derive(Debug, Clone, PartialEq)]
pub struct Toolchain {
    /// rust-toolchain.toml's channel: nightly-2026-05-20.
    pub channel: String,
    /// `rustc -V`: rustc 1.97.0-nightly (e50aa6fba 2026-05-19).
    pub rustc: String,
    /// rust-src's version, its download URL and sha256, from the toolchain's channel manifest
    /// (what rustup fetched and checked).
    pub rust_src_version: String,
    pub rust_src_url: String,
    pub rust_src_sha256: String,
}

/// One input file of the build and its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    pub path: &'static str,
    pub sha256: String,
}

/// The files whose digests the provenance records.
pub const INPUT_FILES: [&str; 3] = ["Cargo.lock", "Containerfile", "rust-toolchain.toml"];

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(repo_root()).args(args).env("TZ", "UTC").output().ok()?;
    out.status.success().then(|| text(&out.stdout).trim().to_string())
}

/// The source tree as git sees it.
pub fn source() -> Source {
    let commit = git(&["rev-parse", "HEAD"]);
    let clean = commit.is_some() && git(&["status", "--porcelain"]).is_some_and(|s| s.is_empty());
    let time = commit
        .as_ref()
        .and_then(|_| git(&["log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ"]))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    Source { commit, clean, time }
}

/// The digests of INPUT_FILES.
pub fn input_files() -> Vec<InputFile> {
    INPUT_FILES
        .iter()
        .map(|path| {
            let bytes = std::fs::read(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            InputFile { path, sha256: sha256(&bytes).trim_start_matches("sha256:").to_string() }
        })
        .collect()
}

#[derive(Deserialize)]
struct Lock {
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    checksum: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    resolve: Resolve,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct MetaPackage {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    /// None: a normal dependency (compiled into the binary); "build", "dev": not.
    kind: Option<String>,
}

/// The crates compiled into pause's binary for `arch`: every package reachable from pause by
/// normal dependencies in cargo's resolve for that target (build and dev dependencies are not
/// in the binary), with Cargo.lock's checksum. Sorted by name.
pub fn crates(arch: &Arch) -> Vec<Crate> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root())
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", arch.triple])
        .output()
        .expect("cargo");
    assert!(out.status.success(), "cargo metadata: {}", text(&out.stderr));
    let meta: Metadata = serde_json::from_slice(&out.stdout).unwrap();
    let lock: Lock = toml::from_str(&std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap()).unwrap();
    let name = package_field("name");
    let root = meta
        .packages
        .iter()
        .find(|p| p.name == name && meta.workspace_members.contains(&p.id))
        .unwrap_or_else(|| panic!("cargo metadata has no workspace package {name}"));
    let (mut seen, mut todo) = (BTreeSet::new(), vec![root.id.clone()]);
    while let Some(id) = todo.pop() {
        let node = meta.resolve.nodes.iter().find(|n| n.id == id).unwrap();
        for d in &node.deps {
            if d.dep_kinds.iter().any(|k| k.kind.is_none()) && seen.insert(d.pkg.clone()) {
                todo.push(d.pkg.clone());
            }
        }
    }
    let mut crates: Vec<Crate> = seen
        .iter()
        .map(|id| {
            let p = meta.packages.iter().find(|p| &p.id == id).unwrap();
            let locked = lock.package.iter().find(|l| l.name == p.name && l.version == p.version);
            Crate {
                name: p.name.clone(),
                version: p.version.clone(),
                license: p.license.clone().unwrap_or_else(|| "NOASSERTION".into()),
                checksum: locked
                    .and_then(|l| l.checksum.clone())
                    .unwrap_or_else(|| panic!("Cargo.lock has no checksum for {} {}", p.name, p.version)),
            }
        })
        .collect();
    crates.sort();
    crates
}

#[derive(Deserialize)]
struct ChannelManifest {
    pkg: std::collections::HashMap<String, ChannelPackage>,
}

#[derive(Deserialize)]
struct ChannelPackage {
    version: String,
    target: std::collections::HashMap<String, ChannelTarget>,
}

#[derive(Deserialize)]
struct ChannelTarget {
    xz_url: Option<String>,
    xz_hash: Option<String>,
}

/// rust-toolchain.toml's `[toolchain] channel` (nightly-2026-05-20), read as TOML.
pub fn pinned_channel() -> String {
    let file: toml::Table = toml::from_str(&std::fs::read_to_string(repo_root().join("rust-toolchain.toml")).unwrap()).unwrap();
    file.get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .expect("rust-toolchain.toml has no [toolchain] channel")
        .to_string()
}

/// The pinned toolchain (rust-toolchain.toml's channel, which cargo and rustc run as here).
pub fn toolchain() -> Toolchain {
    let channel = pinned_channel();
    let rustc = |args: &[&str]| {
        let out = Command::new("rustc").current_dir(repo_root()).env("RUSTUP_TOOLCHAIN", &channel).args(args).output().expect("rustc");
        assert!(out.status.success(), "rustc {args:?}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    let sysroot = rustc(&["--print", "sysroot"]);
    let manifest_path = std::path::Path::new(&sysroot).join("lib/rustlib/multirust-channel-manifest.toml");
    let manifest: ChannelManifest = toml::from_str(
        &std::fs::read_to_string(&manifest_path)
            .unwrap_or_else(|e| panic!("{}: {e} (the toolchain must come from rustup: tests/run installs it)", manifest_path.display())),
    )
    .unwrap();
    let src = manifest.pkg.get("rust-src").expect("the channel manifest has no rust-src");
    let any = src.target.get("*").expect("rust-src has no target \"*\"");
    let rustc = rustc(&["-V"]);
    Toolchain {
        channel,
        rustc,
        rust_src_version: src.version.clone(),
        rust_src_url: any.xz_url.clone().expect("rust-src has no xz_url"),
        rust_src_sha256: any.xz_hash.clone().expect("rust-src has no xz_hash"),
    }
}
