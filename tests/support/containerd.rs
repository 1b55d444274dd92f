//! A throwaway containerd of one node (see node.rs), in network and mount namespaces of its own,
//! with every path of its own: nothing it makes is seen by another daemon, test or checkout.
use crate::busybox::busybox_archive;
use crate::containerd_config::{Paths, cni_config, config, hosts_toml};
use crate::cri::Cri;
use crate::image::{list_archive, list_name};
use crate::namespaces::{Namespaces, visible_copy};
use crate::node::{ConfigFormat, Node, Programs, Root};
use crate::process::{Running, SIGTERM, require, run_to_end, text};
use crate::runtime::node_root;
use crate::scratch::Scratch;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// containerd's CRI namespace, where kubelet's pods (and the sandbox image) live.
pub const K8S_NAMESPACE: &str = "k8s.io";

/// A containerd daemon of this test's own: root, state, sockets, runc's root, pinned network
/// namespaces and CNI state under its scratch directory, in network and mount namespaces held
/// open by a process of their own (`namespaces`, so that a restart keeps them), with fresh tmpfs
/// mounts on /run and /var/lib there (whatever containerd, runc or CNI write to their default
/// places stays private). Dropping it stops and removes every sandbox, then the daemon, the shims
/// and the namespaces, also when the test fails; the daemon and the holder also die with the test
/// process.
pub struct Containerd {
    pub node: &'static Node,
    namespaces: Option<Namespaces>,
    daemon: Option<Running>,
    cri: Option<Cri>,
    scratch: Scratch,
}

impl Containerd {
    /// Starts a fresh daemon with this image as sandbox image and imports it and busybox the way
    /// an air-gapped node does: plain `ctr -n k8s.io images import <archive>`, no tagging.
    pub fn start(node: &'static Node) -> Containerd {
        Containerd::start_with(node, &list_name(), &[list_archive(), busybox_archive()])
    }

    /// The same with another sandbox image, imported from the given oci-archives.
    pub fn start_with(node: &'static Node, sandbox_image: &str, archives: &[PathBuf]) -> Containerd {
        require("nsenter", "install util-linux (bash tests/run does)");
        let cni = match node.root {
            Root::Host => {
                node.require_programs();
                PathBuf::from("/usr/lib/cni")
            }
            Root::SidRootfs => node_root().join("usr/lib/cni"),
        };
        for plugin in ["bridge", "host-local", "loopback"] {
            assert!(cni.join(plugin).is_file(), "{} is missing: {}", cni.join(plugin).display(), node.installed_by);
        }
        let scratch = Scratch::new("ctrd");
        let dir = scratch.path().to_path_buf();
        std::fs::create_dir_all(dir.join(Paths::CNI_CONF)).unwrap();
        std::fs::write(dir.join(Paths::CONFIG), config(node, &dir, sandbox_image)).unwrap();
        std::fs::write(dir.join(Paths::CNI_CONF).join("10-pause-tests.conflist"), cni_config(&dir)).unwrap();
        if node.config == ConfigFormat::V3 {
            let hosts = dir.join(Paths::HOSTS).join(crate::registry::MIRRORED);
            std::fs::create_dir_all(&hosts).unwrap();
            std::fs::write(hosts.join("hosts.toml"), hosts_toml()).unwrap();
        }
        // Fresh /run (so /var/run/netns, /run/containerd, runc's default root) and /var/lib (CNI's
        // result cache, /var/lib/cni) on the host's root: whatever containerd, its shims, runc or
        // the CNI plugins write to a default place stays the daemon's own.
        let namespaces = Namespaces::new(&node.root, &dir, &["/run", "/var/lib"]);
        let mut c = Containerd { node, namespaces: Some(namespaces), daemon: None, cri: None, scratch };
        c.start_daemon();
        for archive in archives {
            let visible = c.visible(archive);
            c.ctr_ok(&["images", "import", visible.to_str().unwrap()]);
        }
        c
    }

    /// A copy of the host file `path` that the daemon's programs can read (in its directory).
    pub fn visible(&self, path: &Path) -> PathBuf {
        visible_copy(self.dir(), path)
    }

