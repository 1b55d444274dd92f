//! bench: pause against the usual container inits, on this machine, in one run.
//!
//!   bash tests/tool bench            (as root; takes about 5 minutes)
//!   bash tests/tool bench --cri      (only the CRI section: pause and catatonit -P as sandbox)
//!   bash tests/tool bench --kubelet  (only a full kubelet node: 110 pods on each sandbox image)
//!
//! Peers (Debian packages): tini-static, catatonit -P, dumb-init. Each runs as PID 1 of its own
//! PID namespace (`unshare --pid --fork`), the way a pod's infra process runs; tini and dumb-init
//! need a child to supervise, so they get `sleep infinity` (not counted in their figures).
//! Figures are medians of repeated runs; "x best peer" is pause's figure over the best peer's.
use pause_tests::harness::{Harness, Setup, Storm};
use pause_tests::prelude::*;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tool {
    name: &'static str,
    binary: String,
    /// The command that runs it as a pod's PID 1.
    argv: Vec<String>,
    version: Vec<String>,
    /// Processes of its own in the namespace when idle (itself, plus a supervised child).
    idle_members: usize,
}

/// A peer init's path; fails naming the packages to install.
fn peer(name: &str) -> String {
    require(name, "apt-get install tini catatonit dumb-init").to_string_lossy().into_owned()
}

fn tools() -> Vec<Tool> {
    let pause = binary(&AMD64).to_string_lossy().into_owned();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        Tool { name: "pause (this)", binary: pause.clone(), argv: vec![pause.clone()], version: vec![pause, "-v".into()], idle_members: 1 },
        Tool {
            name: "catatonit -P",
            binary: peer("catatonit"),
            argv: s(&["catatonit", "-P"]),
            version: s(&["catatonit", "--version"]),
            idle_members: 1,
        },
        Tool {
            name: "tini-static",
            binary: peer("tini-static"),
            argv: s(&["tini-static", "--", "sleep", "infinity"]),
            version: s(&["tini-static", "--version"]),
            idle_members: 2,
        },
        Tool {
            name: "dumb-init",
            binary: peer("dumb-init"),
            argv: s(&["dumb-init", "sleep", "infinity"]),
            version: s(&["dumb-init", "--version"]),
            idle_members: 2,
        },
    ]
}

/// A tool running as PID 1 of a new PID namespace.
struct Pid1 {
    unshare: Running,
    init: u32,
}

impl Pid1 {
    fn start(argv: &[String]) -> Pid1 {
        let (unshare, init) = start_as_pid_1(argv);
        Pid1 { unshare, init }
    }
    /// Waits until the namespace holds `members` processes, all asleep, then a little longer.
    fn settle(&self, members: usize) {
        let ok = eventually(Duration::from_secs(120), || {
            let m = pid_namespace_members(self.init);
            m.len() == members && m.iter().all(|p| stat(*p).is_some_and(|s| s.state == State::Sleeping))
        });
        assert!(ok, "namespace of {} did not settle: {:?}", self.init, pid_namespace_members(self.init));
        std::thread::sleep(Duration::from_millis(50));
    }
    fn stop(self) {
        signal(self.init, SIGKILL);
        let _ = self.unshare.finish();
    }
}

/// A /proc/PID figure (kB, or a count) as a number: the first word of the field.
fn kb(pid: u32, file: &str, field: &str) -> f64 {
    let value = field_of(pid, file, field).unwrap_or_else(|| panic!("/proc/{pid}/{file} has no {field}"));
    value.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("/proc/{pid}/{file} {field}: {value}"))
}

/// CPU time on the CPU, in microseconds (/proc/PID/schedstat, nanosecond resolution).
fn cpu_us(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap();
    s.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1000.0
}

