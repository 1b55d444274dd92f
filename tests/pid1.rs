//! pause as the real PID 1 of a new PID namespace (natively, as root, with `unshare --pid --fork`).
use pause_tests::prelude::*;
use std::time::Duration;

/// As PID 1: no warning, and SIGTERM from outside the namespace ends it with exit 0.
#[test]
fn as_pid_1_no_warning_and_sigterm_exits_0() {
    let (u, init) = pause_as_pid_1(&pause_argv(&AMD64));
    stop_pid_1(u, init);
}

/// As PID 1: SIGINT from outside the namespace ends it with exit 0 and the Interrupt line.
#[test]
fn as_pid_1_sigint_exits_0() {
    let (u, init) = pause_as_pid_1(&pause_argv(&AMD64));
    signal(init, SIGINT);
    let out = u.finish();
    assert_eq!((out.status.code(), text(&out.stderr)), (Some(0), SHUTDOWN_INT.to_string()));
}

/// As PID 1: orphaned grandchildren (50 already dead, 50 that wait until the test ends them) are
/// reparented to pause and disappear: nothing but pause is left in the namespace (a zombie would
/// still be a member of it).
#[test]
fn as_pid_1_reparented_orphans_and_dead_grandchildren_disappear() {
    let (u, init) = pause_as_pid_1(&harness!().argv(&Setup::Orphans(50), &pause_argv(&AMD64)));
    let mut waiting = Vec::new();
    let adopted = eventually(Duration::from_secs(10), || {
        waiting = children_in(init, State::Sleeping);
        waiting.len() == 50
    });
    assert!(adopted, "the 50 living orphans were not reparented to pause: its children are {:?}", children_of(init));
    for orphan in waiting {
        signal(orphan, SIGTERM);
    }
    let alone = eventually(Duration::from_secs(20), || pid_namespace_members(init) == [init]);
    assert!(alone, "left in the namespace: {:?}; zombies of pause: {}", pid_namespace_members(init), zombies_of(init));
    stop_pid_1(u, init);
}
