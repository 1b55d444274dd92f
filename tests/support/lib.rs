//! Helpers for the pause specification tests (tests/*.rs) and tools (tools/*.rs), one concern per module.
pub mod arch;
pub mod cargo;
pub mod containerd;
pub mod expected;
pub mod image;
pub mod pause;
pub mod registry;
pub mod report;
pub mod podman;
pub mod process;
pub mod procfs;
pub mod seccomp;
pub mod size;
pub mod tools;

/// What most tests use: the arch table, builds, the expected lines, running pause and processes, /proc.
pub mod prelude {
    pub use crate::arch::*;
    pub use crate::cargo::{binary, repo_root, version};
    pub use crate::expected::*;
    pub use crate::pause::*;
    pub use crate::process::*;
    pub use crate::procfs::*;
    pub use crate::tools::harness;
    pub use crate::for_each_arch;
}
