//! The Kubernetes nodes the CRI tests run on: one row each, holding every per-node fact (as the
//! arch table does for arches). Everything else holds a `&'static Node`, never its name.

use crate::runtime::{RUNC_1_1, RUNC_1_3, RUNC_1_4, RUNC_1_5, Runtime};

/// One node: a containerd and the runc it drives, and how they are configured.
#[derive(Debug, PartialEq)]
pub struct Node {
    /// The name tests and messages use.
    pub name: &'static str,
    /// Where the node's programs come from, for a failure message that says what to install.
    pub installed_by: &'static str,
    /// containerd's config file format (`version = N`) and plugin names it uses.
    pub config: ConfigFormat,
    /// Whether an imported sandbox image is pinned (ImageStatus `pinned: true`): containerd 1.6
    /// has no pinning.
    pub pins_sandbox_image: bool,
    /// Whether a pod's `userns_options` (kubelet's `hostUsers: false`) give it a user namespace:
    /// containerd 1.6 does not know the field and runs the pod in the host's.
    pub user_namespaces: bool,
    /// Whether the daemon runs NRI (the Node Resource Interface plugins connect to): containerd
    /// 2.x's default, at a socket in the daemon's own directory (`Paths::NRI_SOCKET`); containerd
    /// 1.6 has only the older NRI v1 (OCI hooks, no socket), off by default.
    pub nri: bool,
    /// Where its programs run.
    pub root: Root,
    /// Where its containerd, ctr and shim come from.
    pub programs: Programs,
    /// The runc it drives.
    pub runc: &'static Runtime,
    /// What the CRI Version call must report: "containerd 1.6." on Debian 12. sid moves; when its
    /// containerd leaves 2.x, the tests say so here instead of failing somewhere else.
    pub version_prefix: &'static str,
}

/// Where a node's containerd, runc, ctr and CNI plugins come from.
#[derive(Debug, PartialEq)]
pub enum Root {
    /// This machine's own.
    Host,
    /// The sid rootfs tests/run makes (runtime.rs, `node_root`): the daemon's mount namespace
    /// gets that rootfs as its root (pivot_root), read-only, with fresh /proc, /run, /tmp,
    /// /var/tmp and /var/lib, and the host's /dev and /sys.
    SidRootfs,
}

/// Where a node's containerd, ctr and containerd-shim-runc-v2 come from.
#[derive(Debug, PartialEq)]
pub enum Programs {
    /// Found in the PATH of its root: the host's packages, or the sid rootfs's.
    Packaged,
    /// Built by tests/run from the tests' Go module tests/go/NAME (go_tools.rs), run from there on
    /// the host's root.
    Go(&'static str),
}

/// The containerd config dialects the tests write.
#[derive(Debug, PartialEq)]
pub enum ConfigFormat {
    /// containerd 1.x: `version = 2`, CRI under `io.containerd.grpc.v1.cri`.
    V2,
    /// containerd 2.x: `version = 3`, CRI split into `io.containerd.cri.v1.images` and
    /// `io.containerd.cri.v1.runtime`; the sandbox image is `pinned_images.sandbox`.
    V3,
}

/// Debian 12's own stack on this machine: containerd 1.6 and runc 1.1.
pub const DEBIAN_12: Node = Node {
    name: "containerd-1.6",
    installed_by: "apt-get install containerd runc containernetworking-plugins (bash tests/run does)",
    config: ConfigFormat::V2,
    pins_sandbox_image: false,
    user_namespaces: false,
    nri: false,
    root: Root::Host,
    programs: Programs::Packaged,
    runc: &RUNC_1_1,
    version_prefix: "containerd 1.6.",
};

/// Debian sid's containerd 2.1 and runc 1.3, from the sid rootfs (Docker 28's node too).
pub const SID: Node = Node {
    name: "containerd-2.1",
    installed_by: "bash tests/run (it makes the sid node rootfs)",
    config: ConfigFormat::V3,
    pins_sandbox_image: true,
    user_namespaces: true,
    nri: true,
    root: Root::SidRootfs,
    programs: Programs::Packaged,
    runc: &RUNC_1_3,
    version_prefix: "containerd 2.1.",
};

/// Today's long-term node: containerd 2.3 (upstream's LTS) with runc 1.5, both built from the
/// tests' Go module.
pub const CONTAINERD_2_3: Node = Node {
    name: "containerd-2.3",
    installed_by: "bash tests/run (it builds containerd 2.3 and runc 1.5 from tests/go)",
    config: ConfigFormat::V3,
    pins_sandbox_image: true,
    user_namespaces: true,
    nri: true,
    root: Root::Host,
    programs: Programs::Go("containerd-2.3"),
    runc: &RUNC_1_5,
    version_prefix: "containerd v2.3.",
};

/// The newest containerd, 2.4, with the other maintained runc, 1.4; both from the tests' Go module.
pub const CONTAINERD_2_4: Node = Node {
    name: "containerd-2.4",
    installed_by: "bash tests/run (it builds containerd 2.4 and runc 1.4 from tests/go)",
    config: ConfigFormat::V3,
    pins_sandbox_image: true,
    user_namespaces: true,
    nri: true,
    root: Root::Host,
    programs: Programs::Go("containerd-2.4"),
    runc: &RUNC_1_4,
    version_prefix: "containerd v2.4.",
};

/// Every node, in the order of every table.
pub const NODES: [&Node; 4] = [&DEBIAN_12, &SID, &CONTAINERD_2_3, &CONTAINERD_2_4];

impl Node {
    /// Fails the test, saying how to get them, unless the node's containerd, ctr, shim and runc
    /// are there (on the host's root; the sid rootfs's are checked when it is made).
    pub fn require_programs(&self) {
        for tool in ["containerd", "ctr", "containerd-shim-runc-v2"] {
            match self.programs {
                Programs::Packaged => {
                    crate::process::require(tool, self.installed_by);
                }
                Programs::Go(_) => {
                    self.program(tool);
                }
            }
        }
        self.runc.binary();
    }

    /// A program of the node (containerd, ctr, containerd-shim-runc-v2) as the daemon's namespaces
    /// run it: a name looked up in PATH there, or the path of the one tests/run built.
    pub fn program(&self, name: &str) -> std::path::PathBuf {
        match self.programs {
            Programs::Packaged => name.into(),
            Programs::Go(module) => crate::go_tools::tool(module, name),
        }
    }
}

/// Expands one test body into one #[test] per node: `name::containerd_1_6`, `name::containerd_2_1`,
/// `name::containerd_2_3`, `name::containerd_2_4`.
#[macro_export]
macro_rules! for_each_node {
    ($($body:tt)*) => {
        $crate::for_each_row!($crate::node::Node; containerd_1_6 => $crate::node::DEBIAN_12, containerd_2_1 => $crate::node::SID,
            containerd_2_3 => $crate::node::CONTAINERD_2_3, containerd_2_4 => $crate::node::CONTAINERD_2_4; $($body)*);
    };
}
