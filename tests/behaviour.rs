//! pause.c's behaviour, on every architecture (natively on amd64, under qemu-user elsewhere).
use pause_tests::prelude::*;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::time::Duration;

/// Starts pause for `arch` with `args`, waits until it sleeps, sends `sig`, and returns what it printed.
fn pause_stopped_by(arch: &'static Arch, args: &[&str], sig: i32) -> std::process::Output {
    let mut cmd = pause_cmd(arch);
    cmd.args(args);
    stopped_by(cmd, sig)
}

for_each_arch! {
    /// `-v` prints `<name> <version>` on stdout and exits 0, in any case and in any position.
    fn version_flag_prints_name_and_version(arch) {
        for args in [&["-v"][..], &["-V"], &["x", "-v"], &["--foo", "-V", "bar"]] {
            let mut cmd = pause_cmd(arch);
            cmd.args(args);
            let out = run_to_end(cmd);
            assert_eq!(out.status.code(), Some(0), "{args:?}");
            assert_eq!(text(&out.stdout), version_line(), "{args:?}");
            assert_eq!(text(&out.stderr), "", "{args:?}");
        }
    }
}

for_each_arch! {
    /// Only an argument that is exactly `-v` (any case) counts; others are ignored and pause runs.
    fn other_arguments_are_ignored(arch) {
        let out = pause_stopped_by(arch, &["-vv", "v", "--v", "-", "-x", ""], SIGTERM);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stdout), "");
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"));
    }
}

for_each_arch! {
    /// Not PID 1: the exact warning on stderr, nothing on stdout, and pause keeps running.
    fn warns_when_not_pid_1(arch) {
        // Asleep in its final wait: pause.c's loop, which nothing but a signal ends.
        let mut p = asleep(pause_cmd(arch));
        assert!(p.is_running(), "pause ended on its own");
        p.signal(SIGKILL);
        let out = p.finish();
        assert_eq!(text(&out.stderr), WARNING);
        assert_eq!(text(&out.stdout), "");
    }
}

for_each_arch! {
    /// SIGINT: "Shutting down, got signal: Interrupt" and exit 0.
    fn sigint_prints_interrupt_and_exits_0(arch) {
        let out = pause_stopped_by(arch, &[], SIGINT);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_INT}"));
    }
}

for_each_arch! {
    /// SIGTERM: "Shutting down, got signal: Terminated" and exit 0.
    fn sigterm_prints_terminated_and_exits_0(arch) {
        let out = pause_stopped_by(arch, &[], SIGTERM);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"));
    }
}

for_each_arch! {
    /// A closed stdout does not change `-v`: still exit 0.
    fn version_with_closed_stdout_exits_0(arch) {
        let mut cmd = pause_cmd(arch);
        cmd.arg("-v");
        close_in_child(&mut cmd, &[1]);
        let out = run_to_end(cmd);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    }
}

for_each_arch! {
    /// A closed stderr changes nothing: pause runs, and SIGTERM still ends it with exit 0.
    fn closed_stderr_still_runs_and_stops_cleanly(arch) {
        let mut cmd = pause_cmd(arch);
        close_in_child(&mut cmd, &[2]);
        let out = stopped_by(cmd, SIGTERM);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
        assert_eq!(text(&out.stdout), "");
    }
}

for_each_arch! {
    /// A very long argv (100,000 arguments) and a large environment, within the kernel's ARG_MAX
    /// (a quarter of the 8 MiB stack limit, pointers included): read, ignored, no crash.
    fn huge_argv_and_envp_are_fine(arch) {
        let mut cmd = pause_cmd(arch);
        cmd.args(std::iter::repeat_n("arg", 100_000));
        for i in 0..1000 {
            cmd.env(format!("PAUSE_TEST_VAR_{i}"), "x".repeat(100));
        }
        let out = stopped_by(cmd, SIGTERM);
        assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"));

        let mut cmd = pause_cmd(arch);
        cmd.args(std::iter::repeat_n("x", 100_000)).arg("-V");
        let out = run_to_end(cmd);
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), version_line()));
    }
}

for_each_arch! {
    /// With no environment at all pause behaves the same.
    fn empty_environment_is_fine(arch) {
        let mut cmd = pause_cmd(arch);
        cmd.env_clear();
        let out = stopped_by(cmd, SIGINT);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_INT}"));
    }
}

/// argc = 0 (execve with an empty argv, natively): no argument to look at, pause just runs.
#[test]
fn argc_zero_runs_normally() {
    let out = stopped_by(harness!().command(&Setup::Argc0, &[binary(&AMD64).to_string_lossy()]), SIGTERM);
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"));
    assert_eq!(text(&out.stdout), "");
}

/// Signals pause does not handle keep their default action (as pause.c): SIGHUP ends it by signal
/// (pause started with SIGHUP's default action).
#[test]
fn unhandled_signals_keep_their_default_action() {
    let out = stopped_by(pause_cmd_with_default_signals(&AMD64), SIGHUP);
    assert_eq!(out.status.signal(), Some(SIGHUP));
    assert_eq!(text(&out.stderr), WARNING);
}

/// As an unprivileged user (uid/gid 65535, as the image runs it): same behaviour. (Root may map
/// page 0 and run binaries that nobody else can; this catches that.)
#[test]
fn runs_as_an_unprivileged_user() {
    for arch in ARCHES {
        let mut cmd = pause_cmd(arch);
        cmd.uid(65535).gid(65535);
        let out = stopped_by(cmd, SIGTERM);
        assert_eq!(out.status.code(), Some(0), "{}: {:?} {}", arch.name, out.status, text(&out.stderr));
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"), "{}", arch.name);
    }
}

for_each_arch! {
    /// SIGINT and SIGTERM back to back: exactly one shutdown line, then exit 0.
    fn sigint_and_sigterm_together_print_one_line(arch) {
        for _ in 0..5 {
            let p = asleep(pause_cmd(arch));
            p.signal(SIGINT);
            p.signal(SIGTERM);
            let out = p.finish();
            assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
            let err = text(&out.stderr);
            let lines = err.matches("Shutting down, got signal: ").count();
            assert_eq!(lines, 1, "{err}");
        }
    }
}

/// While the SIGINT handler runs, SIGTERM is blocked (the handler's sa_mask): with both pending at
/// once (pause stopped, both sent, then continued), the kernel runs the lower-numbered SIGINT's
/// handler first, and it finishes: "Interrupt". Without the mask SIGTERM's handler would nest on
/// top of it and exit first: "Terminated". Natively (qemu-user queues host signals its own way).
#[test]
fn the_first_handler_blocks_the_other_signal_until_it_exits() {
    for round in 0..20 {
        let p = asleep(pause_cmd(&AMD64));
        p.signal(SIGSTOP);
        assert!(
            eventually(Duration::from_secs(5), || stat(p.pid).is_some_and(|s| s.state == State::Stopped)),
            "round {round}: not stopped"
        );
        p.signal(SIGTERM);
        p.signal(SIGINT);
        let pending = signal_mask(p.pid, "ShdPnd").unwrap() | signal_mask(p.pid, "SigPnd").unwrap();
        assert_eq!(
            pending & (1 << (SIGINT - 1) | 1 << (SIGTERM - 1)),
            1 << (SIGINT - 1) | 1 << (SIGTERM - 1),
            "round {round}: both must be pending"
        );
        p.signal(SIGCONT);
        let out = p.finish();
        assert_eq!(out.status.code(), Some(0), "round {round}: {:?}", out.status);
        assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_INT}"), "round {round}");
    }
}
