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

mod bench_nodes;
use bench_nodes::{cri_rows, kubelet_rows};

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
pub(crate) fn kb(pid: u32, file: &str, field: &str) -> f64 {
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

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
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
