//! What /proc says about a process: state, parent, CPU time, status fields, children, PID namespace.

/// One line of /proc/PID/stat, parsed past the command name.
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: rest[0].chars().next()?,
        ppid: rest[1].parse().ok()?,
        utime: rest[11].parse().ok()?,
        stime: rest[12].parse().ok()?,
    })
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat(pid).map(|s| s.utime + s.stime).unwrap_or_else(|| panic!("process {pid} is gone"))
}

/// A field of /proc/PID/status, e.g. "SigIgn".
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// A signal mask field of /proc/PID/status (SigIgn, SigCgt, SigBlk) as a bit set: bit N-1 is signal N.
/// None once the process is gone.
pub fn signal_mask(pid: u32, field: &str) -> Option<u64> {
    status_field(pid, field).and_then(|v| u64::from_str_radix(&v, 16).ok())
}

/// How often the process gave up the CPU by itself (slept), from /proc/PID/status.
pub fn voluntary_switches(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches").unwrap().parse().unwrap()
}

/// The pids whose parent is `pid`, with their states, from every /proc/N/stat.
pub fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some(s) = stat(n) {
            if s.ppid == pid {
                out.push((n, s.state));
            }
        }
    }
    out
}

/// How many children of `pid` are zombies.
pub fn zombies_of(pid: u32) -> usize {
    children_of(pid).iter().filter(|(_, st)| *st == 'Z').count()
}

/// Every process (host pids) in the PID namespace of `pid`, itself included, zombies included.
pub fn pid_namespace_members(pid: u32) -> Vec<u32> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else { return Vec::new() };
    std::fs::read_dir("/proc").unwrap().flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&ns))
        .collect()
}

/// Whether the tests run as root (the PID-namespace tests and the benchmark need it).
pub fn is_root() -> bool {
    status_field(std::process::id(), "Uid").is_some_and(|u| u.split_whitespace().next() == Some("0"))
}
