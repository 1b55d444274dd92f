//! Starting, waiting for and signalling processes: the std::process pieces the tests lack.
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Signal numbers of this (x86_64 Linux) host, from linux-raw-sys: the one place tests get them.
macro_rules! signals {
    ($($name:ident),*) => { $(pub const $name: i32 = linux_raw_sys::general::$name as i32;)* };
}
signals!(SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGPIPE, SIGTERM, SIGCHLD, SIGCONT, SIGSTOP, SIGWINCH, SIGSYS);

/// Lossy UTF-8 of a process's output.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The last `n` lines of `text` (all of them if it has fewer).
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The full path of `program` as PATH finds it, or None.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join(program)).find(|p| p.is_file())
}

/// The full path of `program`; fails (never skips) with `install` as the remedy when it is missing.
pub fn require(program: &str, install: &str) -> PathBuf {
    which(program).unwrap_or_else(|| panic!("{program} is not installed: {install}"))
}

/// Makes `cmd`'s child close `fds` just before it execs.
pub fn close_in_child(cmd: &mut Command, fds: &'static [i32]) {
    // SAFETY: close(2) is async-signal-safe, as pre_exec requires; the fds are the child's own
    // copies, which nothing in the child uses between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in fds {
                rustix::io::close(fd);
            }
            Ok(())
        })
    };
}

/// Makes `cmd`'s child get SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so a
/// daemon or a sleeping pause a test started dies with the test process, also on Ctrl-C. (It
/// survives exec; a process that forks itself away, as containerd's shims do, is not covered.)
pub fn dies_with_parent(cmd: &mut Command) {
    // SAFETY: prctl(2) is async-signal-safe, as pre_exec requires, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)).map_err(std::io::Error::from))
    };
}

/// Runs a command that must end by itself within 30 s; returns its output.
pub fn run_to_end(cmd: Command) -> Output {
    run_within(cmd, Duration::from_secs(30))
}

/// Runs a command that must end by itself within `limit`; returns its output (fails the test if
/// it cannot start or does not end in time).
pub fn run_within(cmd: Command, limit: Duration) -> Output {
    try_run_within(cmd, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// The same, for guards (a panic while unwinding aborts the test binary): an error instead, the
/// command killed if it did not end in time.
pub fn try_run_within(mut cmd: Command, limit: Duration) -> std::io::Result<Output> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {cmd:?}: {e}")))?;
    try_wait_output(child, limit)
}

/// Waits up to `limit` for `child` to end (killing it and failing if it does not); returns its output.
pub fn wait_output(child: Child, limit: Duration) -> Output {
    try_wait_output(child, limit).unwrap_or_else(|e| panic!("{e}"))
}

/// The same with an error instead of a failure (the child killed) if it does not end in time.
pub fn try_wait_output(mut child: Child, limit: Duration) -> std::io::Result<Output> {
    // Drained while it runs: a child that writes more than a pipe holds would otherwise block
    // on the write and never end.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let r = match pipe {
                Some(mut p) => p.read_to_end(&mut all).map(|_| all),
                None => Ok(all),
            };
            let _ = tx.send(r);
        });
        rx
    }
    let start = Instant::now();
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let Some(status) = wait_timeout(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("process {} did not end within {limit:?}", child.id())));
    };
    // A process it started may still hold the pipes: bounded by what is left of `limit`.
    let collect = |rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>| {
        rx.recv_timeout(limit.saturating_sub(start.elapsed()).max(Duration::from_secs(1))).unwrap_or_else(|_| {
            Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("process {} ended, but its output stayed open", child.id())))
        })
    };
    Ok(Output { status, stdout: collect(stdout)?, stderr: collect(stderr)? })
}

/// The exit status of `child` once it ends, or None if it is still running after `limit`.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => {}
            // Not waitable (never in these tests): as if it had not ended, for the caller to kill.
            Err(_) => return None,
        }
        if start.elapsed() > limit {
            return None;
        }
        sleep(Duration::from_millis(5));
    }
}

/// Polls `cond` every 5 ms for up to `limit`; true if it held.
#[must_use = "a condition that never held is a failure: assert on it"]
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        sleep(Duration::from_millis(5));
    }
}

/// kill(2); fails the test if the kernel refuses.
pub fn signal(pid: u32, sig: i32) {
    try_signal(pid, sig).unwrap_or_else(|e| panic!("kill({pid}, {sig}): {e}"))
}

/// kill(2), for guards: the kernel's error (the process gone, say) instead of a failure.
pub fn try_signal(pid: u32, sig: i32) -> std::io::Result<()> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let target = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw).ok_or_else(|| invalid(format!("pid {pid}")))?;
    let signal = rustix::process::Signal::from_named_raw(sig).ok_or_else(|| invalid(format!("signal {sig}")))?;
    rustix::process::kill_process(target, signal).map_err(std::io::Error::from)
}

/// A running process started with piped stdout/stderr; killed and waited for when dropped, so a
/// failing test leaves nothing behind.
pub struct Running {
    pub child: Option<Child>,
    pub pid: u32,
}

impl Running {
    /// Starts `cmd` with stdout and stderr piped; it dies with the test (`dies_with_parent`).
    pub fn spawn(cmd: Command) -> Running {
        Running::spawn_to(cmd, Stdio::piped(), Stdio::piped())
    }
    /// The same with stdout and stderr going where given (a daemon's log file, say).
    pub fn spawn_to(mut cmd: Command, stdout: impl Into<Stdio>, stderr: impl Into<Stdio>) -> Running {
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        dies_with_parent(&mut cmd);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let pid = child.id();
        Running { child: Some(child), pid }
    }
    pub fn signal(&self, sig: i32) {
        signal(self.pid, sig);
    }
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }
    /// Waits (up to 30 s) for the process to end and returns what it printed.
    pub fn finish(self) -> Output {
        self.try_finish().unwrap_or_else(|e| panic!("{e}"))
    }
    /// The same, for guards: an error (the process killed) if it does not end in time.
    pub fn try_finish(mut self) -> std::io::Result<Output> {
        try_wait_output(self.child.take().unwrap(), Duration::from_secs(30))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `f` while three threads keep the CPUs busy (what happens rarely in a runtime's Go code,
/// a signal in the wrong moment or its scheduler's work, shows up under load). One such window at
/// a time in a test process: tests that run in parallel (one per runtime or node) would otherwise
/// stack their busy threads (four runtimes: twelve spinning threads on two cores), and podman then
/// gives up on the container ("container creation timeout"), which is no finding about the runtime.
pub fn under_load<T>(f: impl FnOnce() -> T) -> T {
    use std::sync::atomic::{AtomicBool, Ordering};
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed inside its window poisons the lock; the next one may still run.
    let _window = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    /// Stops the busy threads when dropped, also if `f` panics (else the scope never ends).
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let busy = AtomicBool::new(true);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while busy.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let _stop = Stop(&busy);
        f()
    })
}
