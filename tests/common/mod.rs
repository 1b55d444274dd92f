//! Helpers for the pause specification tests: build the binaries with cargo, run them natively or
//! under qemu-user, and look at processes through /proc.
pub mod image;
pub mod seccomp;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One architecture pause ships for.
#[derive(Debug)]
pub struct Arch {
    /// The Kubernetes / OCI name: amd64, arm, arm64, ppc64le, s390x.
    pub name: &'static str,
    pub triple: &'static str,
    /// qemu-user binary that runs it on this (x86_64) machine; None: runs natively.
    pub qemu: Option<&'static str>,
    pub elf_class64: bool,
    pub big_endian: bool,
    pub e_machine: u16,
    /// e_flags the binary must carry (ppc64le: 2, the ELFv2 ABI; arm: EABI5 + hard-float).
    pub e_flags: u32,
    /// PT_LOAD alignment: the largest page size kernels of the arch use.
    pub p_align: u64,
    /// Size budget of the release binary, in bytes (tests/binary.rs enforces it).
    pub max_bytes: u64,
}

pub const AMD64: Arch = Arch { name: "amd64", triple: "x86_64-unknown-linux-gnu", qemu: None, elf_class64: true, big_endian: false, e_machine: 62, e_flags: 0, p_align: 0x1000, max_bytes: 640 };
pub const ARM: Arch = Arch { name: "arm", triple: "armv7-unknown-linux-gnueabihf", qemu: Some("qemu-arm-static"), elf_class64: false, big_endian: false, e_machine: 40, e_flags: 0x0500_0400, p_align: 0x10000, max_bytes: 700 };
pub const ARM64: Arch = Arch { name: "arm64", triple: "aarch64-unknown-linux-gnu", qemu: Some("qemu-aarch64-static"), elf_class64: true, big_endian: false, e_machine: 183, e_flags: 0, p_align: 0x10000, max_bytes: 760 };
pub const PPC64LE: Arch = Arch { name: "ppc64le", triple: "powerpc64le-unknown-linux-gnu", qemu: Some("qemu-ppc64le-static"), elf_class64: true, big_endian: false, e_machine: 21, e_flags: 2, p_align: 0x10000, max_bytes: 940 };
pub const S390X: Arch = Arch { name: "s390x", triple: "s390x-unknown-linux-gnu", qemu: Some("qemu-s390x-static"), elf_class64: true, big_endian: true, e_machine: 22, e_flags: 0, p_align: 0x1000, max_bytes: 780 };
pub const ARCHES: [&Arch; 5] = [&AMD64, &ARM, &ARM64, &PPC64LE, &S390X];

/// Expands one test body into one #[test] per architecture: `name::amd64`, `name::arm`, ...
#[macro_export]
macro_rules! for_each_arch {
    ($(#[doc = $doc:literal])* fn $name:ident($arch:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn check($arch: &'static $crate::Arch) $body
            #[test] fn amd64() { check(&$crate::AMD64) }
            #[test] fn arm() { check(&$crate::ARM) }
            #[test] fn arm64() { check(&$crate::ARM64) }
            #[test] fn ppc64le() { check(&$crate::PPC64LE) }
            #[test] fn s390x() { check(&$crate::S390X) }
        }
    };
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs `cargo build --release --target <triple>` in the repository (once per test process and
/// arch) and returns the binary it made. Extra `--config` values give a variant build in its own
/// target directory.
pub fn build_with(arch: &Arch, configs: &[&str], target_dir: Option<&Path>) -> Result<PathBuf, String> {
    build_in(&repo_root(), arch, configs, target_dir)
}

/// The same, for a copy of the source tree at `tree` (target dir: `tree`/target by default).
pub fn build_in(tree: &Path, arch: &Arch, configs: &[&str], target_dir: Option<&Path>) -> Result<PathBuf, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(tree).args(["build", "--release", "--quiet", "--target", arch.triple]);
    for c in configs {
        cmd.args(["--config", c]);
    }
    let dir = target_dir.map(Path::to_path_buf).unwrap_or_else(|| tree.join("target"));
    cmd.env("CARGO_TARGET_DIR", &dir);
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(dir.join(arch.triple).join("release/pause"))
}

/// The release binary for `arch`, as `cargo build --release --target <triple>` makes it.
pub fn binary(arch: &Arch) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<&'static str, PathBuf>>> = OnceLock::new();
    let map = BUILT.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(arch.triple) {
        return p.clone();
    }
    let path = build_with(arch, &[], None).unwrap_or_else(|e| panic!("cargo build for {} failed:\n{e}", arch.triple));
    map.insert(arch.triple, path.clone());
    path
}

