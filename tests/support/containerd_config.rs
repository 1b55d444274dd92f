//! The config files of a test's containerd: the daemon's own (per node dialect) and its CNI network.
use crate::node::{ConfigFormat, Node, Root};
use std::path::Path;

/// Where, under the daemon's directory, each thing of its own lives.
pub struct Paths;
impl Paths {
    pub const CONFIG: &'static str = "config.toml";
    pub const SOCKET: &'static str = "containerd.sock";
    pub const LOG: &'static str = "containerd.log";
    pub const CNI_CONF: &'static str = "cni";
    /// The NRI socket plugins (critest's NRI specs) connect to, where the node runs NRI.
    pub const NRI_SOCKET: &'static str = "nri.sock";
    /// Where NRI looks for plugins to start and their configs: empty directories of its own.
    pub const NRI_PLUGINS: &'static str = "nri/plugins";
    pub const NRI_PLUGIN_CONFIGS: &'static str = "nri/conf.d";
    /// The registry hosts directory (2.x: `config_path`), one `<host>/hosts.toml` each.
    pub const HOSTS: &'static str = "certs.d";
    /// runc's state (`--root`) for this daemon's containers only.
    pub const RUNC_ROOT: &'static str = "runc";
    /// The network namespaces the CRI pins, with `netns_mounts_under_state_dir` (the CRI plugin's
    /// state directory is `<state>/io.containerd.grpc.v1.cri`).
    pub const NETNS: &'static str = "state/io.containerd.grpc.v1.cri/netns";
}

/// The daemon's config for `node`. Only what this machine and the tests need differs from the
/// defaults: its own paths (root, state, sockets, runc's root, and the pinned network namespaces,
/// none of them shared with another daemon or the host); the sandbox image; `native` snapshots
/// (nothing to mount: this machine's overlay is in use by the tests' own vfs podman store); CNI
/// from Debian's plugins; `restrict_oom_score_adj`, because runc may not lower oom_score_adj here
/// to the -998 containerd asks for a sandbox (without it every RunPodSandbox fails with "can't get
/// final child's PID from pipe: EOF"). The 1.x dialect also names the tests' registry on 127.0.0.1
/// in the daemon's own network namespace as a plain-HTTP mirror (tests/registry.rs pulls on
/// containerd 1.6 only); the 2.x dialect has a hosts directory (`hosts_toml`), unpacks pulls
/// into `native` snapshots too (the transfer service's `unpack_config`), and runs NRI (its default) with
/// its socket, plugin and plugin config directories in the daemon's directory instead of the
/// host's /var/run/nri, /opt/nri and /etc/nri.
pub fn config(node: &Node, dir: &Path, sandbox_image: &str) -> String {
    let d = dir.display();
    // The node's runc, by its path where the daemon runs on the host's root (the sid rootfs's is
    // the one in its PATH).
    let binary_name = match node.root {
        Root::Host => format!("\n        BinaryName = \"{}\"", node.runc.binary().display()),
        Root::SidRootfs => String::new(),
    };
    let registry = crate::registry::ADDRESS;
    let (socket, runc_root, cni, hosts) = (Paths::SOCKET, Paths::RUNC_ROOT, Paths::CNI_CONF, Paths::HOSTS);
    let (nri_socket, nri_plugins, nri_configs) = (Paths::NRI_SOCKET, Paths::NRI_PLUGINS, Paths::NRI_PLUGIN_CONFIGS);
    let nri_disable = !node.nri;
    // The CRI's pulls (2.x: the transfer service) unpack into `native` snapshots, not the default
    // overlayfs ("no unpack platforms defined" otherwise), for this machine's platform.
    let platform = crate::arch::AMD64.platform;
    // The daemon's own paths: the same keys in both versions.
    let paths = format!(
        r#"root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/{socket}"
[ttrpc]
  address = "{d}/{socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
    );
    match node.config {
        ConfigFormat::V2 if node.nri => panic!("{}: the 1.x dialect has no NRI socket to enable", node.name),
        ConfigFormat::V2 => format!(
            r#"version = 2
{paths}[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{d}/{runc_root}"{binary_name}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/{cni}"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{registry}"]
    endpoint = ["http://{registry}"]
"#
        ),
        ConfigFormat::V3 => format!(
            r#"version = 3
{paths}[plugins.'io.containerd.nri.v1.nri']
  disable = {nri_disable}
  socket_path = "{d}/{nri_socket}"
  plugin_path = "{d}/{nri_plugins}"
  plugin_config_path = "{d}/{nri_configs}"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "native"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{sandbox_image}"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "{d}/{hosts}"
[plugins.'io.containerd.transfer.v1.local']
  [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
    platform = "{platform}"
    snapshotter = "native"
    differ = "walking"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        Root = "{d}/{runc_root}"{binary_name}
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "{d}/{cni}"
"#
        ),
    }
}

/// The 2.x hosts.toml of `registry::MIRRORED` (in `Paths::HOSTS`): plain HTTP to the tests'
/// registry address in the daemon's own network namespace, and nowhere else.
pub fn hosts_toml() -> String {
    let address = crate::registry::ADDRESS;
    format!("server = \"http://{address}\"\n[host.\"http://{address}\"]\n  capabilities = [\"pull\", \"resolve\"]\n")
}

/// A bridge network with host-local addresses (its state under the daemon's directory). The
/// bridge and the pod addresses exist only inside the daemon's own network namespace.
pub fn cni_config(dir: &Path) -> String {
    let conf = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "pause-tests",
        "plugins": [
            {"type": "bridge", "bridge": "cni-pause0", "isGateway": true, "ipMasq": false,
             "ipam": {"type": "host-local", "dataDir": dir.join("cni-ipam"), "ranges": [[{"subnet": "10.88.0.0/16"}]]}},
            {"type": "loopback"},
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true},
        ],
    });
    serde_json::to_string_pretty(&conf).unwrap()
}
