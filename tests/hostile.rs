//! Hostile conditions: orphan storms as PID 1, signal storms, tight resource limits, no
//! privileges, read-only root, and fast container stops. Natively unless said otherwise.
use pause_tests::image::*;
use pause_tests::*;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::time::{Duration, Instant};

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    stat(pid).map(|s| s.utime + s.stime).unwrap()
}

fn voluntary_switches(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches").unwrap().parse().unwrap()
}

fn storm(total: usize, burst: usize) -> Vec<String> {
    let mut cmd: Vec<String> = vec![harness().get_program().to_string_lossy().into(), "storm".into(), total.to_string(), burst.to_string(), "--".into()];
    cmd.extend(pause_argv(&AMD64));
    cmd
}

/// As PID 1: 50,000 orphans in bursts of 500, starting while pause starts (already-dead ones
/// among them, reparented as zombies): afterwards nothing but pause is left, no zombie, and pause
/// spent no CPU time and no wake-up beyond start-up.
#[test]
fn pid_1_orphan_storm_of_50000_leaves_no_zombie_and_costs_no_cpu() {
    let (u, init) = pause_as_pid_1(&storm(50_000, 500));
    let (cpu, woke) = (cpu_ticks(init), voluntary_switches(init));
    let mut most = 0;
    let done = eventually(Duration::from_secs(120), || {
        most = most.max(children_of(init).len());
        pid_namespace_members(init).len() == 1
    });
    assert!(done, "the storm did not end: {} processes in the namespace", pid_namespace_members(init).len());
    assert_eq!(zombies_of(init), 0);
    let (cpu_used, wake_ups) = (cpu_ticks(init) - cpu, voluntary_switches(init) - woke);
    println!("storm: at most {most} children of pause at once; pause used {cpu_used} ticks and {wake_ups} wake-ups");
    assert!(most > 0, "no orphan was ever reparented to pause: the test proves nothing");
    assert!(cpu_used <= 1, "pause used {cpu_used} clock ticks during the storm");
    assert!(wake_ups <= 2, "pause woke {wake_ups} times during the storm");
    signal(init, SIGTERM);
    assert_eq!(u.finish().status.code(), Some(0));
}

/// SIGTERM in the middle of an orphan storm: pause still exits 0 at once with its line.
#[test]
fn sigterm_during_an_orphan_storm_exits_0() {
    let (u, init) = pause_as_pid_1(&storm(50_000, 500));
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    signal(init, SIGTERM);
    let out = u.finish();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(text(&out.stderr), SHUTDOWN_TERM);
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
}

const SIGHUP: i32 = 1;
const SIGUSR1: i32 = 10;
const SIGPIPE: i32 = 13;
const SIGCONT: i32 = 18;
const SIGSTOP: i32 = 19;
const SIGWINCH: i32 = 28;

fn flood(pid: u32, signals: &[i32], each: usize) {
    for _ in 0..each {
        for &s in signals {
            signal(pid, s);
        }
    }
}

/// As PID 1 of its namespace, signals pause does not handle are dropped by the kernel (an init
/// only receives signals it has a handler for; from outside only SIGKILL and SIGSTOP are forced):
/// 2,000 each of SIGCHLD, SIGHUP, SIGUSR1, SIGWINCH and SIGPIPE change nothing and wake it not
/// once. SIGTERM then still ends it with exit 0.
#[test]
fn pid_1_shrugs_off_signal_storms() {
    let (u, init) = pause_as_pid_1(&pause_argv(&AMD64));
    let (cpu, woke) = (cpu_ticks(init), voluntary_switches(init));
    flood(init, &[SIGCHLD, SIGHUP, SIGUSR1, SIGWINCH, SIGPIPE], 2000);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(stat(init).unwrap().state, 'S', "pause is no longer asleep");
    assert!(voluntary_switches(init) - woke <= 2, "woken {} times", voluntary_switches(init) - woke);
    assert!(cpu_ticks(init) - cpu <= 1);
    signal(init, SIGTERM);
    let out = u.finish();
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(0), SHUTDOWN_TERM.to_string()));
}

/// Not PID 1: SIGCHLD (ignored by pause) and SIGWINCH (ignored by default) storms change nothing
/// and wake it not once.
#[test]
fn ignored_signal_storms_do_not_wake_it() {
    let p = Running::asleep(pause_cmd(&AMD64));
    let woke = voluntary_switches(p.pid);
    flood(p.pid, &[SIGCHLD, SIGWINCH], 5000);
    std::thread::sleep(Duration::from_millis(100));
    assert!(voluntary_switches(p.pid) - woke <= 2, "woken {} times", voluntary_switches(p.pid) - woke);
    p.signal(SIGTERM);
    assert_eq!(p.finish().status.code(), Some(0));
}

/// Not PID 1: SIGHUP, SIGUSR1 and SIGPIPE keep their default action, as in pause.c: the first one
/// ends pause, killed by that signal.
#[test]
fn hup_usr1_and_pipe_end_it_when_not_pid_1() {
    for sig in [SIGHUP, SIGUSR1, SIGPIPE] {
        let p = Running::asleep(pause_cmd(&AMD64));
        flood(p.pid, &[sig], 1);
        assert_eq!(p.finish().status.signal(), Some(sig));
    }
}

