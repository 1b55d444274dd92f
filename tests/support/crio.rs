//! A throwaway CRI-O 1.36 (built from the tests' Go module, tests/go/cri-o-1.36) driving runc 1.5
//! through Debian 12's conmon, in network and mount namespaces of its own, with every path of its
//! own (config, storage, sockets, pinned namespaces, CNI state): nothing it makes is seen by
//! another daemon, test or checkout.
use crate::busybox::{BUSYBOX, busybox_archive};
use crate::containerd_config::cni_config;
use crate::cri::Cri;
use crate::image::{list_archive, list_name};
use crate::namespaces::Namespaces;
use crate::node::Root;
use crate::pod::CriDaemon;
use crate::process::{Running, require, run_to_end, text};
use crate::runtime::RUNC_1_5;
use crate::scratch::Scratch;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tests' Go module CRI-O is built from (tests/go-tools builds crio, pinns and copyimg there).
pub const MODULE: &str = "cri-o-1.36";
/// What the CRI Version call must report.
pub const VERSION_PREFIX: &str = "cri-o 1.36.";

/// The files and directories of one daemon, under its scratch directory.
struct Paths;
impl Paths {
    const CONFIG: &'static str = "crio.conf";
    const SOCKET: &'static str = "crio.sock";
    const LOG: &'static str = "crio.log";
    const POLICY: &'static str = "policy.json";
    const REGISTRIES: &'static str = "registries.conf";
    const CNI_CONF: &'static str = "cni";
    const STORAGE: &'static str = "storage";
    const STORAGE_RUN: &'static str = "storage-run";
    /// The runtime CRI-O is given: runc 1.5 behind tools/oci_wrapper.rs (see `runtime_script`).
    const RUNTIME: &'static str = "bin/runc";
    /// Where pinns pins each pod's namespaces.
    const NAMESPACES: &'static str = "ns";
    /// The NRI socket plugins (critest's NRI specs) connect to.
    const NRI_SOCKET: &'static str = "nri.sock";
}

/// crio.conf: only what this machine and the tests need differs from the defaults. Its own paths
/// (storage, sockets, run state, logs, pinned namespaces, hooks, policies; none shared with the
/// host or another daemon); vfs storage; cgroupfs (no systemd here); runc 1.5 (the default is
/// crun, which fails on this cgroup layout) with Debian 12's conmon; CNI from Debian's plugins;
/// no host-port mapping (it wants iptables); NRI (its default) with its socket, plugin and plugin
/// config directories in the daemon's directory. `pause_image` and `pause_command` are the
/// infra container's image and command (the tests: this image and CRI-O's default `/pause`);
/// `drop_infra_ctr` keeps its default (true).
fn config(dir: &Path, pause_image: &str, pause_command: &str) -> String {
    let d = dir.display();
    let conmon = "/usr/bin/conmon";
    let pinns = crate::go_tools::tool(MODULE, "pinns");
    format!(
        r#"[crio]
root = "{d}/{storage}"
runroot = "{d}/{storage_run}"
storage_driver = "vfs"
log_dir = "{d}/pods"
version_file = "{d}/run/version"
clean_shutdown_file = "{d}/lib/clean.shutdown"

[crio.api]
listen = "{d}/{socket}"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
namespaces_dir = "{d}/{namespaces}"
pinns_path = "{pinns}"
container_exits_dir = "{d}/run/exits"
container_attach_socket_dir = "/run/crio"
hooks_dir = ["{d}/hooks.d"]
cdi_spec_dirs = ["{d}/cdi"]
irqbalance_config_restore_file = "disable"

[crio.runtime.runtimes.runc]
runtime_path = "{d}/{runtime}"
runtime_type = "oci"
runtime_root = "{d}/runc"
monitor_path = "{conmon}"
monitor_cgroup = "pod"

[crio.image]
pause_image = "{pause_image}"
pause_command = "{pause_command}"
signature_policy = "{d}/{policy}"
signature_policy_dir = "{d}/policies"
namespaced_auth_dir = "{d}/auth"
big_files_temporary_dir = "{d}/tmp"

[crio.network]
network_dir = "{d}/{cni}"
plugin_dirs = ["/usr/lib/cni"]

[crio.nri]
enable_nri = true
nri_listen = "{d}/{nri_socket}"
nri_plugin_dir = "{d}/nri/plugins"
nri_plugin_config_dir = "{d}/nri/conf.d"

[crio.stats]
included_pod_metrics = ["all"]
"#,
        storage = Paths::STORAGE,
        storage_run = Paths::STORAGE_RUN,
        socket = Paths::SOCKET,
        namespaces = Paths::NAMESPACES,
        pinns = pinns.display(),
        runtime = Paths::RUNTIME,
        policy = Paths::POLICY,
        cni = Paths::CNI_CONF,
        nri_socket = Paths::NRI_SOCKET,
    )
}

