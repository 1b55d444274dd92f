//! Hostile conditions: orphan storms as PID 1, signal storms, tight resource limits, no
//! privileges, read-only root, and fast container stops. Natively unless said otherwise.
use pause_tests::harness::STORM_MAX_PROCESSES;
use pause_tests::image::{image_name, images, list_name};
use pause_tests::podman::Podman;
use pause_tests::prelude::*;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::time::{Duration, Instant};

/// An orphan storm (with a uid of its own, so two storms never share a process limit), then pause
/// as PID 1.
fn storm(total: usize, burst: usize) -> Vec<String> {
    harness!().argv(&Setup::Storm(Storm::new(total, burst)), &pause_argv(&AMD64))
}

/// Zombie children of pause beyond which it is surely not reaping (a quarter of what the storm's
/// process limit lets exist).
const NOT_REAPING: usize = STORM_MAX_PROCESSES / 4;

/// As PID 1: 50,000 orphans in bursts of 500, starting while pause starts (already-dead ones
/// among them, reparented as zombies): afterwards nothing but pause is left (zombies would still be
/// members), and pause spent no CPU time and no wake-up beyond start-up. If pause stopped reaping,
/// the storm would stop at the harness's process limit and this fails on the zombies it sees.
#[test]
fn pid_1_orphan_storm_of_50000_leaves_no_zombie_and_costs_no_cpu() {
    let (u, init) = pause_as_pid_1(&storm(50_000, 500));
    let (cpu, woke) = (cpu_ticks(init), voluntary_switches(init));
    let (mut most, mut zombies) = (0, 0);
    let done = eventually(Duration::from_secs(120), || {
        let children = children_of(init);
        most = most.max(children.len());
        zombies = children.iter().filter(|c| c.state == State::Zombie).count();
        zombies > NOT_REAPING || pid_namespace_members(init).len() == 1
    });
    assert!(zombies <= NOT_REAPING, "pause is not reaping: {zombies} zombie children");
    assert!(done, "the storm did not end: {} processes in the namespace", pid_namespace_members(init).len());
    let (cpu_used, wake_ups) = (cpu_ticks(init) - cpu, voluntary_switches(init) - woke);
    println!("storm: at most {most} children of pause at once; pause used {cpu_used} ticks and {wake_ups} wake-ups");
    assert!(most > 0, "no orphan was ever reparented to pause: the test proves nothing");
    assert!(cpu_used <= TICKS_SLACK, "pause used {cpu_used} clock ticks during the storm");
    assert!(wake_ups <= WAKE_UPS_SLACK, "pause woke {wake_ups} times during the storm");
    signal(init, SIGTERM);
    assert_eq!(u.finish().status.code(), Some(0));
}

/// SIGTERM in the middle of an orphan storm: pause still exits 0 at once with its line. The
/// storm is shown to be under way when the signal goes: pause has adopted orphans already, and
/// the generator (pause's first child) is still making more.
#[test]
fn sigterm_during_an_orphan_storm_exits_0() {
    let (u, init) = pause_as_pid_1(&storm(50_000, 500));
    // The harness forked the generator first, as PID 1 of the namespace: it is PID 2 there.
    let innermost_pid = |pid: u32| status_field(pid, "NSpid").and_then(|n| n.split_whitespace().last().map(String::from));
    let generator = children_of(init).into_iter().map(|c| c.pid).find(|&p| innermost_pid(p).as_deref() == Some("2"));
    let generator = generator.expect("no storm generator among pause's children: the storm was over before the test looked");
    let mut adopted = 0;
    let under_way = eventually(Duration::from_secs(30), || {
        adopted = children_of(init).iter().filter(|c| c.pid != generator).count();
        adopted > 0
    });
    assert!(under_way, "pause adopted no orphan within 30 s: the storm never started");
    let generating = stat(generator).is_some_and(|s| s.state != State::Zombie);
    assert!(generating, "the storm was over before SIGTERM: the test would prove nothing");
    let t = Instant::now();
    signal(init, SIGTERM);
    let out = u.finish();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(text(&out.stderr), SHUTDOWN_TERM);
    println!("SIGTERM in the storm to pause's exit: {:?}", t.elapsed());
}

