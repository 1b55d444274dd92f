//! The behaviour contract on each arch's own Linux: Debian's kernel for the arch, booted under
//! qemu-system (TCG), where signal delivery, the signal frame and restorer, the initial stack and
//! the syscalls are the real kernel's (under qemu-user, behaviour.rs, qemu emulates them). One boot
//! per kernel of the arch table serves every test of that kernel; tests/support/guest-init.sh runs
//! pause there and reports, these tests judge.
use pause_tests::guest::{CHILDREN, ORPHANS, Report, boot, fetched};
use pause_tests::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// Each kernel of `arch` booted (once per test process), with its report.
fn booted(arch: &'static Arch) -> Vec<(&'static Kernel, &'static Report)> {
    type Boot = OnceLock<Result<Report, String>>;
    static BOOTS: Mutex<BTreeMap<&'static str, &'static Boot>> = Mutex::new(BTreeMap::new());
    let mut all = Vec::new();
    for kernel in arch.kernels {
        let cell: &'static Boot = BOOTS.lock().unwrap().entry(kernel.package).or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
        let report = cell.get_or_init(|| {
            let report = boot(arch, kernel);
            if let Ok(r) = &report {
                eprintln!(
                    "{} {} ({}): booted and checked in {:.1} s",
                    arch.name,
                    kernel.package,
                    r.fact("release"),
                    r.elapsed.as_secs_f64()
                );
            }
            report
        });
        all.push((kernel, report.as_ref().unwrap_or_else(|e| panic!("{} on {}: {e}", arch.name, kernel.package))));
    }
    all
}

/// The run `name` of `kernel`'s report exited with `code` and printed exactly `stdout` and `stderr`.
fn expect_run(report: &Report, kernel: &Kernel, name: &str, code: i32, stdout: &str, stderr: &str) {
    let run = report.run(name);
    assert_eq!(
        (run.code, text(&run.stdout), text(&run.stderr)),
        (code, stdout.to_string(), stderr.to_string()),
        "{}: run {name}",
        kernel.package
    );
}

for_each_arch! {
    /// The guest runs the kernel of the package the arch table names (its `uname -r` is the
    /// release in the package's file name), with the page size that kernel is built for (pause's
    /// own mappings, /proc/PID/smaps): ppc64le 64 KiB, loong64 and arm64's second kernel 16 KiB.
    fn runs_on_the_arch_s_own_debian_kernel(arch) {
        for (kernel, report) in booted(arch) {
            assert_eq!(report.fact("release"), fetched(kernel).release, "{}", kernel.package);
            assert_eq!(report.fact("page-size"), kernel.page_size.to_string(), "{}", kernel.package);
        }
    }
}

for_each_arch! {
    /// `-v`, `-V`, `x -v`, `--foo -V bar`: the version line on stdout, nothing on stderr, exit 0.
    fn version_flag_prints_name_and_version(arch) {
        for (kernel, report) in booted(arch) {
            for n in 1..=4 {
                expect_run(report, kernel, &format!("version-{n}"), 0, &version_line(), "");
            }
        }
    }
}

for_each_arch! {
    /// Only an argument that is exactly `-v` (any case) counts: with `-vv v --v - -x ""` pause runs
    /// (argv read where the arch's `_start` says it is), and SIGTERM ends it.
    fn other_arguments_are_ignored(arch) {
        for (kernel, report) in booted(arch) {
            expect_run(report, kernel, "others", 0, "", &format!("{WARNING}{SHUTDOWN_TERM}"));
        }
    }
}

for_each_arch! {
    /// Not PID 1: the warning, and pause sleeps until killed (SIGKILL: status 128 + 9).
    fn warns_when_not_pid_1(arch) {
        for (kernel, report) in booted(arch) {
            expect_run(report, kernel, "sigKILL", 128 + SIGKILL, "", WARNING);
        }
    }
}

for_each_arch! {
    /// SIGTERM: "Shutting down, got signal: Terminated" and exit 0 (the handler, its restorer, exit).
    fn sigterm_prints_terminated_and_exits_0(arch) {
        for (kernel, report) in booted(arch) {
            expect_run(report, kernel, "sigTERM", 0, "", &format!("{WARNING}{SHUTDOWN_TERM}"));
        }
    }
}

