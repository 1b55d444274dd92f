//! The private network and mount namespaces a test's daemon (containerd, dockerd) runs in, held
//! open by a sleeping pause, with the root its node says: the host's, or the sid rootfs.
use crate::node::Root;
use crate::process::{Running, run_to_end, text};
use crate::runtime::node_root;
use std::path::Path;
use std::process::Command;

/// `nsenter` into the network namespace of process `pid` (the host's files otherwise), ready for
/// the program and its arguments: how every test reaches an address inside namespaces of its own.
pub fn in_net_of(pid: u32) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &pid.to_string(), "--net", "--"]);
    cmd
}

/// Run by `sh -c` in the fresh mount namespace: makes the node rootfs (ARG 2) its root, read-only
/// (bound at ARG 1), with fresh tmpfs on /run, /tmp, /var/tmp and /var/lib, the host's /dev and
/// /sys, a fresh /proc, and the daemon's directory (ARG 3) at the same path as on the host; then
/// pivot_root, so the daemon and everything it starts see only that.
const ENTER_ROOTFS: &str = r#"set -e
root=$1 node=$2 dir=$3
mkdir -p "$root"
mount --bind "$node" "$root"
mount -o remount,bind,ro "$root"
for d in run var/lib; do mount -t tmpfs -o mode=0755 pause-tests "$root/$d"; done
for d in tmp var/tmp; do mount -t tmpfs -o mode=1777 pause-tests "$root/$d"; done
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t proc proc "$root/proc"
mkdir -p "$root$dir" "$root/run/.old-root"
mount --bind "$dir" "$root$dir"
cd "$root"
pivot_root . run/.old-root
cd /
umount -l /run/.old-root
rmdir /run/.old-root
"#;

/// A network and a mount namespace of their own, with loopback up. Dropping it kills the holder,
/// and the namespaces go with the last process in them.
pub struct Namespaces {
    holder: Running,
}

impl Namespaces {
    /// With `Root::Host`, the host's files with a fresh tmpfs on each of `private_dirs` (so that
    /// whatever a daemon writes to its default places there stays its own and goes with the
    /// namespace); with `Root::SidRootfs`, the sid rootfs as root (ENTER_ROOTFS) with `dir` at the
    /// same path as on the host.
    pub fn new(root: &Root, dir: &Path, private_dirs: &[&str]) -> Namespaces {
        // The holder: pause itself, which sleeps and holds them until killed.
        let mut holder = Command::new("unshare");
        holder.args(["--net", "--mount", "--propagation", "private", "--"]).arg(crate::cargo::binary(&crate::arch::AMD64));
        let ns = Namespaces { holder: crate::pause::asleep(holder) };
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        match root {
            Root::Host => {
                for d in private_dirs {
                    assert!(Path::new(d).is_dir(), "{d} is missing on this machine: the tests mount a private tmpfs over it");
                    ns.ok(&["mount", "-t", "tmpfs", "-o", "mode=0755", "pause-tests", d]);
                }
            }
            Root::SidRootfs => {
                let (mount_point, node) = (dir.join("root"), node_root());
                let args = [mount_point.to_str().unwrap(), node.to_str().unwrap(), dir.to_str().unwrap()];
                ns.ok(&["sh", "-c", ENTER_ROOTFS, "enter-rootfs", args[0], args[1], args[2]]);
            }
        }
        ns
    }

    /// The host pid of the process holding them.
    pub fn pid(&self) -> u32 {
        self.holder.pid
    }

    /// `nsenter` into both namespaces, ready for the program and its arguments.
    pub fn enter(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid().to_string(), "--net", "--mount", "--"]);
        cmd
    }

    /// `nsenter` into the network namespace only (the host's files), ready for the program.
    pub fn enter_net(&self) -> Command {
        in_net_of(self.pid())
    }

    /// Runs a command in them; panics with its stderr if it fails. Returns stdout.
    pub fn ok(&self, argv: &[&str]) -> String {
        let mut cmd = self.enter();
        cmd.args(argv);
        let out = run_to_end(cmd);
        assert!(out.status.success(), "{argv:?} in the daemon's namespaces: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Whether a path exists in the mount namespace.
    pub fn path_exists(&self, path: &str) -> bool {
        Path::new(&format!("/proc/{}/root{path}", self.pid())).exists()
    }

    /// Mounts in the mount namespace whose line mentions `what` (a sandbox id, say).
    pub fn mounts_of(&self, what: &str) -> Vec<String> {
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.pid())).unwrap();
        info.lines().filter(|l| l.contains(what)).map(String::from).collect()
    }
}

/// A copy of the host file `path` in `dir`/files, where a daemon whose directory is `dir` (seen at
/// the same path in its mount namespace, whatever its root) and its programs can read it.
pub fn visible_copy(dir: &Path, path: &Path) -> std::path::PathBuf {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let copy = files.join(path.file_name().unwrap());
    std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    copy
}
