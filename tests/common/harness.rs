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
//!                                     itself), then exits
//!
//! With PAUSE_HARNESS_SECCOMP_ALLOW=NR,NR,... the last step before the exec installs a seccomp
//! filter (no_new_privs, x86_64 only) that allows exactly those syscall numbers and kills the
//! process on any other; PAUSE_HARNESS_SECCOMP_ERRNO=NR,... makes those fail with EPERM instead.
use std::ffi::{CString, c_char, c_int};
use std::{env, ptr, thread, time::Duration};

unsafe extern "C" {
    fn fork() -> c_int;
    fn _exit(code: c_int) -> !;
    fn waitid(idtype: c_int, id: u32, infop: *mut u8, options: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn prctl(option: c_int, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> c_int;
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
                for _ in 0..total.div_ceil(burst) {
                    let leader = spawn(None);
                    if leader == 0 {
                        fork_children(burst, None);
                        // SAFETY: _exit ends the leader at once; its children are orphaned.
                        unsafe { _exit(0) }
                    }
                    // SAFETY: waits for (and reaps) the generator's own child, the leader.
                    unsafe { waitpid(leader, ptr::null_mut(), 0) };
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

/// Forks one child; it sleeps for `delay` if given, then exits 0. Returns fork's result.
fn spawn(delay: Option<Duration>) -> c_int {
    // SAFETY: the child only sleeps and calls _exit, both async-signal-safe after fork.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 && delay.is_some() {
        thread::sleep(delay.unwrap());
    }
    pid
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
        env::split_paths(&env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(&cmd[0]))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{} not found in PATH", cmd[0]))
    };
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let args: Vec<CString> = cmd.iter().map(|a| CString::new(a.as_str()).unwrap()).collect();
    let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(ptr::null());
    if let Ok(allow) = env::var("PAUSE_HARNESS_SECCOMP_ALLOW") {
        install_seccomp(&numbers(&allow), &numbers(&env::var("PAUSE_HARNESS_SECCOMP_ERRNO").unwrap_or_default()));
    }
    // SAFETY: NUL-terminated path and arguments, a NULL-terminated argv, the process's environment.
    unsafe { execve(path.as_ptr(), argv.as_ptr(), environ) };
    panic!("exec {cmd:?} failed: {}", std::io::Error::last_os_error());
}

fn numbers(list: &str) -> Vec<u32> {
    list.split(',').filter(|s| !s.is_empty()).map(|n| n.parse().expect("syscall number")).collect()
}

/// A classic-BPF seccomp filter: x86_64 only; `errno` numbers fail with EPERM, `allow` numbers
/// pass, anything else kills the process (SIGSYS).
fn install_seccomp(allow: &[u32], errno: &[u32]) {
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
    let mut f = vec![
        Insn { code: LD_W_ABS, jt: 0, jf: 0, k: 4 }, // seccomp_data.arch
        Insn { code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 },
        Insn { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS },
        Insn { code: LD_W_ABS, jt: 0, jf: 0, k: 0 }, // seccomp_data.nr
    ];
    for (list, action) in [(errno, ERRNO_EPERM), (allow, ALLOW)] {
        let n = list.len();
        for (i, nr) in list.iter().enumerate() {
            // On a match jump past the rest of this list to its return; else try the next.
            f.push(Insn { code: JEQ_K, jt: (n - i) as u8, jf: 0, k: *nr });
        }
        f.push(Insn { code: 0x05, jt: 0, jf: 0, k: 1 }); // BPF_JMP | BPF_JA: no match, skip the return
        f.push(Insn { code: RET_K, jt: 0, jf: 0, k: action });
    }
    f.push(Insn { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS });
    let prog = Prog { len: f.len() as u16, filter: f.as_ptr() };
    const PR_SET_NO_NEW_PRIVS: c_int = 38;
    const SYS_SECCOMP: i64 = 317;
    const SECCOMP_SET_MODE_FILTER: i64 = 1;
    // SAFETY: plain integer arguments.
    assert_eq!(unsafe { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, 0, "no_new_privs");
    // SAFETY: prog points to a live filter of prog.len instructions.
    let r = unsafe { syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0i64, &prog as *const Prog) };
    assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
}
