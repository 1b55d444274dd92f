//! The Kubernetes nodes the CRI tests run on: one row each, holding every per-node fact (as the
//! arch table does for arches). Everything else holds a `&'static Node`, never its name.

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
}

/// The containerd config dialects the tests write.
#[derive(Debug, PartialEq)]
pub enum ConfigFormat {
    /// containerd 1.x: `version = 2`, CRI under `io.containerd.grpc.v1.cri`.
    V2,
}

/// Debian 12's own stack on this machine: containerd 1.6 and runc 1.1.
pub const DEBIAN_12: Node = Node {
    name: "containerd-1.6",
    installed_by: "apt-get install containerd runc containernetworking-plugins (bash tests/run does)",
    config: ConfigFormat::V2,
    pins_sandbox_image: false,
};

/// Every node, in the order of every table.
pub const NODES: [&Node; 1] = [&DEBIAN_12];

/// Expands one test body into one #[test] per node: `name::containerd_1_6`, ...
#[macro_export]
macro_rules! for_each_node {
    ($(#[doc = $doc:literal])* fn $name:ident($node:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn check($node: &'static $crate::node::Node) $body
            #[test] fn containerd_1_6() { check(&$crate::node::DEBIAN_12) }
        }
    };
}