/// registries.conf: no short names; `registry::MIRRORED` is the tests' registry address in the
/// daemon's own network namespace, over plain HTTP, and nowhere else.
fn registries_conf() -> String {
    let (prefix, location) = (crate::registry::MIRRORED, crate::registry::ADDRESS);
    format!("unqualified-search-registries = []\n[[registry]]\nprefix = \"{prefix}\"\nlocation = \"{location}\"\ninsecure = true\n")
}

/// A CRI-O daemon of this test's own (see the module's doc); dropping it stops and removes every
/// sandbox, then the daemon, whatever conmon and its containers left, and the namespaces, also
/// when the test fails.
pub struct CriO {
    namespaces: Option<Namespaces>,
    daemon: Option<Running>,
    cri: Option<Cri>,
    scratch: Scratch,
}

impl CriO {
    /// Starts a fresh daemon with this image as pause_image, after putting it and busybox in its
    /// storage with CRI-O's own image copier (copyimg, from the same module, so the same
    /// containers/storage) from the oci-archives the images command and the tests write.
    /// `oci_wrapper` is tools/oci_wrapper.rs (a test has it as `env!("CARGO_BIN_EXE_oci-wrapper")`).
    pub fn start(oci_wrapper: &Path) -> CriO {
        let images = [(list_archive(), list_name()), (busybox_archive(), BUSYBOX.to_string())];
        CriO::start_with(oci_wrapper, &list_name(), "/pause", &images)
    }

    /// The same with another infra image and command (`""`: the image's entrypoint), with
    /// `images` (oci-archive, name) put in its storage.
    pub fn start_with(oci_wrapper: &Path, pause_image: &str, pause_command: &str, images: &[(PathBuf, String)]) -> CriO {
        require("nsenter", "install util-linux (bash tests/run does)");
        require("conmon", "apt-get install conmon (bash tests/run does)");
        for plugin in ["bridge", "host-local", "loopback"] {
            let path = Path::new("/usr/lib/cni").join(plugin);
            assert!(path.is_file(), "{} is missing: apt-get install containernetworking-plugins (bash tests/run does)", path.display());
        }
        let scratch = Scratch::new("crio");
        let dir = scratch.path().to_path_buf();
        for sub in [Paths::CNI_CONF, "bin", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join(Paths::CONFIG), config(&dir, pause_image, pause_command)).unwrap();
        std::fs::write(dir.join(Paths::POLICY), r#"{"default": [{"type": "insecureAcceptAnything"}]}"#).unwrap();
        std::fs::write(dir.join(Paths::REGISTRIES), registries_conf()).unwrap();
        std::fs::write(dir.join(Paths::CNI_CONF).join("10-pause-tests.conflist"), cni_config(&dir)).unwrap();
        runtime_script(&dir.join(Paths::RUNTIME), oci_wrapper);
        let mut c = CriO { namespaces: None, daemon: None, cri: None, scratch };
        for (archive, name) in images {
            c.copy_image(archive, name);
        }
        // Fresh /run and /var/lib: whatever CRI-O, conmon, runc or the CNI plugins write to a
        // default place (/var/run/crio, /var/lib/cni) stays the daemon's own.
        c.namespaces = Some(Namespaces::new(&Root::Host, &dir, &["/run", "/var/lib"]));
        c.start_daemon();
        c
    }

    /// `copyimg --import-from oci-archive:ARCHIVE --image-name NAME` into the daemon's storage.
    fn copy_image(&self, archive: &Path, name: &str) {
        let d = self.dir();
        let mut cmd = std::process::Command::new(crate::go_tools::tool(MODULE, "copyimg"));
        cmd.arg("--root").arg(d.join(Paths::STORAGE)).arg("--runroot").arg(d.join(Paths::STORAGE_RUN));
        cmd.args(["--storage-driver", "vfs"]).arg("--signature-policy").arg(d.join(Paths::POLICY));
        cmd.args(["--image-name", name, "--import-from", &format!("oci-archive:{}", archive.display())]);
        let out = run_to_end(cmd);
        assert!(out.status.success(), "copyimg of {} as {name}: {}{}", archive.display(), text(&out.stderr), text(&out.stdout));
    }

    /// The host pid of the process holding the daemon's network and mount namespaces.
    pub fn holder_pid(&self) -> u32 {
        self.namespaces().pid()
    }

    /// Starts crio in the holder's namespaces and waits until its CRI answers.
    fn start_daemon(&mut self) {
        let mut cmd = self.namespaces().enter();
        cmd.arg(crate::go_tools::tool(MODULE, "crio"));
        cmd.arg("--config").arg(self.dir().join(Paths::CONFIG)).args(["--config-dir", ""]);
        cmd.env("CONTAINER_REGISTRIES_CONF", self.dir().join(Paths::REGISTRIES));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir().join(Paths::LOG)).unwrap();
        self.daemon = Some(Running::spawn_to(cmd, std::process::Stdio::null(), log));
        let cri =
            Cri::wait_for("crio", &self.socket(), &self.dir().join(Paths::LOG), Duration::from_secs(60), VERSION_PREFIX, "support/crio.rs");
        self.cri = Some(cri);
    }