/// The command that runs pause for `arch` on this machine: the binary itself, or qemu-user with it.
/// Fails (never skips) when the emulator is missing.
pub fn pause_argv(arch: &Arch) -> Vec<String> {
    let bin = binary(arch).to_string_lossy().into_owned();
    match arch.qemu {
        None => vec![bin],
        Some(q) => {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(q).is_file()))
                .unwrap_or(false);
            assert!(found, "{q} is not installed: run the README's test command (bash tests/run), which installs qemu-user-static");
            vec![q.to_string(), bin]
        }
    }
}

pub fn pause_cmd(arch: &Arch) -> Command {
    let argv = pause_argv(arch);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// The test harness binary (tests/common/harness.rs), which cargo builds next to the test
/// executables' deps/ directory (and next to this package's other binaries).
pub fn harness() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let path = [dir, dir.parent().unwrap()].iter().map(|d| d.join("harness")).find(|p| p.is_file()).unwrap_or(dir.join("harness"));
    assert!(path.is_file(), "{} is missing: run the tests with cargo test -p pause-tests", path.display());
    Command::new(path)
}

/// Runs a command that must end by itself within 30 s; returns its output.
pub fn run_to_end(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    wait_output(child, Duration::from_secs(30))
}

pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let status = wait_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("process {} did not end within {limit:?}", child.id())
    });
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut stderr).unwrap();
    }
    Output { status, stdout, stderr }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if start.elapsed() > limit {
            return None;
        }
        sleep(Duration::from_millis(5));
    }
}

/// Polls `cond` every 5 ms for up to `limit`; true if it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        sleep(Duration::from_millis(5));
    }
}

/// A running process started with piped stdout/stderr; killed if the test fails.
pub struct Running {
    pub child: Option<Child>,
    pub pid: u32,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn");
        let pid = child.id();
        Running { child: Some(child), pid }
    }
    /// Starts `cmd` (pause, or something that execs it) and waits until pause sleeps.
    pub fn asleep(cmd: Command) -> Running {
        let p = Running::spawn(cmd);
        wait_until_asleep(p.pid);
        p
    }
    pub fn signal(&self, sig: i32) {
        signal(self.pid, sig);
    }
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }
    /// Waits (up to 30 s) for the process to end and returns what it printed.
    pub fn finish(mut self) -> Output {
        wait_output(self.child.take().unwrap(), Duration::from_secs(30))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `cmd`, waits until pause sleeps, sends `sig`, and returns what it printed.
pub fn stopped_by(cmd: Command, sig: i32) -> Output {
    let p = Running::asleep(cmd);
    p.signal(sig);
    p.finish()
}

pub fn signal(pid: u32, sig: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: kill(2) takes plain integers.
    let r = unsafe { kill(pid as i32, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig}): {}", std::io::Error::last_os_error());
}

pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;

/// One line of /proc/PID/stat, parsed past the command name.
pub struct Stat {
    pub state: char,
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
}

pub fn stat(pid: u32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
    Some(Stat {
        state: rest[0].chars().next()?,
        ppid: rest[1].parse().ok()?,
        utime: rest[11].parse().ok()?,
        stime: rest[12].parse().ok()?,
    })
}

/// A field of /proc/PID/status, e.g. "SigIgn".
pub fn status_field(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// pause has set itself up (SIGCHLD ignored, which it does after installing the SIGINT and SIGTERM
/// handlers and before its zombie sweep) and sleeps in its final wait. /proc/PID/syscall names the
/// host syscall it sleeps in: pause(2) natively; under qemu-user the emulator's own ppoll(2) or
/// rt_sigsuspend(2). Waits up to 20 s (qemu start-up is slow on a loaded machine).
pub fn wait_until_asleep(pid: u32) {
    const HOST_SLEEPS: [u64; 3] = [34 /* pause */, 271 /* ppoll */, 130 /* rt_sigsuspend */];
    let ok = eventually(Duration::from_secs(20), || {
        let ign = status_field(pid, "SigIgn").and_then(|v| u64::from_str_radix(&v, 16).ok());
        let ignoring_chld = ign.is_some_and(|m| m & (1 << (SIGCHLD - 1)) != 0);
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let nr = syscall.split_whitespace().next().and_then(|n| n.parse::<u64>().ok());
        ignoring_chld && nr.is_some_and(|n| HOST_SLEEPS.contains(&n)) && stat(pid).is_some_and(|s| s.state == 'S')
    });
    assert!(ok, "pause (pid {pid}) did not reach its sleep within 20 s");
}

/// The pids whose parent is `pid`, from every /proc/N/stat.
pub fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some(s) = stat(n) {
            if s.ppid == pid {
                out.push((n, s.state));
            }
        }
    }
    out
}