/// Sends each of `signals` `each` times, then waits until none is pending for `pid` any more
/// and it sleeps in its final wait again: every signal has been dealt with (dropped at once by
/// the kernel, or delivered) before the test looks at what they cost.
fn flood(pid: u32, signals: &[i32], each: usize) {
    for _ in 0..each {
        for &s in signals {
            signal(pid, s);
        }
    }
    let none_pending = eventually(Duration::from_secs(10), || ["SigPnd", "ShdPnd"].iter().all(|f| signal_mask(pid, f) == Some(0)));
    assert!(none_pending, "signals still pending for {pid} 10 s after the flood");
    wait_until_asleep(pid);
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
    assert_eq!(stat(init).unwrap().state, State::Sleeping, "pause is no longer asleep");
    assert!(voluntary_switches(init) - woke <= WAKE_UPS_SLACK, "woken {} times", voluntary_switches(init) - woke);
    assert!(cpu_ticks(init) - cpu <= TICKS_SLACK);
    signal(init, SIGTERM);
    let out = u.finish();
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(0), SHUTDOWN_TERM.to_string()));
}

/// Not PID 1: pause installs no handler for SIGCHLD (it ignores it) or SIGWINCH (default: ignore),
/// only for SIGINT and SIGTERM; so storms of the two change nothing and wake it not once. (What
/// this guards is the absence of a handler: with either at its default the kernel drops it too.)
#[test]
fn ignored_signal_storms_do_not_wake_it() {
    let p = asleep(pause_cmd(&AMD64));
    let caught = signal_mask(p.pid, "SigCgt").unwrap();
    assert_eq!(caught, 1 << (SIGINT - 1) | 1 << (SIGTERM - 1), "pause handles signals other than SIGINT and SIGTERM: SigCgt {caught:x}");
    let woke = voluntary_switches(p.pid);
    flood(p.pid, &[SIGCHLD, SIGWINCH], 5000);
    assert!(voluntary_switches(p.pid) - woke <= WAKE_UPS_SLACK, "woken {} times", voluntary_switches(p.pid) - woke);
    p.signal(SIGTERM);
    assert_eq!(p.finish().status.code(), Some(0));
}

/// Not PID 1: SIGHUP, SIGUSR1 and SIGPIPE keep their default action, as in pause.c: the first one
/// ends pause, killed by that signal (pause started with their default action).
#[test]
fn hup_usr1_and_pipe_end_it_when_not_pid_1() {
    for sig in [SIGHUP, SIGUSR1, SIGPIPE] {
        let p = asleep(pause_cmd_with_default_signals(&AMD64));
        p.signal(sig);
        assert_eq!(p.finish().status.signal(), Some(sig));
    }
}

/// SIGSTOP from outside stops it (also as PID 1: the kernel forces SIGSTOP from an ancestor
/// namespace), SIGCONT resumes its sleep, and it still shuts down cleanly.
#[test]
fn sigstop_and_sigcont_suspend_and_resume() {
    let check = |pid: u32| {
        signal(pid, SIGSTOP);
        assert!(eventually(Duration::from_secs(5), || stat(pid).unwrap().state == State::Stopped), "not stopped");
        signal(pid, SIGCONT);
        wait_until_asleep(pid);
        signal(pid, SIGTERM);
    };
    let p = asleep(pause_cmd(&AMD64));
    check(p.pid);
    assert_eq!(p.finish().status.code(), Some(0));
    let (u, init) = pause_as_pid_1(&pause_argv(&AMD64));
    check(init);
    assert_eq!(u.finish().status.code(), Some(0));
}

/// Sets a resource limit in the child before it execs.
fn with_rlimit(cmd: &mut Command, resource: Resource, value: u64) {
    // SAFETY: setrlimit(2) is async-signal-safe, as pre_exec requires, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::setrlimit(resource, Rlimit { current: Some(value), maximum: Some(value) }).map_err(std::io::Error::from)
        })
    };
}

/// pause made by `make` (not PID 1) behaves exactly as without the condition: `-v` prints the
/// version and exits 0; otherwise it warns, sleeps, and on SIGTERM prints the line and exits 0.
fn behaves(make: impl FnMut() -> Command, what: &str) {
    behaves_with(make, what, |_| {});
}