fn switches(pid: u32) -> f64 {
    kb(pid, "status", "voluntary_ctxt_switches") + kb(pid, "status", "nonvoluntary_ctxt_switches")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// CPU (µs) and voluntary context switches of the tool as PID 1 while `n` orphans are made and
/// die in its namespace (in bursts of 500), from its exec to the end of the storm.
fn storm(tool: &Tool, n: usize) -> (f64, f64) {
    let p = Pid1::start(&Harness::beside_current_exe().argv(&Setup::Storm(Storm::new(n, 500)), &tool.argv));
    // The storm is under way (more than the tool and the generator), then it has ended.
    assert!(eventually(Duration::from_secs(30), || pid_namespace_members(p.init).len() > tool.idle_members + 2), "no storm seen");
    p.settle(tool.idle_members);
    let figures = (cpu_us(p.init), kb(p.init, "status", "voluntary_ctxt_switches"));
    p.stop();
    figures
}

/// The sandbox image of the CRI section for catatonit: Debian's static catatonit run as
/// `catatonit -P` (podman's own pause process), as critest's comparison uses it.
fn catatonit_archive() -> (String, std::path::PathBuf) {
    (pause_tests::stand_ins::CATATONIT.to_string(), pause_tests::stand_ins::catatonit_archive())
}

/// The CRI section's metrics, with their units.
const METRICS: [(&str, &str); 5] = [
    ("RunPodSandbox to READY", "ms"),
    ("StopPodSandbox", "ms"),
    ("sandbox process RSS (VmRSS)", "KiB"),
    ("sandbox process PSS", "KiB"),
    ("sandbox cgroup memory (user + kernel)", "KiB"),
];

/// 20 sandboxes one after another on the daemon `c` (PID namespace POD, RuntimeDefault): the
/// medians of METRICS.
fn sandboxes(c: &impl pause_tests::pod::CriDaemon, image: &str) -> [f64; 5] {
    use k8s_cri::v1::NamespaceMode;
    use pause_tests::pod::*;
    let cri = c.cri();
    let (mut run, mut stop, mut rss, mut pss, mut charged) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..20 {
        let config = pod_config(c, &format!("bench-{i}"), NamespaceMode::Pod, runtime_default());
        let t = Instant::now();
        let id = cri.run_pod(config);
        assert!(cri.pod_ready(&id), "{image}: sandbox not READY");
        run.push(t.elapsed().as_secs_f64() * 1e3);
        let pid = cri.pause_pid(&id);
        assert!(
            eventually(Duration::from_secs(10), || stat(pid).is_some_and(|s| s.state == State::Sleeping)),
            "{image}: the sandbox process does not sleep"
        );
        std::thread::sleep(Duration::from_millis(50));
        rss.push(kb(pid, "status", "VmRSS"));
        pss.push(kb(pid, "smaps_rollup", "Pss"));
        charged.push(cgroup_memory_kib(pid));
        let t = Instant::now();
        cri.stop_pod(&id);
        stop.push(t.elapsed().as_secs_f64() * 1e3);
        cri.remove_pod(&id);
    }
    [median(run), median(stop), median(rss), median(pss), median(charged)]
}

/// The CRI section, on each node of the node table (containerd 1.6 with runc 1.1, 2.1 with runc
/// 1.3, 2.3 with runc 1.5, 2.4 with runc 1.4) and on CRI-O 1.36 with runc 1.5: each image as the
/// sandbox image of the same (throwaway) daemon, 20 sandboxes one after another: RunPodSandbox until it returns READY, StopPodSandbox, the sandbox
/// process's RSS and PSS once it sleeps, and the memory the kernel charges to the sandbox's own
/// cgroup (user and kernel memory of the cgroup that holds only that process). Medians.
fn cri_rows() -> Vec<(String, &'static str, Vec<f64>)> {
    use pause_tests::containerd::*;
    let ours = (pause_tests::image::list_name(), pause_tests::image::list_archive());
    let theirs = catatonit_archive();
    let mut rows = Vec::new();
    for node in pause_tests::node::NODES {
        let mut columns = Vec::new();
        for (image, archive) in [&ours, &theirs] {
            eprintln!("bench: CRI on {}, {image} as sandbox image (20 sandboxes)", node.name);
            let c = Containerd::start_with(node, image, std::slice::from_ref(archive));
            columns.push(sandboxes(&c, image));
        }
        for (i, (m, unit)) in METRICS.iter().enumerate() {
            rows.push((format!("{}: {m}", node.name), *unit, columns.iter().map(|c| c[i]).collect()));
        }
    }
    // CRI-O 1.36 (support/crio.rs): pods sharing their PID namespace (the only ones with an infra
    // process there); this image with CRI-O's default pause_command, catatonit with its entrypoint.
    let wrapper = std::env::current_exe().unwrap().with_file_name("oci-wrapper");
    let mut columns = Vec::new();
    for ((image, archive), command) in [(&ours, "/pause"), (&theirs, "")] {
        eprintln!("bench: CRI-O, {image} as pause_image (20 sandboxes)");
        let c = pause_tests::crio::CriO::start_with(&wrapper, image, command, &[(archive.clone(), image.clone())]);
        columns.push(sandboxes(&c, image));
    }
    for (i, (m, unit)) in METRICS.iter().enumerate() {
        rows.push((format!("cri-o-1.36: {m}"), *unit, columns.iter().map(|c| c[i]).collect()));
    }
    rows
}

/// The kubelet section: a full node (kubelet's default max-pods, 110 static pods of one busybox
/// `sleep` container each) on containerd 2.3 with runc 1.5, once with each image as the sandbox
/// image: the time from the manifests written to every pod Running and Ready, the memory charged
/// to the sandboxes' own cgroups (sum), and the node's memory at rest, the PSS of kubelet,
/// containerd, the shims and the sandbox processes, 10 s after the last pod got Ready.
fn kubelet_rows() -> Vec<(String, &'static str, Vec<f64>)> {
    use pause_tests::kubelet::{Company, Kubelet, NODE_NAME};
    const PODS: usize = 110;
    let ours = (pause_tests::image::list_name(), pause_tests::image::list_archive());
    let theirs = catatonit_archive();
    let mut columns = Vec::new();
    for (image, archive) in [&ours, &theirs] {
        eprintln!("bench: kubelet on containerd 2.3, {image} as sandbox image, {PODS} static pods");
        let archives = [archive.clone(), pause_tests::busybox::busybox_archive()];
        let k = Kubelet::start_on(Company::Alone, serde_json::json!({}), || {
            pause_tests::containerd::Containerd::start_with(&pause_tests::node::CONTAINERD_2_3, image, &archives)
        });
        let t = Instant::now();
        for i in 0..PODS {
            let manifest = format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: {}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"1000000\"]\n",
                pause_tests::busybox::BUSYBOX
            );
            k.write_manifest(&format!("p{i}.yaml"), &manifest);
        }
        let all_ready = eventually(Duration::from_secs(15 * 60), || {
            std::thread::sleep(Duration::from_secs(1));
            let pods = k.pods();
            pods.len() == PODS && pods.iter().all(|p| p.is_running_and_ready())
        });
        assert!(all_ready, "{image}: not all {PODS} pods Ready in 15 minutes");
        let ready = t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(10));
        let cri = k.runtime.cri();
        let sandboxes: Vec<u32> = cri
            .pods()
            .iter()
            .filter(|p| p.metadata.as_ref().is_some_and(|m| m.name.ends_with(NODE_NAME)))
            .map(|p| cri.pause_pid(&p.id))
            .collect();
        assert_eq!(sandboxes.len(), PODS);
        let charged: f64 = sandboxes.iter().map(|p| cgroup_memory_kib(*p)).sum();
        let mut node = vec![k.pid(), k.runtime.daemon_pid()];
        node.extend(k.runtime.shims());
        node.extend(&sandboxes);
        let at_rest: f64 = node.iter().map(|p| kb(*p, "smaps_rollup", "Pss")).sum();
        columns.push([ready, charged / 1024.0, at_rest / 1024.0]);
    }
    let metrics = [
        ("manifests written to all 110 pods Ready", "s"),
        ("110 sandboxes' cgroup memory, sum", "MiB"),
        ("node at rest: kubelet + containerd + shims + sandboxes, PSS", "MiB"),
    ];
    metrics
        .iter()
        .enumerate()
        .map(|(i, (m, unit))| (format!("kubelet on containerd-2.3: {m}"), *unit, columns.iter().map(|c| c[i]).collect()))
        .collect()
}

