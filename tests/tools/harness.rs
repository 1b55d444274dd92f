//! Process set-ups the tests need and std does not give (support/harness.rs has the protocol,
//! `Setup` and `SeccompPlan`): each ends by exec'ing a command, so what it set up (children,
//! zombies, an empty argv) belongs to that command afterwards.
//!
//!   harness SETUP... -- CMD...
//!
//! With PAUSE_HARNESS_SECCOMP set, the last step before the exec installs that seccomp filter.
use linux_raw_sys::general::{P_PID, RLIMIT_NPROC, WEXITED, WNOWAIT};
use pause_tests::harness::{STORM_MAX_PROCESSES, SeccompPlan, Setup, Storm};
use pause_tests::process::which;
use std::ffi::{CString, c_char, c_int};
use std::{env, ptr};

unsafe extern "C" {
    fn fork() -> c_int;
    fn pause() -> c_int;
    fn _exit(code: c_int) -> !;
    fn waitid(idtype: c_int, id: u32, infop: *mut u8, options: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn prctl(option: c_int, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> c_int;
    fn setgroups(size: usize, list: *const u32) -> c_int;
    fn setgid(gid: u32) -> c_int;
    fn setuid(uid: u32) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const linux_raw_sys::general::rlimit) -> c_int;
    fn syscall(nr: i64, ...) -> i64;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    static environ: *const *const c_char;
}

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
                // SAFETY: _exit ends this forked child without running the parent's atexit handlers.
                unsafe { _exit(0) }
            }
        }
        Setup::Storm(storm) => {
            if try_fork().unwrap_or_else(|e| panic!("fork failed: {e}")) == 0 {
                generate(&storm);
            }
        }
        Setup::Argc0 => {
            let path = CString::new(cmd[0].as_str()).unwrap();
            let argv: [*const c_char; 1] = [ptr::null()];
            // SAFETY: a NUL-terminated path, an argv holding only the terminating NULL, and the
            // process's own environment.
            unsafe { execve(path.as_ptr(), argv.as_ptr(), environ) };
            panic!("execve {} failed: {}", cmd[0], std::io::Error::last_os_error());
        }
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
                    // SAFETY: _exit ends this orphan-to-be at once.
                    Ok(0) => unsafe { _exit(0) },
                    Ok(_) => {}
                    // SAFETY: _exit ends the leader; exit code 1 tells the generator.
                    Err(_) => unsafe { _exit(1) },
                }
            }
            // SAFETY: _exit ends the leader at once; its children are orphaned.
            unsafe { _exit(0) }
        }
        let mut status: c_int = 0;
        // SAFETY: waits for (and reaps) the generator's own child, the leader; status is writable.
        unsafe { waitpid(leader, &mut status, 0) };
        if status != 0 {
            storm_stops(made, std::io::Error::from_raw_os_error(linux_raw_sys::errno::EAGAIN as i32));
        }
    }
    // SAFETY: _exit ends the generator.
    unsafe { _exit(0) }
}

/// fork(2): 0 in the child, the child's pid in the parent.
fn try_fork() -> std::io::Result<c_int> {
    // SAFETY: the harness is single-threaded; every child only sleeps, forks and calls _exit.
    let pid = unsafe { fork() };
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
    let limit = linux_raw_sys::general::rlimit { rlim_cur: STORM_MAX_PROCESSES as _, rlim_max: STORM_MAX_PROCESSES as _ };
    // SAFETY: plain integers and a pointer to a live rlimit; from root these drop every
    // privilege (so the limit applies) and cannot fail for lack of one.
    let ok =
        unsafe { setgroups(0, ptr::null()) == 0 && setgid(uid) == 0 && setrlimit(RLIMIT_NPROC as c_int, &limit) == 0 && setuid(uid) == 0 };
    assert!(ok, "harness storm: cannot drop to uid {uid}: {}", std::io::Error::last_os_error());
}

/// A fork of the storm failed: nobody reaps its orphans. Say so and end this process.
fn storm_stops(made: usize, e: std::io::Error) -> ! {
    eprintln!("harness storm: fork failed after {made} orphans ({e}): they are not being reaped; stopping");
    // SAFETY: _exit ends this forked process.
    unsafe { _exit(1) }
}