/// The same, with `check` run on pause's pid while it sleeps (that the condition holds there).
fn behaves_with(mut make: impl FnMut() -> Command, what: &str, check: impl Fn(u32)) {
    let mut v = make();
    v.arg("-v");
    let out = run_to_end(v);
    assert_eq!((out.status.code(), text(&out.stdout), text(&out.stderr)), (Some(0), version_line(), String::new()), "{what}: -v");
    let p = asleep(make());
    check(p.pid);
    p.signal(SIGTERM);
    let out = p.finish();
    assert_eq!(out.status.code(), Some(0), "{what}: {:?}", out.status);
    assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"), "{what}");
}

use rustix::process::{Resource, Rlimit};

/// The soft and hard limit of process `pid`'s limit `name` (a row of /proc/PID/limits, e.g.
/// "Max stack size"), as the kernel reports them.
fn limits_of(pid: u32, name: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let row = limits.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in:\n{limits}"));
    let mut values = row[name.len()..].split_whitespace();
    (values.next().unwrap().to_string(), values.next().unwrap().to_string())
}

/// RLIMIT_STACK of 16 KiB, with no environment. pause itself needs a few dozen bytes below its
/// arguments, but the kernel needs room there too: below 4 KiB execve itself fails (EFAULT), and
/// to run a signal handler it pushes a signal frame holding the CPU's extended state (about
/// 3 KiB with AVX-512). Measured on this machine (docs/hostile.md): at 8 KiB the
/// SIGTERM frame did not fit in 17 of 30 runs (the kernel kills with SIGSEGV), at 12 KiB 0 of 30.
#[test]
fn works_with_the_smallest_stack_limit() {
    behaves_with(
        || {
            let mut c = pause_cmd(&AMD64);
            c.env_clear();
            with_rlimit(&mut c, Resource::Stack, 16384);
            c
        },
        "RLIMIT_STACK=16384",
        |pid| assert_eq!(limits_of(pid, "Max stack size"), ("16384".into(), "16384".into())),
    );
}

/// RLIMIT_NOFILE of 0 and of 3: pause opens nothing, so both change nothing.
#[test]
fn works_with_nofile_0_and_3() {
    for n in [0, 3] {
        behaves_with(
            || {
                let mut c = pause_cmd(&AMD64);
                with_rlimit(&mut c, Resource::Nofile, n);
                c
            },
            &format!("RLIMIT_NOFILE={n}"),
            |pid| assert_eq!(limits_of(pid, "Max open files"), (n.to_string(), n.to_string())),
        );
    }
}

for_each_arch! {
    /// stdin, stdout and stderr all closed: `-v` still exits 0, SIGTERM still exits 0.
    fn works_with_stdin_stdout_and_stderr_closed(arch) {
        let closed = || {
            let mut c = pause_cmd(arch);
            close_in_child(&mut c, &[0, 1, 2]);
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
    behaves(
        || {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65535", "--regid=65535", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]);
            c.args(pause_argv(&AMD64));
            c
        },
        "setpriv 65535 no caps",
    );
}

/// In podman with a read-only root filesystem: runs, and `podman stop` ends it with exit 0.
#[test]
fn works_with_a_read_only_root_in_podman() {
    let podman = Podman::for_tests();
    images();
    let c = podman.run_detached(&format!("pause-test-ro-{}", std::process::id()), &["--read-only", &image_name(&AMD64)]);
    wait_until_asleep(podman.running_pid(&c.name));
    podman.ok(["stop", &c.name]);
    assert_eq!(podman.exit_code(&c.name), 0);
}

/// `podman pod stop` of a pod whose infra is this image, 100 times in a row: pause exits 0 each
/// time, so SIGTERM ended it (SIGKILL, podman's fallback after the 10 s, would leave 137). The
/// slowest stop is printed.
#[test]
fn pod_stop_ends_pause_by_sigterm_100_times() {
    let podman = Podman::for_tests();
    images();
    let pod = podman.pod_create(&format!("pause-test-stops-{}", std::process::id()), &["--infra-image", &list_name()]);
    let infra = podman.infra_of(&pod.name);
    let mut slowest = Duration::ZERO;
    for round in 0..100 {
        podman.ok(["pod", "start", &pod.name]);
        wait_until_asleep(podman.running_pid(&infra));
        let t = Instant::now();
        podman.ok(["pod", "stop", "--time", "10", &pod.name]);
        let took = t.elapsed();
        slowest = slowest.max(took);
        assert_eq!(podman.exit_code(&infra), 0, "round {round}: pause did not exit by SIGTERM (pod stop took {took:?})");
    }
    println!("slowest of 100 pod stops: {slowest:?}");
}
