//! This package's tools (tools/*.rs) as commands: where cargo put them, and the harness's command lines.
use std::path::PathBuf;
use std::process::Command;

/// Where cargo put the tool `name` of this package: next to the test executables' deps/ directory.
pub fn tool_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let path = [dir, dir.parent().unwrap()].iter().map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or(dir.join(name));
    assert!(path.is_file(), "{} is missing: run the tests with cargo test -p pause-tests", path.display());
    path
}

/// The harness (tools/harness.rs) with `mode` (its mode and numbers), `--`, then `cmd`.
pub fn harness_argv<S: AsRef<str>>(mode: &[&str], cmd: &[S]) -> Vec<String> {
    let mut argv = vec![tool_path("harness").to_string_lossy().into_owned()];
    argv.extend(mode.iter().map(|m| m.to_string()));
    argv.push("--".into());
    argv.extend(cmd.iter().map(|c| c.as_ref().to_string()));
    argv
}

/// The same as a Command.
pub fn harness<S: AsRef<str>>(mode: &[&str], cmd: &[S]) -> Command {
    let argv = harness_argv(mode, cmd);
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

/// The storm generator's processes run as this uid, with at most STORM_MAX_PROCESSES of them alive
/// or unreaped (RLIMIT_NPROC): if pause stopped reaping, a storm stops there instead of taking all
/// of the machine's PIDs.
pub const STORM_UID: u32 = 65533;
pub const STORM_MAX_PROCESSES: usize = 8192;

/// An orphan storm then `cmd` as PID 1: `harness storm TOTAL BURST -- cmd`.
pub fn storm_argv<S: AsRef<str>>(total: usize, burst: usize, cmd: &[S]) -> Vec<String> {
    harness_argv(&["storm", &total.to_string(), &burst.to_string()], cmd)
}
