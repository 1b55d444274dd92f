//! Process set-ups the tests need and std does not give (support/harness.rs has the protocol,
//! `Setup` and `SeccompPlan`): each ends by exec'ing a command, so what it set up (children,
//! zombies, an empty argv) belongs to that command afterwards.
//!
//!   harness SETUP... -- CMD...
//!
//! With PAUSE_HARNESS_SECCOMP set, the last step before the exec installs that seccomp filter.
use pause_tests::harness::{STORM_MAX_PROCESSES, SeccompPlan, Setup, Storm};
use pause_tests::process::which;
use rustix::process::{Gid, Pid, Resource, Rlimit, Uid, WaitId, WaitIdOptions, WaitOptions};
use std::ffi::{CString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::{env, ptr};

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let sep = args.iter().position(|a| a == "--").expect("usage: harness SETUP... -- CMD...");
    let (setup, cmd) = (&args[..sep], &args[sep + 1..]);
    let setup = Setup::parse(setup).unwrap_or_else(|e| panic!("harness: {e}"));
    match setup {
        Setup::Exec => {}
        Setup::Children(n) => {
            fork_children(n, Child::ExitsAtOnce);
        }
        Setup::WaitingChildren(n) => {
            fork_children(n, Child::WaitsForASignal);
        }
        Setup::Zombies(n) => {
            let pids = fork_children(n, Child::ExitsAtOnce);
            wait_until_zombies(&pids);
        }
        Setup::Orphans(n) => {
            if try_fork().unwrap_or_else(|e| panic!("fork failed: {e}")) == 0 {
                let dead = fork_children(n, Child::ExitsAtOnce);
                wait_until_zombies(&dead);
                fork_children(n, Child::WaitsForASignal);
                exit_now(0)
            }
        }
        Setup::Storm(storm) => {
            if try_fork().unwrap_or_else(|e| panic!("fork failed: {e}")) == 0 {
                generate(&storm);
            }
        }
        Setup::Argc0 => execve(std::path::Path::new(&cmd[0]), &[], || {}),
    }
    exec(cmd);
}

/// The storm generator (a forked child): bursts of orphans, then exit.
fn generate(storm: &Storm) -> ! {
    limit_storm(storm.uid);
    for made in (0..storm.total).step_by(storm.burst.max(1)) {
        let leader = try_fork().unwrap_or_else(|e| storm_stops(made, e));
        if leader == 0 {
            for _ in 0..storm.burst {
                match try_fork() {
                    Ok(0) => exit_now(0), // the orphan-to-be ends at once
                    Ok(_) => {}
                    Err(_) => exit_now(1), // the leader ends; exit code 1 tells the generator
                }
            }
            exit_now(0) // the leader ends at once; its children are orphaned
        }
        // Waits for (and reaps) the generator's own child, the leader.
        let status = rustix::process::waitpid(Pid::from_raw(leader), WaitOptions::empty());
        if !matches!(status, Ok(Some((_, s))) if s.as_raw() == 0) {
            storm_stops(made, std::io::Error::from_raw_os_error(linux_raw_sys::errno::EAGAIN as i32));
        }
    }
    exit_now(0)
}

/// _exit(2): ends this process at once (a forked child: no atexit handler of the parent's runs).
fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit takes a plain integer and does not return.
    unsafe { libc::_exit(code) }
}

/// fork(2): 0 in the child, the child's pid in the parent.
fn try_fork() -> std::io::Result<c_int> {
    // SAFETY: fork(3) (libc's: its atfork handlers run); the harness is single-threaded, and every
    // child only sleeps, forks and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 { Err(std::io::Error::last_os_error()) } else { Ok(pid) }
}

/// What a forked child does.
#[derive(Clone, Copy)]
enum Child {
    ExitsAtOnce,
    /// Sleeps in pause(2) until a signal ends it (the default action of SIGTERM).
    WaitsForASignal,
}

