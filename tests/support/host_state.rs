//! What a kubelet changes on the host whatever its namespaces, and the guards that put it back:
//! global sysctls, and the cgroups under its cgroupRoot (kubelet never removes them).
use crate::scratch::checkout_key;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The sysctls kubelet sets at every start (pkg/kubelet/cm, `setupKernelTunables`): none of them
/// is per network namespace, so a test's kubelet writes the host's.
pub const KUBELET_SYSCTLS: [&str; 6] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];

fn sysctl_path(name: &str) -> PathBuf {
    Path::new("/proc/sys").join(name)
}

/// Reads one sysctl (`kernel/panic`), trimmed.
pub fn read_sysctl(name: &str) -> String {
    let path = sysctl_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim().to_string()
}

/// KUBELET_SYSCTLS, each with its value now.
pub fn kubelet_sysctls() -> Vec<(&'static str, String)> {
    KUBELET_SYSCTLS.iter().map(|n| (*n, read_sysctl(n))).collect()
}

/// The values of KUBELET_SYSCTLS before the first of this test process's running kubelets
/// started, and how many run now: a second kubelet's own record would be the first one's writes.
static RECORDED: std::sync::Mutex<(usize, Vec<(&'static str, String)>)> = std::sync::Mutex::new((0, Vec::new()));

/// One kubelet's share of the record: made before it starts; when the last share is dropped (its
/// kubelet stopped), the recorded values are written back, also when the test fails.
pub struct Sysctls(());

impl Sysctls {
    pub fn record() -> Sysctls {
        let mut r = RECORDED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if r.0 == 0 {
            r.1 = kubelet_sysctls();
        }
        r.0 += 1;
        Sysctls(())
    }
}

impl Drop for Sysctls {
    fn drop(&mut self) {
        let mut r = RECORDED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        r.0 -= 1;
        if r.0 == 0 {
            for (name, value) in &r.1 {
                if let Err(e) = std::fs::write(sysctl_path(name), value) {
                    eprintln!("could not restore {name} to {value}: {e}");
                }
            }
        }
    }
}

/// The cgroup hierarchies mounted under /sys/fs/cgroup: the v1 ones (controllers and the named
/// systemd hierarchy), where a cgroupfs kubelet needs its cgroupRoot, and the hybrid layout's
/// cgroup v2 `unified` (no controllers), where kubelet makes its kubepods cgroups too.
pub fn hierarchies() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .expect("/sys/fs/cgroup")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").is_file() && !p.is_symlink())
        .collect();
    found.sort();
    assert!(found.len() > 1, "no cgroup v1 hierarchies under /sys/fs/cgroup: the kubelet tests are written for this machine's cgroup v1");
    found
}

/// A cgroup of the test's own in every hierarchy (`/pause-tests-<key>-<pid>-<n>`), for kubelet's
/// `cgroupRoot`: made before kubelet starts (kubelet does not make it), and removed with everything
/// kubelet and the runtime made under it when dropped.
pub struct CgroupRoot {
    pub name: String,
}

impl CgroupRoot {
    pub fn make() -> CgroupRoot {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("/pause-tests-{}-{}-{}", checkout_key(), std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let root = CgroupRoot { name };
        for h in hierarchies() {
            let dir = root.dir_in(&h);
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            // A new cpuset cgroup has no CPUs or memory nodes: tasks could not join it.
            if h.join("cpuset.cpus").is_file() {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    std::fs::write(dir.join(file), std::fs::read(h.join(file)).unwrap()).unwrap();
                }
            }
        }
        root
    }

    fn dir_in(&self, hierarchy: &Path) -> PathBuf {
        hierarchy.join(self.name.trim_start_matches('/'))
    }

    /// The cgroups under it (itself included), in every hierarchy.
    pub fn cgroups(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            if dir.is_dir() {
                out.push(dir.to_path_buf());
                for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(&e.path(), out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for h in hierarchies() {
            walk(&self.dir_in(&h), &mut out);
        }
        out
    }
}

impl Drop for CgroupRoot {
    fn drop(&mut self) {
        // Deepest first; a cgroup whose last process is still exiting refuses rmdir (EBUSY) for a moment.
        let removed = crate::process::eventually(Duration::from_secs(10), || {
            let mut all = self.cgroups();
            all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
            for dir in &all {
                let _ = std::fs::remove_dir(dir);
            }
            self.cgroups().is_empty()
        });
        if !removed {
            eprintln!("cgroups left under {}: {:?}", self.name, self.cgroups());
        }
    }
}