/// SIGSTOP from outside stops it (also as PID 1: the kernel forces SIGSTOP from an ancestor
/// namespace), SIGCONT resumes its sleep, and it still shuts down cleanly.
#[test]
fn sigstop_and_sigcont_suspend_and_resume() {
    let check = |pid: u32| {
        signal(pid, SIGSTOP);
        assert!(eventually(Duration::from_secs(5), || stat(pid).unwrap().state == 'T'), "not stopped");
        signal(pid, SIGCONT);
        wait_until_asleep(pid);
        signal(pid, SIGTERM);
    };
    let p = Running::asleep(pause_cmd(&AMD64));
    check(p.pid);
    assert_eq!(p.finish().status.code(), Some(0));
    let (u, init) = pause_as_pid_1(&pause_argv(&AMD64));
    check(init);
    assert_eq!(u.finish().status.code(), Some(0));
}

/// Sets a resource limit in the child before it execs.
fn with_rlimit(cmd: &mut Command, resource: i32, value: u64) {
    #[repr(C)]
    struct Rlimit { cur: u64, max: u64 }
    unsafe extern "C" {
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
    }
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(move || {
            let l = Rlimit { cur: value, max: value };
            if setrlimit(resource, &l) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        })
    };
}

fn behaves(mut make: impl FnMut() -> Command, what: &str) {
    let mut v = make();
    v.arg("-v");
    let out = run_to_end(v);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), version_line()), "{what}: -v");
    let out = stopped_by(make(), SIGTERM);
    assert_eq!(out.status.code(), Some(0), "{what}: {:?}", out.status);
    assert!(text(&out.stderr).ends_with(SHUTDOWN_TERM), "{what}: {}", text(&out.stderr));
}

const RLIMIT_STACK: i32 = 3;
const RLIMIT_NOFILE: i32 = 7;

/// RLIMIT_STACK of 16 KiB, with no environment. pause itself needs a few dozen bytes below its
/// arguments, but the kernel needs room there too: below 4 KiB execve itself fails (EFAULT), and
/// to run a signal handler it pushes a signal frame holding the CPU's extended state (about
/// 3 KiB with AVX-512). Measured on this machine (README, Hostile conditions): at 8 KiB the
/// SIGTERM frame did not fit in 17 of 30 runs (the kernel kills with SIGSEGV), at 12 KiB 0 of 30.
#[test]
fn works_with_the_smallest_stack_limit() {
    behaves(|| {
        let mut c = pause_cmd(&AMD64);
        c.env_clear();
        with_rlimit(&mut c, RLIMIT_STACK, 16384);
        c
    }, "RLIMIT_STACK=16384");
}

/// RLIMIT_NOFILE of 0 and of 3: pause opens nothing, so both change nothing.
#[test]
fn works_with_nofile_0_and_3() {
    for n in [0, 3] {
        behaves(|| {
            let mut c = pause_cmd(&AMD64);
            with_rlimit(&mut c, RLIMIT_NOFILE, n);
            c
        }, &format!("RLIMIT_NOFILE={n}"));
    }
}

for_each_arch! {
    /// stdin, stdout and stderr all closed: `-v` still exits 0, SIGTERM still exits 0.
    fn works_with_stdin_stdout_and_stderr_closed(arch) {
        let closed = || {
            let mut c = pause_cmd(arch);
            unsafe extern "C" {
                fn close(fd: i32) -> i32;
            }
            // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
            unsafe { c.pre_exec(|| { close(0); close(1); close(2); Ok(()) }) };
            c
        };
        let mut v = closed();
        v.arg("-v");
        assert_eq!(run_to_end(v).status.code(), Some(0));
        assert_eq!(stopped_by(closed(), SIGTERM).status.code(), Some(0));
    }
}

/// As uid/gid 65535 with no capabilities at all (bounding, inheritable, ambient sets cleared).
#[test]
fn works_as_uid_65535_without_capabilities() {
    behaves(|| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65535", "--regid=65535", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]);
        c.args(pause_argv(&AMD64));
        c
    }, "setpriv 65535 no caps");
}

/// In podman with a read-only root filesystem: runs, and `podman stop` ends it with exit 0.
#[test]
fn works_with_a_read_only_root_in_podman() {
    let podman = Podman::for_tests();
    images();
    let name = format!("pause-test-ro-{}", std::process::id());
    podman.ok(["run", "-d", "--read-only", "--name", &name, &image_name(&AMD64)]);
    let pid = podman.running_pid(&name);
    wait_until_asleep(pid);
    podman.ok(["stop", &name]);
    let code = podman.ok(["inspect", "--format", "{{.State.ExitCode}}", &name]);
    let _ = podman.run(["rm", "--force", &name]);
    assert_eq!(code.trim(), "0");
}

/// `podman pod stop` of a pod whose infra is this image takes under a second, 100 times in a row
/// (pause acts on SIGTERM at once: no 10 s wait for SIGKILL), and pause exits 0 each time.
#[test]
fn pod_stop_is_under_a_second_100_times() {
    let podman = Podman::for_tests();
    images();
    let pod = format!("pause-test-stops-{}", std::process::id());
    podman.ok(["pod", "create", "--name", &pod, "--infra-image", &list_name()]);
    let infra = podman.ok(["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]).trim().to_string();
    let result = std::panic::catch_unwind(|| {
        let mut slowest = Duration::ZERO;
        for round in 0..100 {
            podman.ok(["pod", "start", &pod]);
            let pid = podman.running_pid(&infra);
            wait_until_asleep(pid);
            let t = Instant::now();
            podman.ok(["pod", "stop", "--time", "10", &pod]);
            let took = t.elapsed();
            slowest = slowest.max(took);
            assert!(took < Duration::from_secs(1), "round {round}: pod stop took {took:?}");
            let code = podman.ok(["inspect", "--format", "{{.State.ExitCode}}", &infra]);
            assert_eq!(code.trim(), "0", "round {round}");
        }
        println!("slowest of 100 pod stops: {slowest:?}");
    });
    let _ = podman.run(["pod", "rm", "--force", &pod]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