/// The storm generator's bound: its own uid, and at most STORM_MAX_PROCESSES processes of it.
fn limit_storm(uid: u32) {
    let limit = Rlimit { current: Some(STORM_MAX_PROCESSES as u64), maximum: Some(STORM_MAX_PROCESSES as u64) };
    // From root these drop every privilege (so the limit applies) and cannot fail for lack of
    // one. setgroups, setgid and setuid as raw syscalls change only this thread: the harness has
    // no other.
    let dropped = rustix::thread::set_thread_groups(&[])
        .and_then(|()| rustix::thread::set_thread_gid(Gid::from_raw(uid)))
        .and_then(|()| rustix::process::setrlimit(Resource::Nproc, limit))
        .and_then(|()| rustix::thread::set_thread_uid(Uid::from_raw(uid)));
    if let Err(e) = dropped {
        panic!("harness storm: cannot drop to uid {uid}: {e}");
    }
}

/// A fork of the storm failed: nobody reaps its orphans. Say so and end this process.
fn storm_stops(made: usize, e: std::io::Error) -> ! {
    eprintln!("harness storm: fork failed after {made} orphans ({e}): they are not being reaped; stopping");
    exit_now(1)
}

fn fork_children(n: usize, what: Child) -> Vec<c_int> {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        match try_fork().unwrap_or_else(|e| panic!("fork failed: {e}")) {
            0 => {
                if let Child::WaitsForASignal = what {
                    loop {
                        rustix::event::pause(); // returns only after a handled signal (none is)
                    }
                }
                exit_now(0)
            }
            pid => pids.push(pid),
        }
    }
    pids
}

/// Waits until each child has exited, leaving it a zombie: waitid(P_PID, pid, WEXITED | WNOWAIT).
fn wait_until_zombies(pids: &[c_int]) {
    for &pid in pids {
        let r = rustix::process::waitid(WaitId::Pid(Pid::from_raw(pid).unwrap()), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT);
        assert!(r.is_ok(), "waitid {pid}: {r:?}");
    }
}

/// Execs CMD (looked up in PATH) with execve(2) itself, so that nothing runs between installing
/// the optional seccomp filter and the exec.
fn exec(cmd: &[String]) -> ! {
    let path = if cmd[0].contains('/') {
        std::path::PathBuf::from(&cmd[0])
    } else {
        which(&cmd[0]).unwrap_or_else(|| panic!("{} not found in PATH", cmd[0]))
    };
    let args: Vec<CString> = cmd.iter().map(|a| CString::new(a.as_str()).unwrap()).collect();
    execve(&path, &args, || {
        if let Ok(plan) = env::var(SeccompPlan::ENV) {
            install_seccomp(&SeccompPlan::decode(&plan).unwrap_or_else(|e| panic!("harness: {}: {e}", SeccompPlan::ENV)));
        }
    })
}

/// execve(2) of `path` with `args` (none: argc 0) and this process's environment; `last` runs
/// after everything the call needs is made, right before it (the seccomp filter: nothing else
/// runs between installing it and the exec).
fn execve(path: &std::path::Path, args: &[CString], last: impl FnOnce()) -> ! {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    let environment = environment();
    let (argv, envp) = (pointers(args), pointers(&environment));
    last();
    // SAFETY: a NUL-terminated path; argv and envp NULL-terminated arrays of pointers to
    // NUL-terminated strings, all alive until the call.
    unsafe { libc::execve(c_path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    panic!("execve {} {args:?} failed: {}", path.display(), std::io::Error::last_os_error());
}

/// This process's environment as execve(2) takes it: `NAME=value` strings.
fn environment() -> Vec<CString> {
    env::vars_os()
        .map(|(name, value)| CString::new([name.as_bytes(), b"=", value.as_bytes()].concat()).expect("no NUL in an environment variable"))
        .collect()
}

/// `strings` as the NULL-terminated array of pointers execve(2) takes (valid while they live).
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).chain([ptr::null()]).collect()
}