for_each_arch! {
    /// SIGINT: "Shutting down, got signal: Interrupt" and exit 0.
    fn sigint_prints_interrupt_and_exits_0(arch) {
        for (kernel, report) in booted(arch) {
            expect_run(report, kernel, "sigINT", 0, "", &format!("{WARNING}{SHUTDOWN_INT}"));
        }
    }
}

for_each_arch! {
    /// Zombies that exist before the exec (children of busybox nc, which execs pause in its own
    /// process on a connection) are released at start-up, before pause first sleeps.
    fn zombies_inherited_across_exec_are_released_at_start(arch) {
        for (kernel, report) in booted(arch) {
            assert_eq!(report.count("inherited-zombies"), CHILDREN, "{}: zombies before the exec", kernel.package);
            assert_eq!(report.count("zombies-once-asleep"), 0, "{}", kernel.package);
            expect_run(report, kernel, "inherited", 0, "", &format!("{WARNING}{SHUTDOWN_TERM}"));
        }
    }
}

for_each_arch! {
    /// Children that die while pause sleeps are released by the kernel and never wake pause: its
    /// voluntary context switches do not grow.
    fn children_dying_later_cost_no_wake_up(arch) {
        for (kernel, report) in booted(arch) {
            assert_eq!(report.count("children"), CHILDREN, "{}", kernel.package);
            assert_eq!(report.count("children-left"), 0, "{}", kernel.package);
            assert_eq!(report.count("wake-ups-for-children"), 0, "{}", kernel.package);
            assert_eq!(report.run("children").code, 0, "{}", kernel.package);
        }
    }
}

for_each_arch! {
    /// As PID 1 of a new PID namespace: orphans made inside it are adopted and, once dead, released
    /// without waking pause; SIGTERM from outside the namespace ends it with the shutdown line only
    /// (no warning) and exit 0.
    fn as_pid_1_adopts_and_releases_orphans_and_stops_on_sigterm(arch) {
        for (kernel, report) in booted(arch) {
            assert_eq!(report.count("pid-in-namespace"), 1, "{}", kernel.package);
            assert_eq!(report.count("orphans-adopted"), ORPHANS, "{}", kernel.package);
            assert_eq!(report.count("orphans-left"), 0, "{}", kernel.package);
            assert_eq!(report.count("wake-ups-for-orphans"), 0, "{}", kernel.package);
            expect_run(report, kernel, "pid1", 0, "", SHUTDOWN_TERM);
        }
    }
}

/// docs/kernels.md's rows of the kernel table ("On each arch's own kernel"): `| arch | `package` (suite) | ...`.
fn readme_kernel_rows() -> Vec<String> {
    pause_tests::readme::rows_containing("| `linux-image-")
}

for_each_arch! {
    /// docs/kernels.md's kernel table says, per kernel, what the booted kernel itself reported: its release
    /// (`uname -r`) and the page size of pause's mapping.
    fn readme_names_each_kernel_as_it_reports_itself(arch) {
        let rows = readme_kernel_rows();
        for (kernel, report) in booted(arch) {
            let page_size: u64 = report.fact("page-size").parse().unwrap();
            let row = format!("| {} | `{}` ({}) | {} | {} KiB |", arch.name, kernel.package, kernel.suite, report.fact("release"), page_size / 1024);
            assert!(rows.iter().any(|r| r.starts_with(&row)), "docs/kernels.md has no row starting {row:?}; its kernel rows:\n{}", rows.join("\n"));
        }
    }
}

/// docs/kernels.md's kernel table has one row per kernel of the arch table, and no other.
#[test]
fn readme_has_one_row_per_kernel() {
    let rows = readme_kernel_rows();
    let kernels: Vec<(&str, &str)> = ARCHES.iter().flat_map(|a| a.kernels.iter().map(|k| (a.name, k.package))).collect();
    assert_eq!(rows.len(), kernels.len(), "{}", rows.join("\n"));
    for (arch, package) in kernels {
        assert!(rows.iter().any(|r| r.starts_with(&format!("| {arch} | `{package}` "))), "no docs/kernels.md row for {arch} {package}");
    }
}
