//! What `bash tests/run` makes once under /var/tmp and names in an environment variable (the node
//! rootfs, the Go tools, Debian 12's docker.io, cosign, spdx-tools, the kernels, the stand-ins'
//! packages): found through that variable, complete or a failure (never a skip).
use std::path::PathBuf;

/// The directory the environment variable `var` names, which tests/run made (`what`: what it
/// holds, for the messages); fails when the variable is not set or the directory has no
/// `.complete` marker (tests/run writes it last, before the rename that publishes the directory).
pub fn by_tests_run(var: &str, what: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: run the tests with bash tests/run, which makes it ({what})"));
    assert!(dir.join(".complete").is_file(), "{} is not complete ({what}): run bash tests/run", dir.display());
    dir
}