    /// The daemon's own directory.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The host pid of the daemon.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("containerd is not running").pid
    }

    /// The host pid of the process holding the daemon's network and mount namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.namespaces().pid()
    }

    /// The daemon's network and mount namespaces.
    pub fn namespaces(&self) -> &Namespaces {
        self.namespaces.as_ref().unwrap()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir().join(Paths::SOCKET)
    }

    /// The node's own `ctr --address <socket> -n k8s.io ARGS`, in the daemon's namespaces;
    /// returns its output.
    pub fn ctr(&self, args: &[&str]) -> Output {
        let mut cmd = self.namespaces().enter();
        cmd.arg(self.node.program("ctr")).arg("--address").arg(self.socket()).args(["-n", K8S_NAMESPACE]).args(args);
        run_to_end(cmd)
    }

    pub fn ctr_ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(out.status.success(), "ctr {args:?}: {}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// Starts the daemon in the holder's namespaces and waits until its CRI answers.
    fn start_daemon(&mut self) {
        let mut cmd = self.namespaces().enter();
        cmd.arg(self.node.program("containerd")).arg("--config").arg(self.dir().join(Paths::CONFIG));
        // containerd finds its shim in PATH (before its own directory): a built node's comes first.
        if let Programs::Go(_) = self.node.programs {
            let shim = self.node.program("containerd-shim-runc-v2");
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", shim.parent().unwrap().display()));
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir().join(Paths::LOG)).unwrap();
        self.daemon = Some(Running::spawn_to(cmd, std::process::Stdio::null(), log));
        let who = format!("containerd ({})", self.node.name);
        let cri = Cri::wait_for(
            &who,
            &self.socket(),
            &self.dir().join(Paths::LOG),
            Duration::from_secs(30),
            self.node.version_prefix,
            "the node table (support/node.rs)",
        );
        self.cri = Some(cri);
    }

    /// containerd's own log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join(Paths::LOG)).unwrap_or_default()
    }

    /// Stops the daemon with SIGTERM (the shims, and so the sandboxes, keep running) and starts it
    /// again in the same namespaces and state.
    pub fn restart(&mut self) {
        let daemon = self.daemon.take().unwrap();
        daemon.signal(SIGTERM);
        let out = daemon.finish();
        assert!(out.status.success() || out.status.code().is_none(), "containerd exited with {:?}", out.status);
        self.cri = None;
        self.start_daemon();
    }

    /// The CRI client (runtime and image services), as kubelet talks to the daemon.
    pub fn cri(&self) -> &Cri {
        self.cri.as_ref().expect("containerd is not running")
    }

    /// The containerd-shim-runc-v2 processes serving this daemon.
    pub fn shims(&self) -> Vec<u32> {
        shims_of(&self.socket())
    }

    /// Mounts in the daemon's mount namespace whose line mentions `what` (a sandbox id, say).
    pub fn mounts_of(&self, what: &str) -> Vec<String> {
        self.namespaces().mounts_of(what)
    }

    /// Whether a path exists in the daemon's mount namespace.
    pub fn path_exists(&self, path: &str) -> bool {
        self.namespaces().path_exists(path)
    }

    /// The directory where this daemon, and only it, pins its sandboxes' network namespaces.
    pub fn netns_dir(&self) -> PathBuf {
        self.dir().join(Paths::NETNS)
    }

    /// Network namespaces this daemon has pinned (a missing directory holds none).
    pub fn pinned_netns(&self) -> Vec<String> {
        let dir = format!("/proc/{}/root{}", self.holder_pid(), self.netns_dir().display());
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
    }
}

impl crate::pod::CriDaemon for Containerd {
    fn dir(&self) -> &Path {
        Containerd::dir(self)
    }

    fn cri(&self) -> &Cri {
        Containerd::cri(self)
    }

    fn socket(&self) -> PathBuf {
        Containerd::socket(self)
    }

    fn namespaces(&self) -> &Namespaces {
        Containerd::namespaces(self)
    }

    fn nri_socket(&self) -> Option<PathBuf> {
        self.node.nri.then(|| self.dir().join(Paths::NRI_SOCKET))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Through the CRI first, as kubelet would (bounded: the daemon may be what failed).
        if let Some(cri) = self.cri.take() {
            cri.stop_and_remove_quietly(&cri.pod_ids_quietly());
        }
        // Whatever is left: every container's init (a shim's child), then the shims, the daemon,
        // and the holder (the namespaces go with it).
        kill_shims_of(&self.socket());
        self.daemon.take();
        self.namespaces.take();
    }
}

/// The containerd-shim-runc-v2 processes serving the containerd at `socket` (their command line
/// names it).
pub fn shims_of(socket: &Path) -> Vec<u32> {
    let socket = socket.to_string_lossy().into_owned();
    crate::procfs::pids_whose_cmdline(|c| c.contains("containerd-shim-runc-v2") && c.contains(&socket))
}

/// Kills what is left of the containers of the containerd at `socket`: each shim's children (the
/// containers' inits), then the shims.
pub fn kill_shims_of(socket: &Path) {
    crate::procfs::kill_with_children(&shims_of(socket));
}
