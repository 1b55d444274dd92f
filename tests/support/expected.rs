//! The exact lines pause prints, as the README's behaviour contract states them.
use crate::cargo::package_field;

pub const WARNING: &str = "Warning: pause should be the first process\n";
pub const SHUTDOWN_INT: &str = "Shutting down, got signal: Interrupt\n";
pub const SHUTDOWN_TERM: &str = "Shutting down, got signal: Terminated\n";

/// The `-v` line: the package name and version from the top-level Cargo.toml.
pub fn version_line() -> String {
    format!("{} {}\n", package_field("name"), package_field("version"))
}
