//! Running pause itself: its command line for an arch, until it sleeps, stopped by a signal, or as PID 1.
use crate::arch::Arch;
use crate::cargo::binary;
use crate::expected::SHUTDOWN_TERM;
use crate::process::{Running, SIGCHLD, SIGTERM, eventually, require, signal, text};
use crate::procfs::{State, children_of, is_root, signal_mask, stat};
use std::process::{Command, Output};
use std::time::Duration;

/// The command that runs pause for `arch` on this machine: the binary itself, or qemu-user with it.
/// Fails (never skips) when the emulator is missing.
pub fn pause_argv(arch: &Arch) -> Vec<String> {
    let bin = binary(arch).to_string_lossy().into_owned();
    match &arch.qemu {
        None => vec![bin],
        Some(q) => {
            require(q.binary, "run the README's test command (bash tests/run), which installs qemu-user-static");
            vec![q.binary.to_string(), bin]
        }
    }
}

pub fn pause_cmd(arch: &Arch) -> Command {
    let argv = pause_argv(arch);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// The same, started with the default action for SIGHUP, SIGUSR1 and SIGPIPE whatever this test
/// process does with them (an ignored signal stays ignored across exec, and a suite started under
/// `nohup` ignores SIGHUP): through coreutils' `env --default-signal`, which then execs pause in
/// its own process.
pub fn pause_cmd_with_default_signals(arch: &Arch) -> Command {
    use crate::process::{SIGHUP, SIGPIPE, SIGUSR1};
    let mut cmd = Command::new(crate::process::require("env", "install coreutils"));
    cmd.arg(format!("--default-signal={SIGHUP},{SIGUSR1},{SIGPIPE}")).args(pause_argv(arch));
    cmd
}

/// Starts `cmd` (pause, or something that execs it) and waits until pause sleeps.
pub fn asleep(cmd: Command) -> Running {
    let p = Running::spawn(cmd);
    wait_until_asleep(p.pid);
    p
}

/// Starts `cmd`, waits until pause sleeps, sends `sig`, and returns what it printed.
pub fn stopped_by(cmd: Command, sig: i32) -> Output {
    let p = asleep(cmd);
    p.signal(sig);
    p.finish()
}

/// pause has set itself up (SIGCHLD ignored, which it does after installing the SIGINT and SIGTERM
/// handlers and before its zombie sweep) and sleeps in its final wait. /proc/PID/syscall names the
/// host syscall it sleeps in: pause(2) natively; under qemu-user the emulator's own ppoll(2) or
/// rt_sigsuspend(2). Waits up to 20 s (qemu start-up is slow on a loaded machine).
pub fn wait_until_asleep(pid: u32) {
    use syscalls::x86_64::Sysno;
    const HOST_SLEEPS: [Sysno; 3] = [Sysno::pause, Sysno::ppoll, Sysno::rt_sigsuspend];
    let ok = eventually(Duration::from_secs(20), || {
        let ignoring_chld = signal_mask(pid, "SigIgn").is_some_and(|m| m & (1 << (SIGCHLD - 1)) != 0);
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let nr = syscall.split_whitespace().next().and_then(|n| n.parse::<i32>().ok());
        ignoring_chld
            && nr.is_some_and(|n| HOST_SLEEPS.iter().any(|s| s.id() == n))
            && stat(pid).is_some_and(|s| s.state == State::Sleeping)
    });
    assert!(ok, "pause (pid {pid}) did not reach its sleep within 20 s");
}

/// Starts `unshare --pid --fork CMD...` and returns it with the host pid of its child, which is
/// PID 1 of the new PID namespace (it may still be exec'ing CMD).
pub fn start_as_pid_1<S: AsRef<std::ffi::OsStr>>(cmd: &[S]) -> (Running, u32) {
    assert!(is_root(), "the PID-namespace tests need root (unshare --pid): run them as root");
    let mut unshare = Command::new("unshare");
    unshare.args(["--pid", "--fork", "--kill-child"]).args(cmd);
    let u = Running::spawn(unshare);
    let mut init = 0;
    let found = eventually(Duration::from_secs(10), || {
        init = children_of(u.pid).first().map(|c| c.pid).unwrap_or(0);
        init != 0
    });
    assert!(found, "unshare started no child");
    (u, init)
}

/// `unshare --pid --fork CMD...` (as root), once the namespace's PID 1 runs pause and sleeps.
pub fn pause_as_pid_1<S: AsRef<std::ffi::OsStr>>(cmd: &[S]) -> (Running, u32) {
    let (u, init) = start_as_pid_1(cmd);
    wait_until_asleep(init);
    (u, init)
}

/// Sends SIGTERM to `init` (pause as PID 1 under `u`) and checks the clean exit: status 0 and
/// exactly the shutdown line (no warning as PID 1).
pub fn stop_pid_1(u: Running, init: u32) {
    signal(init, SIGTERM);
    let out = u.finish();
    assert_eq!(out.status.code(), Some(0), "{:?} {}", out.status, text(&out.stderr));
    assert_eq!(text(&out.stderr), SHUTDOWN_TERM, "no warning as PID 1, then the shutdown line");
}

/// The line for PID 1 in `ps -o pid,...` output (a container's view of its PID namespace).
pub fn pid_1_line(ps: &str) -> &str {
    ps.lines().find(|l| l.split_whitespace().next() == Some("1")).unwrap_or_else(|| panic!("no PID 1 in:\n{ps}"))
}