/// Starts `unshare --pid --fork CMD...` and returns it with the host pid of its child, which is
/// PID 1 of the new PID namespace (it may still be exec'ing CMD).
pub fn start_as_pid_1(cmd: &[String]) -> (Running, u32) {
    let mut unshare = Command::new("unshare");
    unshare.args(["--pid", "--fork", "--kill-child"]).args(cmd);
    let u = Running::spawn(unshare);
    let mut init = 0;
    let found = eventually(Duration::from_secs(10), || {
        init = children_of(u.pid).first().map(|c| c.0).unwrap_or(0);
        init != 0
    });
    assert!(found, "unshare started no child");
    (u, init)
}

/// Whether the tests run as root (the PID-namespace tests and the benchmark need it).
pub fn is_root() -> bool {
    status_field(std::process::id(), "Uid").is_some_and(|u| u.split_whitespace().next() == Some("0"))
}

/// `unshare --pid --fork CMD...` (as root), once the namespace's PID 1 runs pause and sleeps.
pub fn pause_as_pid_1(cmd: &[String]) -> (Running, u32) {
    assert!(is_root(), "the PID-namespace tests need root (unshare --pid): run them as root");
    let (u, init) = start_as_pid_1(cmd);
    wait_until_asleep(init);
    (u, init)
}

/// Every process (host pids) in the PID namespace of `pid`, itself included.
pub fn pid_namespace_members(pid: u32) -> Vec<u32> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else { return Vec::new() };
    std::fs::read_dir("/proc").unwrap().flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&ns))
        .collect()
}

pub fn zombies_of(pid: u32) -> usize {
    children_of(pid).iter().filter(|(_, st)| *st == 'Z').count()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub const WARNING: &str = "Warning: pause should be the first process\n";
pub const SHUTDOWN_INT: &str = "Shutting down, got signal: Interrupt\n";
pub const SHUTDOWN_TERM: &str = "Shutting down, got signal: Terminated\n";

/// The `-v` line: the package name and version from the top-level Cargo.toml.
pub fn version_line() -> String {
    format!("{} {}\n", image::package_field("name"), image::package_field("version"))
}

/// The link map lld wrote beside the binary (build.rs passes -Map).
pub fn link_map(arch: &Arch) -> String {
    let path = binary(arch).with_file_name("pause.map");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where the bytes of a release binary go.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    pub total: u64,
    /// ELF header and program headers.
    pub headers: u64,
    /// Machine code (.text input sections).
    pub code: u64,
    /// Messages (.rodata input sections).
    pub strings: u64,
    /// Alignment padding between them.
    pub padding: u64,
}

pub fn breakdown(arch: &Arch) -> Breakdown {
    let bytes = std::fs::read(binary(arch)).unwrap();
    let total = bytes.len() as u64;
    let headers = if arch.elf_class64 { 64 + 2 * 56 } else { 52 + 2 * 32 };
    let (mut code, mut strings) = (0, 0);
    // Input-section lines of an lld map: VMA LMA Size Align then "file.o:(.section.name)".
    for line in link_map(arch).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some(section) = cols.get(4).and_then(|c| c.rsplit_once(":(")).map(|(_, s)| s.trim_end_matches(')')) else { continue };
        let size = u64::from_str_radix(cols[2], 16).unwrap();
        if section.starts_with(".text") {
            code += size;
        } else if section.starts_with(".rodata") {
            strings += size;
        }
    }
    Breakdown { total, headers, code, strings, padding: total - headers - code - strings }
}

/// The size report: one line per arch with where the bytes go and the budget; with a previous
/// report's totals (arch, bytes), also the change.
pub fn size_table(previous: &[(String, u64)]) -> String {
    let mut out = format!("{:<8} {:>5} {:>7} {:>5} {:>7} {:>7} {:>6}", "arch", "bytes", "headers", "code", "strings", "padding", "budget");
    if !previous.is_empty() {
        out += &format!(" {:>6}", "change");
    }
    out.push('\n');
    for a in ARCHES {
        let b = breakdown(a);
        out += &format!("{:<8} {:>5} {:>7} {:>5} {:>7} {:>7} {:>6}", a.name, b.total, b.headers, b.code, b.strings, b.padding, a.max_bytes);
        if let Some((_, old)) = previous.iter().find(|(n, _)| n == a.name) {
            out += &format!(" {:>+6}", b.total as i64 - *old as i64);
        }
        out.push('\n');
    }
    out
}

/// Reads the (arch, bytes) pairs back from a saved size report.
pub fn parse_size_table(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let name = cols.next()?;
            let bytes = cols.next()?.parse().ok()?;
            ARCHES.iter().any(|a| a.name == name).then(|| (name.to_string(), bytes))
        })
        .collect()
}