    /// crio's own log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join(Paths::LOG)).unwrap_or_default()
    }

    /// The conmon processes serving this daemon's containers (their command line names its
    /// directory).
    pub fn conmons(&self) -> Vec<u32> {
        let dir = self.dir().to_string_lossy().into_owned();
        crate::procfs::pids_whose_cmdline(|c| c.starts_with("/usr/bin/conmon\0") && c.contains(&dir))
    }

    /// The namespaces pinns has pinned for this daemon's pods (files under its namespaces_dir, as
    /// the daemon's mount namespace sees it; none if the directory is missing).
    pub fn pinned_namespaces(&self) -> Vec<String> {
        let dir = format!("/proc/{}/root{}", self.holder_pid(), self.dir().join(Paths::NAMESPACES).display());
        files_under(Path::new(&dir))
    }

    /// The processes under this daemon's conmons whose command line is `/pause` (pause_command).
    pub fn pauses(&self) -> Vec<u32> {
        self.conmons()
            .into_iter()
            .flat_map(|m| crate::procfs::children_of(m).into_iter().map(|ch| ch.pid))
            .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default() == b"/pause\0")
            .collect()
    }
}

impl CriDaemon for CriO {
    fn dir(&self) -> &Path {
        self.scratch.path()
    }

    fn cri(&self) -> &Cri {
        self.cri.as_ref().expect("crio is not running")
    }

    fn socket(&self) -> PathBuf {
        self.dir().join(Paths::SOCKET)
    }

    fn namespaces(&self) -> &Namespaces {
        self.namespaces.as_ref().unwrap()
    }

    fn nri_socket(&self) -> Option<PathBuf> {
        Some(self.dir().join(Paths::NRI_SOCKET))
    }

    /// A cgroup of this daemon's own (the guard removes it), not CRI-O's default `/crio`, which
    /// every daemon would share and none could remove.
    fn cgroup_parent(&self) -> String {
        format!("/pause-tests-{}", self.dir().file_name().unwrap().to_string_lossy())
    }
}

impl Drop for CriO {
    fn drop(&mut self) {
        // Through the CRI first, as kubelet would (bounded: the daemon may be what failed).
        if let Some(cri) = self.cri.take() {
            cri.stop_and_remove_quietly(&cri.pod_ids_quietly());
        }
        // Whatever is left: each conmon's child (a container's init), then conmon, the daemon and
        // the holder (the namespaces go with it).
        crate::procfs::kill_with_children(&self.conmons());
        self.daemon.take();
        self.namespaces.take();
        // The pods' cgroup parent in every v1 hierarchy, deepest first (CRI-O removed the pods'
        // own cgroups; whatever a failed test left is removed here: only empty cgroups go).
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            remove_cgroup(&hierarchy.path().join(self.cgroup_parent().trim_start_matches('/')));
        }
    }
}

/// Removes the cgroup `dir` and the cgroups under it, deepest first (a missing one is no error).
fn remove_cgroup(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The runtime CRI-O runs: a script that runs runc 1.5 through tools/oci_wrapper.rs, which adapts
/// each container's config to this machine: it keeps `process.oomScoreAdj` where root without
/// CAP_SYS_RESOURCE may set it (CRI-O asks -998 for the infra container and has no
/// `restrict_oom_score_adj`; runc fails the start otherwise, "failed to update
/// /proc/self/oom_score_adj"), and drops hugepage limits (no hierarchy mounts the hugetlb
/// controller here; runc fails kubelet's containers otherwise, "cannot set hugetlb limit"). It is
/// named runc, as CRI-O names runtimes by their program.
fn runtime_script(path: &Path, wrapper: &Path) {
    let text =
        format!("#!/bin/sh\nexec '{}' oom-score-adj-floor,no-hugetlb-limits '{}' \"$@\"\n", wrapper.display(), RUNC_1_5.binary().display());
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// The files under `dir` (none if it is missing), by path.
fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}
