//! The Go programs tests/run builds from the tests' Go module (tests/go, tests/go-tools): containerd
//! 2.3 and 2.4, runc 1.4 and 1.5, crictl and critest.
use std::path::PathBuf;

/// Where tests/run put them (PAUSE_TESTS_GO); fails (never skips) when they are not there.
pub fn root() -> PathBuf {
    let root = std::env::var_os("PAUSE_TESTS_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("PAUSE_TESTS_GO is not set: run the tests with bash tests/run, which builds the Go tools"));
    assert!(root.join(".complete").is_file(), "{} holds no complete build of the Go tools: run bash tests/run", root.display());
    root
}

/// The program `name` built from the module tests/go/`module`.
pub fn tool(module: &str, name: &str) -> PathBuf {
    let path = root().join(module).join(name);
    assert!(path.is_file(), "{} is missing: tests/go-tools builds no {name} from tests/go/{module}", path.display());
    path
}
