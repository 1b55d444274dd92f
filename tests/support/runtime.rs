//! The OCI runtimes the profile must work with: one row each (as the arch and node tables).
use crate::process::{require, run_to_end, text};
use crate::scratch::Scratch;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One OCI runtime.
#[derive(Debug, PartialEq)]
pub struct Runtime {
    /// The name tests, messages and seccomp.json's rule comments use: "runc 1.1".
    pub name: &'static str,
    /// Where it comes from.
    pub from: Source,
    /// What it does under the filter only because a seccomp listener is set (recording with one,
    /// tests/seccomp.rs): after handing over the notification fd it waits for its parent's
    /// all-clear (runc's `syncParentSeccomp`, libcontainer/init_linux.go: `readSync`).
    pub listener_handshake: &'static [&'static str],
}

#[derive(Debug, PartialEq)]
pub enum Source {
    /// A program of this machine, found in PATH.
    Host(&'static str),
    /// A program of the sid node rootfs that tests/run makes (PAUSE_TESTS_NODE_ROOT), by its path
    /// there.
    NodeRoot(&'static str),
    /// Built by tests/run from the tests' Go module tests/go/NAME (go_tools.rs).
    Go(&'static str),
}

/// Debian 12's runc (1.1), what podman and containerd 1.6 run here.
pub const RUNC_1_1: Runtime = Runtime { name: "runc 1.1", from: Source::Host("runc"), listener_handshake: &["read"] };
/// Debian sid's runc (1.3), what a node installed this year runs; `host-runc` is its copy with the
/// rootfs's glibc (tests/run).
/// Its sync socket is a SOCK_SEQPACKET: `readSync` peeks at the packet size (recvfrom), then reads.
pub const RUNC_1_3: Runtime = Runtime { name: "runc 1.3", from: Source::NodeRoot("host-runc"), listener_handshake: &["read", "recvfrom"] };

/// runc 1.4, still maintained upstream; built from the tests' Go module.
pub const RUNC_1_4: Runtime = Runtime { name: "runc 1.4", from: Source::Go("runc-1.4"), listener_handshake: &["read", "recvfrom"] };
/// runc 1.5, today's release; built from the tests' Go module.
pub const RUNC_1_5: Runtime = Runtime { name: "runc 1.5", from: Source::Go("runc-1.5"), listener_handshake: &["read", "recvfrom"] };

/// Expands one test body into one #[test] per runtime: `name::runc_1_1` ... `name::runc_1_5`.
#[macro_export]
macro_rules! for_each_runtime {
    ($($body:tt)*) => {
        $crate::for_each_row!($crate::runtime::Runtime; runc_1_1 => $crate::runtime::RUNC_1_1, runc_1_3 => $crate::runtime::RUNC_1_3,
            runc_1_4 => $crate::runtime::RUNC_1_4, runc_1_5 => $crate::runtime::RUNC_1_5; $($body)*);
    };
}

/// The sid node rootfs tests/run made; fails (never skips) when there is none.
pub fn node_root() -> PathBuf {
    crate::made::by_tests_run("PAUSE_TESTS_NODE_ROOT", "the sid node rootfs")
}

impl Runtime {
    /// The program, as a host path.
    pub fn binary(&self) -> PathBuf {
        match self.from {
            Source::Host(program) => require(program, "install runc (bash tests/run does)"),
            Source::NodeRoot(path) => node_root().join(path),
            Source::Go(module) => crate::go_tools::tool(module, "runc"),
        }
    }

    /// `runc --version`'s first line.
    pub fn version(&self) -> String {
        let out = run_to_end(self.command(&["--version"]));
        assert!(out.status.success(), "{} --version: {}", self.name, text(&out.stderr));
        text(&out.stdout).lines().next().unwrap_or_default().to_string()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.binary());
        c.args(args);
        c
    }

    /// A program (in `scratch`) that podman can run as `--runtime`: this runtime, with every
    /// container's seccomp section replaced by the JSON file `section` (tools/oci_wrapper.rs).
    pub fn with_seccomp_section(&self, scratch: &Scratch, oci_wrapper: &Path, section: &Path) -> PathBuf {
        let script = scratch.join("runtime");
        let text =
            format!("#!/bin/sh\nexec '{}' 'seccomp={}' '{}' \"$@\"\n", oci_wrapper.display(), section.display(), self.binary().display());
        std::fs::write(&script, text).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        script
    }
}