fn fork_children(n: usize, what: Child) -> Vec<c_int> {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        match try_fork().unwrap_or_else(|e| panic!("fork failed: {e}")) {
            0 => {
                if let Child::WaitsForASignal = what {
                    loop {
                        // SAFETY: pause(2) takes nothing; it returns only after a handled signal (none is).
                        unsafe { pause() };
                    }
                }
                // SAFETY: _exit ends this forked child at once.
                unsafe { _exit(0) }
            }
            pid => pids.push(pid),
        }
    }
    pids
}

/// Waits until each child has exited, leaving it a zombie: waitid(P_PID, pid, WEXITED | WNOWAIT).
fn wait_until_zombies(pids: &[c_int]) {
    for &pid in pids {
        let mut info = [0u64; 16]; // a siginfo_t (128 bytes)
        // SAFETY: info is a writable buffer of siginfo_t's size; WNOWAIT leaves the child unreaped.
        let r = unsafe { waitid(P_PID as c_int, pid as u32, info.as_mut_ptr().cast(), (WEXITED | WNOWAIT) as c_int) };
        assert_eq!(r, 0, "waitid {pid}: {}", std::io::Error::last_os_error());
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
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let args: Vec<CString> = cmd.iter().map(|a| CString::new(a.as_str()).unwrap()).collect();
    let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(ptr::null());
    if let Ok(plan) = env::var(SeccompPlan::ENV) {
        install_seccomp(&SeccompPlan::decode(&plan).unwrap_or_else(|e| panic!("harness: {}: {e}", SeccompPlan::ENV)));
    }
    // SAFETY: NUL-terminated path and arguments, a NULL-terminated argv, the process's environment.
    unsafe { execve(path.as_ptr(), argv.as_ptr(), environ) };
    panic!("exec {cmd:?} failed: {}", std::io::Error::last_os_error());
}

/// A classic-BPF seccomp filter for `plan` (x86_64 only): refused syscalls (with that first
/// argument, if given) fail with EPERM, allowed ones pass, anything else kills the process (SIGSYS).
fn install_seccomp(plan: &SeccompPlan) {
    use linux_raw_sys::prctl::PR_SET_NO_NEW_PRIVS;
    use linux_raw_sys::ptrace::*;
    let insn = |code: u32, jt: u8, jf: u8, k: u32| sock_filter { code: code as u16, jt, jf, k };
    let ld = |offset: usize| insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, offset as u32);
    let ret = |k: u32| insn(BPF_RET | BPF_K, 0, 0, k);
    let jeq = |k: u32, jt: u8, jf: u8| insn(BPF_JMP | BPF_JEQ | BPF_K, jt, jf, k);
    let arch = std::mem::offset_of!(seccomp_data, arch);
    let nr = std::mem::offset_of!(seccomp_data, nr);
    let arg0_low = std::mem::offset_of!(seccomp_data, args); // low half of args[0] (little-endian)
    let errno_eperm = SECCOMP_RET_ERRNO | linux_raw_sys::errno::EPERM;
    let mut f: Vec<sock_filter> = vec![
        ld(arch),
        jeq(AUDIT_ARCH_X86_64, 1, 0), // x86_64: skip the next
        ret(SECCOMP_RET_KILL_PROCESS),
    ];
    for r in &plan.refuse {
        f.push(ld(nr));
        match r.arg0 {
            Some(arg) => {
                f.push(jeq(r.syscall.id() as u32, 0, 3)); // another syscall: skip this entry
                f.push(ld(arg0_low));
                f.push(jeq(arg, 0, 1)); // another argument: skip the return
            }
            None => f.push(jeq(r.syscall.id() as u32, 0, 1)), // another syscall: skip the return
        }
        f.push(ret(errno_eperm));
    }
    f.push(ld(nr));
    for s in &plan.allow {
        f.push(jeq(s.id() as u32, 0, 1)); // another syscall: skip the return
        f.push(ret(SECCOMP_RET_ALLOW));
    }
    f.push(ret(SECCOMP_RET_KILL_PROCESS));
    let prog = sock_fprog { len: f.len() as u16, filter: f.as_mut_ptr() };
    const SYS_SECCOMP: i64 = syscalls::x86_64::Sysno::seccomp as i64;
    // SAFETY: plain integer arguments.
    assert_eq!(unsafe { prctl(PR_SET_NO_NEW_PRIVS as c_int, 1, 0, 0, 0) }, 0, "no_new_privs");
    // SAFETY: prog points to a live filter of prog.len instructions.
    let r = unsafe { syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER as i64, 0i64, &prog as *const sock_fprog) };
    assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
}
