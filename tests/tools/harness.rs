//! Process tools the tests need and std does not give: each mode ends by exec'ing a command, so
//! what it set up (children, zombies, an empty argv) belongs to that command afterwards.
//!
//!   harness children N -- CMD...      fork N children that exit at once, then exec CMD
//!   harness late-children N -- CMD... fork N children that exit after 5 s, then exec CMD
//!   harness zombies N -- CMD...       fork N children, wait until all are zombies, then exec CMD
//!   harness orphans N -- CMD...       fork a child that makes N zombie grandchildren and N that
//!                                     exit after 2 s, then exits itself (orphaning them all);
//!                                     exec CMD at once (run it as PID 1 so it inherits them)
//!   harness argc0 -- PATH             execve PATH with an empty argv (argc = 0)
//!   harness exec -- CMD...            just exec CMD (with the seccomp options below)
//!   harness storm TOTAL BURST -- CMD...  fork a generator, exec CMD at once (run it as PID 1):
//!                                     the generator makes TOTAL orphans in bursts of BURST (a
//!                                     leader forks BURST children that exit at once, then exits
//!                                     itself), then exits. It runs as uid STORM_UID with
//!                                     RLIMIT_NPROC STORM_MAX_PROCESSES: when forks fail (nobody
//!                                     reaps), it says so on stderr and stops.
//!
//! With PAUSE_HARNESS_SECCOMP_ALLOW=NR,NR,... the last step before the exec installs a seccomp
//! filter (no_new_privs, x86_64 only) that allows exactly those syscall numbers and kills the
//! process on any other; PAUSE_HARNESS_SECCOMP_ERRNO=NR,NR:ARG0,... makes those fail with EPERM
//! instead (NR:ARG0: only when the first argument is ARG0, e.g. rt_sigaction of one signal).
use pause_tests::process::which;
use pause_tests::tools::{STORM_MAX_PROCESSES, STORM_UID};
use std::ffi::{CString, c_char, c_int};
use std::{env, ptr, thread, time::Duration};

