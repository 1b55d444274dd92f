//! Reaping: nothing that dies in pause's care stays a zombie, and reaping costs pause no wake-up.
//! The harness forks the children and then execs pause, so they become pause's own children.
use pause_tests::prelude::*;
use std::time::Duration;

/// 10,000 children natively, 200 under emulation (qemu-user is slow to start each one).
fn how_many(arch: &Arch) -> usize {
    if arch.qemu.is_some() { 200 } else { 10_000 }
}

fn pause_with_children(arch: &'static Arch, setup: fn(usize) -> Setup) -> Running {
    asleep(harness!().command(&setup(how_many(arch)), &pause_argv(arch)))
}

fn stops_cleanly(mut p: Running) {
    assert!(p.is_running(), "pause ended while reaping");
    p.signal(SIGTERM);
    let out = p.finish();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert_eq!(text(&out.stderr), format!("{WARNING}{SHUTDOWN_TERM}"));
}

for_each_arch! {
    /// Children that die at once, around the exec: none is left, as zombie or otherwise.
    fn children_dying_at_start_leave_no_zombie(arch) {
        let p = pause_with_children(arch, Setup::Children);
        let gone = eventually(Duration::from_secs(30), || children_of(p.pid).is_empty());
        assert!(gone, "{} children left, {} of them zombies", children_of(p.pid).len(), zombies_of(p.pid));
        stops_cleanly(p);
    }
}

for_each_arch! {
    /// Zombies that exist before the exec are released at start-up, before pause first sleeps
    /// (pause.c would keep them until the next SIGCHLD).
    fn zombies_inherited_across_exec_are_released_at_start(arch) {
        let p = pause_with_children(arch, Setup::Zombies);
        assert_eq!(zombies_of(p.pid), 0, "zombies still there once pause sleeps");
        stops_cleanly(p);
    }
}

for_each_arch! {
    /// Children that die while pause sleeps (the test ends them once it sleeps) are released by
    /// the kernel without waking pause: its voluntary context switches do not grow with the number
    /// of dead children.
    fn children_dying_later_cost_no_wake_up(arch) {
        let p = pause_with_children(arch, Setup::WaitingChildren);
        let before = voluntary_switches(p.pid);
        let mut alive = Vec::new();
        let waiting = eventually(Duration::from_secs(30), || {
            alive = children_in(p.pid, State::Sleeping);
            alive.len() == how_many(arch)
        });
        assert!(waiting, "{} of {} children wait: the test would prove less", alive.len(), how_many(arch));
        for child in &alive {
            signal(*child, SIGTERM);
        }
        let alive = alive.len();
        let gone = eventually(Duration::from_secs(30), || children_of(p.pid).is_empty());
        assert!(gone, "{} children left, {} of them zombies", children_of(p.pid).len(), zombies_of(p.pid));
        let woke = voluntary_switches(p.pid) - before;
        assert!(woke <= WAKE_UPS_SLACK, "pause woke {woke} times (from {before}) while {alive} children died");
        stops_cleanly(p);
    }
}
