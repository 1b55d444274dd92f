//! The Go programs tests/run builds from the tests' Go module (tests/go, tests/go-tools): containerd
//! 2.3 and 2.4, runc 1.4 and 1.5, crictl and critest.
use std::path::PathBuf;

/// Where tests/run put them (PAUSE_TESTS_GO); fails (never skips) when they are not there.
pub fn root() -> PathBuf {
    crate::made::by_tests_run("PAUSE_TESTS_GO", "the Go tools")
}

/// The program `name` built from the module tests/go/`module`.
pub fn tool(module: &str, name: &str) -> PathBuf {
    let path = root().join(module).join(name);
    assert!(path.is_file(), "{} is missing: tests/go-tools builds no {name} from tests/go/{module}", path.display());
    path
}

/// A JSON list that `go mod edit -json` prints as null when empty.
fn list<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(<Option<Vec<T>> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// A go.mod as `go mod edit -json` prints it (the Go toolchain reads it; nothing parsed by hand).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GoMod {
    #[serde(default, deserialize_with = "list")]
    pub require: Vec<Require>,
    #[serde(default, deserialize_with = "list")]
    pub replace: Vec<Replace>,
    #[serde(default, deserialize_with = "list")]
    pub tool: Vec<Tool>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Require {
    pub path: String,
    pub version: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Replace {
    pub old: Module,
    pub new: Module,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Module {
    pub path: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tool {
    pub path: String,
}

impl GoMod {
    /// Reads the go.mod at `path` with `go mod edit -json`.
    pub fn read(path: &std::path::Path) -> GoMod {
        let go = crate::process::require("go", "install Go 1.26.8 or later (the tests build their Go tools with it)");
        let out = std::process::Command::new(go).args(["mod", "edit", "-json"]).arg(path).output().unwrap();
        assert!(out.status.success(), "go mod edit -json {}: {}", path.display(), crate::process::text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("go mod edit -json {}: {e}", path.display()))
    }

    /// The project this tool module builds: the required module that provides every `tool`
    /// package (the longest module path each tool path starts with).
    pub fn project(&self) -> &Require {
        let provider = |tool: &str| {
            self.require
                .iter()
                .filter(|r| tool == r.path || tool.starts_with(&format!("{}/", r.path)))
                .max_by_key(|r| r.path.len())
                .unwrap_or_else(|| panic!("no required module provides the tool {tool}"))
        };
        let first = provider(&self.tool.first().expect("a tool module names at least one tool").path);
        for t in &self.tool {
            assert_eq!(provider(&t.path).path, first.path, "the tools of one module come from one project");
        }
        first
    }

    /// The version this go.mod requires of `path`, if any.
    pub fn version_of(&self, path: &str) -> Option<&str> {
        self.require.iter().find(|r| r.path == path).map(|r| r.version.as_str())
    }
}

/// The tests' Go modules: tests/go/NAME for each NAME, sorted.
pub fn modules() -> Vec<(String, PathBuf)> {
    let dir = crate::cargo::repo_root().join("tests/go");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().join("go.mod").is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    found.sort();
    found
}

/// The go.mod of `module` at `version` as the Go module proxy served it to tests/run (in the
/// module cache of the Go tools' build).
pub fn upstream_go_mod(module: &str, version: &str) -> PathBuf {
    // The module cache escapes capital letters as '!' + lower case.
    let escaped: String =
        module.chars().flat_map(|c| if c.is_ascii_uppercase() { vec!['!', c.to_ascii_lowercase()] } else { vec![c] }).collect();
    let path = root().join("gomodcache/cache/download").join(escaped).join("@v").join(format!("{version}.mod"));
    assert!(path.is_file(), "{} is missing: the Go tools' module cache has no go.mod of {module}@{version}", path.display());
    path
}
