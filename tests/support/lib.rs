//! Helpers for the pause specification tests (tests/*.rs) and tools (tools/*.rs), one concern per module.
// The seccomp listener receives the runtime's fd with std's SCM_RIGHTS support (nightly, as the toolchain).
#![feature(unix_socket_ancillary_data)]

pub mod arch;
pub mod attestations;
pub mod busybox;
pub mod cargo;
pub mod containerd;
pub mod containerd_config;
pub mod containers_conf;
pub mod cosign;
pub mod cri;
pub mod crio;
pub mod critest;
pub mod docker;
pub mod engine;
pub mod expected;
pub mod go_tools;
pub mod guest;
pub mod harness;
pub mod host_state;
pub mod image;
pub mod inputs;
pub mod kubelet;
pub mod layout;
pub mod made;
pub mod namespaces;
pub mod node;
pub mod once;
pub mod pause;
pub mod pod;
pub mod podman;
pub mod process;
pub mod procfs;
pub mod provenance;
pub mod readme;
pub mod registry;
pub mod report;
pub mod runtime;
pub mod sbom;
pub mod scratch;
pub mod seccomp;
pub mod seccomp_notify;
pub mod signing;
pub mod size;
pub mod stand_ins;
pub mod weigh;

/// Expands one test body into one #[test] per row of a table: the row type, then `test name =>
/// row` pairs, then the body (`for_each_arch!`, `for_each_node!` and `for_each_runtime!` give the
/// pairs of their tables).
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_row {
    ($ty:path; $($test:ident => $row:path),+; $(#[doc = $doc:literal])* fn $name:ident($arg:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn check($arg: &'static $ty) $body
            $(#[test] fn $test() { check(&$row) })+
        }
    };
}

/// What most tests use: the arch table, builds, the expected lines, running pause and processes, /proc.
pub mod prelude {
    pub use crate::arch::*;
    pub use crate::cargo::{binary, repo_root, version};
    pub use crate::expected::*;
    pub use crate::for_each_arch;
    pub use crate::harness;
    pub use crate::harness::{SeccompPlan, Setup, Storm};
    pub use crate::pause::*;
    pub use crate::process::*;
    pub use crate::procfs::*;
    pub use crate::scratch::Scratch;
}