/// The memory the kernel charges to the cgroup of `pid` (which holds only it), in KiB: cgroup v1's
/// memory.usage_in_bytes (user and kernel memory) where the memory controller is v1, as on the CI
/// machine, else cgroup v2's memory.current.
fn cgroup_memory_kib(pid: u32) -> f64 {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = cgroups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers.split(',').any(|c| c == "memory").then(|| format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"))
    });
    let file = v1.unwrap_or_else(|| {
        let path = cgroups.lines().find_map(|l| l.strip_prefix("0::")).expect("no cgroup v2 line");
        format!("/sys/fs/cgroup{path}/memory.current")
    });
    let bytes: f64 = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}")).trim().parse().unwrap();
    bytes / 1024.0
}

/// Where and when a table was measured, printed above it (timings are benchmarks of one machine
/// at one commit): the CPUs, the OS and kernel, the commit (and whether the tree had changes),
/// the date (UTC).
fn print_measured_on() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']).to_string());
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os = os_release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or("unknown OS").trim_matches('"').to_string();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let commit = pause_tests::report::git_commit().map(|c| c[..7.min(c.len())].to_string()).unwrap_or_else(|| "no git checkout".into());
    let dirty = std::process::Command::new("git")
        .arg("-C")
        .arg(pause_tests::cargo::repo_root())
        .args(["status", "--porcelain"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| text(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "Measured on {cpus} CPUs ({}), {os}, kernel {kernel}; commit {commit}{}; {date}:\n",
        model.as_deref().unwrap_or("unknown model"),
        if dirty { " with uncommitted changes" } else { "" }
    );
}

/// Prints rows as a Markdown table with one column per name and pause's figure over the best peer's.
fn print_table(names: &[&str], rows: &[(String, &str, Vec<f64>)]) {
    print!("| metric | unit |");
    for n in names {
        print!(" {n} |");
    }
    println!(" pause x best peer |");
    println!("|---|---|{}---|", "---|".repeat(names.len()));
    for (metric, unit, values) in rows {
        print!("| {metric} | {unit} |");
        for v in values {
            if *v >= 100.0 || *v == v.round() { print!(" {:.0} |", v) } else { print!(" {:.2} |", v) }
        }
        let best = values[1..].iter().cloned().fold(f64::INFINITY, f64::min);
        if best > 0.0 {
            println!(" {:.3} |", values[0] / best)
        } else {
            println!(" {} |", if values[0] == 0.0 { "= (both 0)" } else { "n/a" })
        }
    }
}

fn main() {
    assert!(is_root(), "run the benchmark as root (unshare --pid)");
    let cri_names = ["pause (this)", "catatonit -P"];
    if std::env::args().nth(1).as_deref() == Some("--cri") {
        let rows = cri_rows();
        print_measured_on();
        print_table(&cri_names, &rows);
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("--kubelet") {
        let rows = kubelet_rows();
        print_measured_on();
        print_table(&cri_names, &rows);
        return;
    }
    let tools = tools();
    let mut rows: Vec<(String, &str, Vec<f64>)> = Vec::new(); // metric, unit, value per tool

    rows.push(("binary size".into(), "bytes", tools.iter().map(|t| std::fs::metadata(&t.binary).unwrap().len() as f64).collect()));

    eprintln!("bench: -v round trip (200 runs each)");
    rows.push((
        "start to exit, `-v` / `--version`".into(),
        "µs",
        tools
            .iter()
            .map(|t| {
                median(
                    (0..200)
                        .map(|_| {
                            let s = Instant::now();
                            let out = Command::new(&t.version[0]).args(&t.version[1..]).output().unwrap();
                            assert!(out.status.success());
                            s.elapsed().as_secs_f64() * 1e6
                        })
                        .collect(),
                )
            })
            .collect(),
    ));

    eprintln!("bench: idle RSS and PSS, and context switches over 10 s idle (3 windows, all tools side by side)");
    let (mut rss, mut pss, mut idle) = (vec![vec![]; tools.len()], vec![vec![]; tools.len()], vec![vec![]; tools.len()]);
    for _ in 0..3 {
        let running: Vec<Pid1> = tools.iter().map(|t| Pid1::start(&t.argv)).collect();
        for (t, p) in tools.iter().zip(&running) {
            p.settle(t.idle_members);
        }
        let before: Vec<f64> = running.iter().map(|p| switches(p.init)).collect();
        std::thread::sleep(Duration::from_secs(10));
        for (i, p) in running.iter().enumerate() {
            idle[i].push(switches(p.init) - before[i]);
            rss[i].push(kb(p.init, "status", "VmRSS"));
            pss[i].push(kb(p.init, "smaps_rollup", "Pss"));
        }
        running.into_iter().for_each(Pid1::stop);
    }
    rows.push(("idle RSS (VmRSS)".into(), "KiB", rss.into_iter().map(median).collect()));
    rows.push(("idle PSS".into(), "KiB", pss.into_iter().map(median).collect()));
    rows.push(("context switches, 10 s idle".into(), "", idle.into_iter().map(median).collect()));

    for (n, runs) in [(10_000, 3), (100_000, 3)] {
        eprintln!("bench: {n} orphans exiting, {runs} runs per tool");
        let results: Vec<Vec<(f64, f64)>> = tools.iter().map(|t| (0..runs).map(|_| storm(t, n)).collect()).collect();
        rows.push((
            format!("CPU time as PID 1, {n} orphans exit"),
            "µs",
            results.iter().map(|r| median(r.iter().map(|x| x.0).collect())).collect(),
        ));
        rows.push((
            format!("voluntary context switches, {n} orphans"),
            "",
            results.iter().map(|r| median(r.iter().map(|x| x.1).collect())).collect(),
        ));
    }

    eprintln!("bench: memory of 110 idle instances (a node's default pod limit)");
    let mut mem = Vec::new();
    for t in &tools {
        let all: Vec<Pid1> = (0..110).map(|_| Pid1::start(&t.argv)).collect();
        for p in &all {
            p.settle(t.idle_members);
        }
        mem.push(all.iter().map(|p| kb(p.init, "smaps_rollup", "Pss")).sum::<f64>());
        all.into_iter().for_each(Pid1::stop);
    }
    rows.push(("110 idle instances, total PSS".into(), "KiB", mem));

    let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    let cri = cri_rows();
    print_measured_on();
    print_table(&names, &rows);
    println!();
    print_table(&cri_names, &cri);
}
