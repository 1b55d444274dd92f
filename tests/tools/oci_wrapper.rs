//! oci-wrapper EDITS RUNTIME ARGS...: the OCI runtime RUNTIME, except that `create` and `run` first
//! edit the bundle's config.json. EDITS is a comma-separated list of:
//!
//! - `seccomp=SECTION.json`: `linux.seccomp` becomes the JSON in SECTION.json. tests/seccomp.rs
//!   gives podman a one-line script that runs this as its `--runtime`, to record what the real
//!   runtime does under a filter with the very config podman writes (support/seccomp_notify.rs).
//! - `oom-score-adj-floor`: a `process.oomScoreAdj` below this process's own becomes its own. Root
//!   here lacks CAP_SYS_RESOURCE, so runc may not lower oom_score_adj, and CRI-O (unlike containerd,
//!   `restrict_oom_score_adj`) has no setting that keeps it from asking -998 for every infra
//!   container: support/crio.rs runs its runc through this.
//! - `no-hugetlb-limits`: `linux.resources.hugepageLimits` is removed. This machine's kernel has
//!   the hugetlb controller but no hierarchy mounts it; CRI-O takes /proc/cgroups' word for it and
//!   passes kubelet's hugepage limits on, which runc then cannot set ("cannot set hugetlb limit").
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// What is changed in config.json.
enum Edit {
    Seccomp(PathBuf),
    OomScoreAdjFloor,
    NoHugetlbLimits,
}

fn read(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| fail(&format!("{}: {e}", p.display()))))
        .unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())))
}

fn fail(message: &str) -> ! {
    eprintln!("oci-wrapper: {message}");
    std::process::exit(125);
}

impl Edit {
    fn parse(arg: &str) -> Option<Edit> {
        match arg.split_once('=') {
            Some(("seccomp", section)) => Some(Edit::Seccomp(section.into())),
            None if arg == "oom-score-adj-floor" => Some(Edit::OomScoreAdjFloor),
            None if arg == "no-hugetlb-limits" => Some(Edit::NoHugetlbLimits),
            _ => None,
        }
    }

    fn apply(&self, config: &mut serde_json::Value) {
        match self {
            Edit::Seccomp(section) => config["linux"]["seccomp"] = read(section),
            Edit::OomScoreAdjFloor => {
                let own =
                    std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_else(|e| fail(&format!("/proc/self/oom_score_adj: {e}")));
                let own: i64 = own.trim().parse().unwrap_or_else(|e| fail(&format!("/proc/self/oom_score_adj {own:?}: {e}")));
                if config["process"]["oomScoreAdj"].as_i64().is_some_and(|asked| asked < own) {
                    config["process"]["oomScoreAdj"] = own.into();
                }
            }
            Edit::NoHugetlbLimits => {
                if let Some(resources) = config["linux"]["resources"].as_object_mut() {
                    resources.remove("hugepageLimits");
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let edits: Option<Vec<Edit>> = args.first().map(|a| a.split(',').map(Edit::parse).collect()).unwrap_or(None);
    let (Some(edits), Some(runtime)) = (edits, args.get(1)) else {
        eprintln!("usage: oci-wrapper EDIT[,EDIT...] RUNTIME ARGS... (EDIT: seccomp=SECTION.json, oom-score-adj-floor, no-hugetlb-limits)");
        std::process::exit(64);
    };
    let rest = &args[2..];
    if rest.iter().any(|a| a == "create" || a == "run") {
        let bundle = rest
            .iter()
            .position(|a| a == "--bundle" || a == "-b")
            .and_then(|i| rest.get(i + 1).cloned())
            .or_else(|| rest.iter().find_map(|a| a.strip_prefix("--bundle=").map(String::from)))
            .unwrap_or_else(|| ".".into());
        let path = PathBuf::from(bundle).join("config.json");
        let mut config = read(&path);
        for edit in &edits {
            edit.apply(&mut config);
        }
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    }
    let err = std::process::Command::new(runtime).args(rest).exec();
    fail(&format!("cannot run {runtime}: {err}"));
}