unsafe extern "C" {
    fn fork() -> c_int;
    fn _exit(code: c_int) -> !;
    fn waitid(idtype: c_int, id: u32, infop: *mut u8, options: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn prctl(option: c_int, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> c_int;
    fn setgroups(size: usize, list: *const u32) -> c_int;
    fn setgid(gid: u32) -> c_int;
    fn setuid(uid: u32) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const [u64; 2]) -> c_int;
    fn syscall(nr: i64, ...) -> i64;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    static environ: *const *const c_char;
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let sep = args.iter().position(|a| a == "--").expect("usage: harness MODE [N] -- CMD...");
    let (mode, cmd) = (&args[..sep], &args[sep + 1..]);
    let count = || mode[1].parse::<usize>().expect("N must be a number");
    match mode[0].as_str() {
        "children" => {
            fork_children(count(), None);
        }
        "late-children" => {
            fork_children(count(), Some(Duration::from_secs(5)));
        }
        "zombies" => {
            let pids = fork_children(count(), None);
            wait_until_zombies(&pids);
        }
        "orphans" => {
            let n = count();
            if spawn(None) == 0 {
                let dead = fork_children(n, None);
                wait_until_zombies(&dead);
                fork_children(n, Some(Duration::from_secs(2)));
                // SAFETY: _exit ends this forked child without running the parent's atexit handlers.
                unsafe { _exit(0) }
            }
        }
        "exec" => {}
        "storm" => {
            let (total, burst) = (count(), mode[2].parse::<usize>().expect("BURST"));
            if spawn(None) == 0 {
                limit_storm();
                for made in (0..total).step_by(burst) {
                    let leader = try_fork().unwrap_or_else(|e| storm_stops(made, e));
                    if leader == 0 {
                        for _ in 0..burst {
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
                        storm_stops(made, std::io::Error::from_raw_os_error(11 /* EAGAIN */));
                    }
                }
                // SAFETY: _exit ends the generator.
                unsafe { _exit(0) }
            }
        }
        "argc0" => {
            let path = CString::new(cmd[0].as_str()).unwrap();
            let argv: [*const c_char; 1] = [ptr::null()];
            // SAFETY: a NUL-terminated path, an argv holding only the terminating NULL, and the
            // process's own environment.
            unsafe { execve(path.as_ptr(), argv.as_ptr(), environ) };
            panic!("execve {} failed: {}", cmd[0], std::io::Error::last_os_error());
        }
        other => panic!("unknown mode {other}"),
    }
    exec(cmd);
}

/// fork(2): 0 in the child, the child's pid in the parent.
fn try_fork() -> std::io::Result<c_int> {
    // SAFETY: the harness is single-threaded; every child only sleeps, forks and calls _exit.
    let pid = unsafe { fork() };
    if pid < 0 { Err(std::io::Error::last_os_error()) } else { Ok(pid) }
}

/// Forks one child; it sleeps for `delay` if given, then exits 0. Returns fork's result.
fn spawn(delay: Option<Duration>) -> c_int {
    let pid = try_fork().unwrap_or_else(|e| panic!("fork failed: {e}"));
    if pid == 0 && delay.is_some() {
        thread::sleep(delay.unwrap());
    }
    pid
}

/// The storm generator's bound: its own uid, and at most STORM_MAX_PROCESSES processes of it.
fn limit_storm() {
    let limit = [STORM_MAX_PROCESSES as u64; 2];
    const RLIMIT_NPROC: c_int = 6;
    // SAFETY: plain integers and a pointer to a live rlimit pair; from root these drop every
    // privilege (so the limit applies) and cannot fail for lack of one.
    let ok = unsafe { setgroups(0, ptr::null()) == 0 && setgid(STORM_UID) == 0 && setrlimit(RLIMIT_NPROC, &limit) == 0 && setuid(STORM_UID) == 0 };
    assert!(ok, "harness storm: cannot drop to uid {STORM_UID}: {}", std::io::Error::last_os_error());
}

/// A fork of the storm failed: nobody reaps its orphans. Say so and end this process.
fn storm_stops(made: usize, e: std::io::Error) -> ! {
    eprintln!("harness storm: fork failed after {made} orphans ({e}): they are not being reaped; stopping");
    // SAFETY: _exit ends this forked process.
    unsafe { _exit(1) }
}

fn fork_children(n: usize, delay: Option<Duration>) -> Vec<c_int> {
    let mut pids = Vec::with_capacity(n);
    for _ in 0..n {
        match spawn(delay) {
            // SAFETY: _exit ends this forked child at once.
            0 => unsafe { _exit(0) },
            pid => pids.push(pid),
        }
    }
    pids
}

/// Waits until each child has exited, leaving it a zombie: waitid(P_PID, pid, WEXITED | WNOWAIT).
fn wait_until_zombies(pids: &[c_int]) {
    const P_PID: c_int = 1;
    const WEXITED: c_int = 4;
    const WNOWAIT: c_int = 0x0100_0000;
    for &pid in pids {
        let mut info = [0u64; 16]; // a siginfo_t (128 bytes)
        // SAFETY: info is a writable buffer of siginfo_t's size; WNOWAIT leaves the child unreaped.
        let r = unsafe { waitid(P_PID, pid as u32, info.as_mut_ptr().cast(), WEXITED | WNOWAIT) };
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
    if let Ok(allow) = env::var("PAUSE_HARNESS_SECCOMP_ALLOW") {
        let errno = env::var("PAUSE_HARNESS_SECCOMP_ERRNO").unwrap_or_default();
        let errno: Vec<(u32, Option<u32>)> = errno.split(',').filter(|s| !s.is_empty()).map(|e| match e.split_once(':') {
            Some((nr, arg)) => (number(nr), Some(number(arg))),
            None => (number(e), None),
        }).collect();
        install_seccomp(&allow.split(',').filter(|s| !s.is_empty()).map(number).collect::<Vec<_>>(), &errno);
    }
    // SAFETY: NUL-terminated path and arguments, a NULL-terminated argv, the process's environment.
    unsafe { execve(path.as_ptr(), argv.as_ptr(), environ) };
    panic!("exec {cmd:?} failed: {}", std::io::Error::last_os_error());
}

fn number(n: &str) -> u32 {
    n.parse().unwrap_or_else(|_| panic!("{n:?} is not a number"))
}

/// A classic-BPF seccomp filter: x86_64 only; `errno` syscalls (with that first argument, if
/// given) fail with EPERM, `allow` numbers pass, anything else kills the process (SIGSYS).
fn install_seccomp(allow: &[u32], errno: &[(u32, Option<u32>)]) {
    #[repr(C)]
    struct Insn { code: u16, jt: u8, jf: u8, k: u32 }
    #[repr(C)]
    struct Prog { len: u16, filter: *const Insn }
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const KILL_PROCESS: u32 = 0x8000_0000;
    const ALLOW: u32 = 0x7fff_0000;
    const ERRNO_EPERM: u32 = 0x0005_0000 | 1;
    const LD_NR: Insn = Insn { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }; // seccomp_data.nr
    const LD_ARG0: Insn = Insn { code: LD_W_ABS, jt: 0, jf: 0, k: 16 }; // low half of args[0] (little-endian)
    let mut f = vec![
        Insn { code: LD_W_ABS, jt: 0, jf: 0, k: 4 }, // seccomp_data.arch
        Insn { code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 }, // x86_64: skip the next
        Insn { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS },
    ];
    for &(nr, arg) in errno {
        f.push(LD_NR);
        match arg {
            Some(arg) => {
                f.push(Insn { code: JEQ_K, jt: 0, jf: 3, k: nr }); // another syscall: skip this entry
                f.push(LD_ARG0);
                f.push(Insn { code: JEQ_K, jt: 0, jf: 1, k: arg }); // another argument: skip the return
            }
            None => f.push(Insn { code: JEQ_K, jt: 0, jf: 1, k: nr }), // another syscall: skip the return
        }
        f.push(Insn { code: RET_K, jt: 0, jf: 0, k: ERRNO_EPERM });
    }
    f.push(LD_NR);
    for &nr in allow {
        f.push(Insn { code: JEQ_K, jt: 0, jf: 1, k: nr }); // another syscall: skip the return
        f.push(Insn { code: RET_K, jt: 0, jf: 0, k: ALLOW });
    }
    f.push(Insn { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS });
    let prog = Prog { len: f.len() as u16, filter: f.as_ptr() };
    const PR_SET_NO_NEW_PRIVS: c_int = 38;
    const SYS_SECCOMP: i64 = syscalls::x86_64::Sysno::seccomp as i64;
    const SECCOMP_SET_MODE_FILTER: i64 = 1;
    // SAFETY: plain integer arguments.
    assert_eq!(unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, 0, "no_new_privs");
    // SAFETY: prog points to a live filter of prog.len instructions.
    let r = unsafe { syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0i64, &prog as *const Prog) };
    assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
}