/// A classic-BPF seccomp filter for `plan` (x86_64 only): refused syscalls (with that first
/// argument, if given) fail with EPERM, allowed ones pass, anything else kills the process (SIGSYS).
fn install_seccomp(plan: &SeccompPlan) {
    use linux_raw_sys::ptrace::*;
    let arch = std::mem::offset_of!(seccomp_data, arch);
    let nr = std::mem::offset_of!(seccomp_data, nr);
    let arg0_low = std::mem::offset_of!(seccomp_data, args); // low half of args[0] (little-endian)
    let mut p = Bpf::default();
    let kill = p.label();
    p.load(arch);
    p.jump_unless_equal(AUDIT_ARCH_X86_64, kill);
    for r in &plan.refuse {
        let next = p.label();
        p.load(nr);
        p.jump_unless_equal(r.syscall.id() as u32, next);
        if let Some(arg) = r.arg0 {
            p.load(arg0_low);
            p.jump_unless_equal(arg, next);
        }
        p.ret(SECCOMP_RET_ERRNO | linux_raw_sys::errno::EPERM);
        p.place(next);
    }
    p.load(nr);
    for s in &plan.allow {
        let next = p.label();
        p.jump_unless_equal(s.id() as u32, next);
        p.ret(SECCOMP_RET_ALLOW);
        p.place(next);
    }
    p.place(kill);
    p.ret(SECCOMP_RET_KILL_PROCESS);
    let mut f = p.finish();
    let prog = sock_fprog { len: f.len().try_into().expect("a filter of at most 65535 instructions"), filter: f.as_mut_ptr() };
    rustix::thread::set_no_new_privs(true).unwrap_or_else(|e| panic!("no_new_privs: {e}"));
    // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): prog points to a live filter of
    // prog.len instructions.
    let r =
        unsafe { syscalls::syscall3(syscalls::Sysno::seccomp, SECCOMP_SET_MODE_FILTER as usize, 0, &prog as *const sock_fprog as usize) };
    if let Err(e) = r {
        panic!("seccomp: {e}");
    }
}

/// A classic-BPF program whose jumps name where they go: a `Label` is made, jumped to, and placed
/// before the instruction it stands for; `finish` turns each jump into the offset the kernel reads
/// (instructions to skip) and fails on a label never placed or out of a jump's reach.
#[derive(Default)]
struct Bpf {
    code: Vec<linux_raw_sys::ptrace::sock_filter>,
    /// Where each label was placed (the index of the instruction after it).
    places: Vec<Option<usize>>,
    /// Each jump's instruction and the label its `jf` goes to (`jt` is the next instruction).
    jumps: Vec<(usize, Label)>,
}

#[derive(Clone, Copy)]
struct Label(usize);

impl Bpf {
    fn push(&mut self, code: u32, k: u32) {
        self.code.push(linux_raw_sys::ptrace::sock_filter { code: code as u16, jt: 0, jf: 0, k });
    }
    fn label(&mut self) -> Label {
        self.places.push(None);
        Label(self.places.len() - 1)
    }
    fn place(&mut self, l: Label) {
        assert!(self.places[l.0].replace(self.code.len()).is_none(), "a label placed twice");
    }
    /// Loads the 32-bit word at `offset` of seccomp_data into the accumulator.
    fn load(&mut self, offset: usize) {
        use linux_raw_sys::ptrace::{BPF_ABS, BPF_LD, BPF_W};
        self.push(BPF_LD | BPF_W | BPF_ABS, offset as u32);
    }
    /// The next instruction when the accumulator equals `k`, else `to`.
    fn jump_unless_equal(&mut self, k: u32, to: Label) {
        use linux_raw_sys::ptrace::{BPF_JEQ, BPF_JMP, BPF_K};
        self.jumps.push((self.code.len(), to));
        self.push(BPF_JMP | BPF_JEQ | BPF_K, k);
    }
    /// Ends the filter with the action `k`.
    fn ret(&mut self, k: u32) {
        use linux_raw_sys::ptrace::{BPF_K, BPF_RET};
        self.push(BPF_RET | BPF_K, k);
    }
    fn finish(mut self) -> Vec<linux_raw_sys::ptrace::sock_filter> {
        for (at, to) in std::mem::take(&mut self.jumps) {
            let target = self.places[to.0].expect("a label never placed");
            self.code[at].jf = (target - at - 1).try_into().expect("a jump of at most 255 instructions");
        }
        self.code
    }
}
