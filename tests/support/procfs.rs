//! What /proc says about a process: state, parent, CPU time, status fields, children, PID namespace.

/// A process's state, the third field of /proc/PID/stat (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// R
    Running,
    /// S: asleep, waiting for an event (pause in its final wait).
    Sleeping,
    /// D
    DiskSleep,
    /// T: stopped by a signal.
    Stopped,
    /// t
    TracingStop,
    /// Z: exited, not yet reaped by its parent.
    Zombie,
    /// X
    Dead,
    /// I: an idle kernel thread.
    Idle,
    /// Anything else the kernel may report.
    Other(char),
}

impl State {
    pub fn from_char(c: char) -> State {
        match c {
            'R' => State::Running,
            'S' => State::Sleeping,
            'D' => State::DiskSleep,
            'T' => State::Stopped,
            't' => State::TracingStop,
            'Z' => State::Zombie,
            'X' => State::Dead,
            'I' => State::Idle,
            other => State::Other(other),
        }
    }
}

/// A child process and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    pub pid: u32,
    pub state: State,
}

/// One line of /proc/PID/stat, parsed past the command name.
pub struct Stat {
    pub state: State,
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: State::from_char(rest[0].chars().next()?),
        ppid: rest[1].parse().ok()?,
        utime: rest[11].parse().ok()?,
        stime: rest[12].parse().ok()?,
    })
}

/// Clock ticks a process may be charged for work that is not its own (the tick it is sampled in
/// can land on it while the kernel does the bookkeeping of its children).
pub const TICKS_SLACK: u64 = 1;

/// Voluntary context switches a process may show without having been woken by what a test does
/// (its exit from the stopped sleep syscall under qemu, a migration between CPUs).
pub const WAKE_UPS_SLACK: u64 = 2;

/// The children of `pid` in `state`.
pub fn children_in(pid: u32, state: State) -> Vec<u32> {
    children_of(pid).into_iter().filter(|c| c.state == state).map(|c| c.pid).collect()
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat(pid).map(|s| s.utime + s.stime).unwrap_or_else(|| panic!("process {pid} is gone"))
}

/// A field of /proc/PID/status, e.g. "SigIgn".
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    field_of(pid, "status", field)
}

/// NSpid of /proc/PID/status: the pid in each PID namespace, outermost first.
pub fn nspids(pid: u32) -> Vec<u32> {
    status_field(pid, "NSpid").unwrap_or_else(|| panic!("no NSpid for {pid}")).split_whitespace().map(|p| p.parse().unwrap()).collect()
}

/// A `Name:   value` field of a /proc/PID file (status, smaps_rollup), trimmed; None once the
/// process is gone or if the file has no such field.
pub fn field_of(pid: u32, file: &str, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
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

/// The processes whose command line (arguments NUL-separated, as /proc/PID/cmdline has it)
/// `matches`.
pub fn pids_whose_cmdline(matches: impl Fn(&str) -> bool) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|p| matches(&crate::process::text(&std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default())))
        .collect()
}

/// SIGKILLs each of `pids`' children (the containers' inits under a shim or conmon), then the
/// process itself. Either may have ended by itself meanwhile (ESRCH): nothing left to do then.
pub fn kill_with_children(pids: &[u32]) {
    for &pid in pids {
        for child in children_of(pid) {
            let _ = crate::process::try_signal(child.pid, crate::process::SIGKILL);
        }
        let _ = crate::process::try_signal(pid, crate::process::SIGKILL);
    }
}

/// Every process's pid, as /proc lists them now (some may be gone by the time they are read).
pub fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok()).collect()
}

/// The processes whose parent is `pid`, with their states, from every /proc/N/stat.
pub fn children_of(pid: u32) -> Vec<Child> {
    pids().into_iter().filter_map(|n| stat(n).filter(|s| s.ppid == pid).map(|s| Child { pid: n, state: s.state })).collect()
}

/// How many children of `pid` are zombies.
pub fn zombies_of(pid: u32) -> usize {
    children_of(pid).iter().filter(|c| c.state == State::Zombie).count()
}

/// Every process (host pids) in the PID namespace of `pid`, itself included, zombies included.
pub fn pid_namespace_members(pid: u32) -> Vec<u32> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else { return Vec::new() };
    pids().into_iter().filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&ns)).collect()
}

/// Whether the tests run as root (the PID-namespace tests and the benchmark need it).
pub fn is_root() -> bool {
    status_field(std::process::id(), "Uid").is_some_and(|u| u.split_whitespace().next() == Some("0"))
}

/// The TCP ports listening in the network namespace of `pid` (/proc/PID/net/tcp and tcp6: state
/// 0A is LISTEN; the local address's port is the hex after the colon).
pub fn listening_tcp_ports(pid: u32) -> Vec<u16> {
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else { continue };
        for line in t.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 3
                && fields[3] == "0A"
                && let Some(port) = fields[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}
