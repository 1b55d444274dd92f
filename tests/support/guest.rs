//! A whole machine of another arch: qemu-system (TCG) boots one of the arch's Debian kernels with an
//! initramfs of that arch's busybox, this checkout's pause and `guest-init.sh` as PID 1, and the
//! facts the script prints on the serial console come back as typed data.
use crate::arch::{Arch, Kernel};
use crate::cargo::binary;
use crate::process::text;
use crate::scratch::Scratch;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The guest's PID 1 (tests/support/guest-init.sh).
const INIT: &str = include_str!("guest-init.sh");

/// Children pause inherits across exec, and orphans it adopts as PID 1 (the kernel hands both to
/// the init script as environment variables).
pub const CHILDREN: i64 = 50;
pub const ORPHANS: i64 = 100;

/// A boot that has not printed `@@ done` by then is a failure (one takes 15-40 s here).
const BOOT_LIMIT: Duration = Duration::from_secs(300);

/// An environment variable tests/kernels sets (tests/run makes what it names); fails, never skips.
fn made_by_tests_run(var: &str) -> PathBuf {
    crate::made::by_tests_run(var, "the kernels and qemu-system")
}

/// What tests/kernels fetched for `kernel`: the image, its release (from the file's path in the
/// package: `/boot/vmlinuz-<release>` or `/usr/lib/modules/<release>/vmlinuz`) and busybox-static of the same suite and arch.
pub struct Fetched {
    pub image: PathBuf,
    pub release: String,
    pub busybox: PathBuf,
}

pub fn fetched(kernel: &Kernel) -> Fetched {
    let dir = made_by_tests_run("PAUSE_TESTS_KERNELS").join(format!("{}-{}-{}", kernel.suite, kernel.debian_arch, kernel.package));
    let release = std::fs::read_to_string(dir.join("release")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    Fetched { image: dir.join("kernel"), release: release.trim().to_string(), busybox: dir.join("busybox") }
}

/// One pause run in the guest: exit status as the shell's `$?` (128 + N: killed by signal N), output bytes.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// What the guest's init printed: its `@@` lines, parsed.
#[derive(Debug)]
pub struct Report {
    pub facts: BTreeMap<String, String>,
    pub runs: BTreeMap<String, Run>,
    pub counts: BTreeMap<String, i64>,
    /// The whole console (kernel messages included), for failure messages.
    pub console: String,
    pub elapsed: Duration,
}

impl Report {
    pub fn fact(&self, name: &str) -> &str {
        self.facts.get(name).unwrap_or_else(|| panic!("the guest reported no fact {name}:\n{}", self.console))
    }
    pub fn run(&self, name: &str) -> &Run {
        self.runs.get(name).unwrap_or_else(|| panic!("the guest reported no run {name}:\n{}", self.console))
    }
    pub fn count(&self, name: &str) -> i64 {
        *self.counts.get(name).unwrap_or_else(|| panic!("the guest reported no count {name}:\n{}", self.console))
    }
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()).ok_or_else(|| format!("not hex: {s}")))
        .collect()
}

/// Parses the console: `@@ fact NAME VALUE`, `@@ run NAME code=N out=HEX err=HEX`, `@@ count NAME N`,
/// `@@ error TEXT` (a failure), `@@ done` (required: the script got to its end).
pub fn parse(console: &str, elapsed: Duration) -> Result<Report, String> {
    let mut report =
        Report { facts: BTreeMap::new(), runs: BTreeMap::new(), counts: BTreeMap::new(), console: console.to_string(), elapsed };
    let mut done = false;
    for line in console.lines().map(|l| l.trim_end_matches('\r')) {
        let Some(rest) = line.strip_prefix("@@ ") else { continue };
        let bad = || format!("a malformed report line: {line:?}\n{console}");
        let words: Vec<&str> = rest.split(' ').collect();
        match words[..] {
            ["done"] => done = true,
            ["error", ..] => return Err(format!("the guest's init failed: {}\n{console}", &rest[6..])),
            ["fact", name, ..] => {
                report.facts.insert(name.to_string(), words[2..].join(" "));
            }
            ["count", name, n] => {
                report.counts.insert(name.to_string(), n.parse().map_err(|_| bad())?);
            }
            ["run", name, code, out, err] => {
                let field = |w: &str, key: &str| w.strip_prefix(key).map(str::to_string).ok_or_else(bad);
                let run = Run {
                    code: field(code, "code=")?.parse().map_err(|_| bad())?,
                    stdout: unhex(&field(out, "out=")?)?,
                    stderr: unhex(&field(err, "err=")?)?,
                };
                report.runs.insert(name.to_string(), run);
            }
            _ => return Err(bad()),
        }
    }
    if !done {
        return Err(format!("the guest's init never got to its end (no `@@ done`):\n{console}"));
    }
    Ok(report)
}

/// Writes `initrd` into `scratch`: a newc cpio (by GNU cpio) of busybox, pause and the init script.
fn initramfs(arch: &Arch, kernel: &Fetched, scratch: &Scratch) -> Result<(), String> {
    let tree = scratch.join("tree");
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    std::fs::create_dir_all(tree.join("bin")).map_err(|e| io("mkdir", e))?;
    std::fs::copy(&kernel.busybox, tree.join("bin/busybox")).map_err(|e| io("busybox", e))?;
    std::fs::copy(binary(arch), tree.join("pause")).map_err(|e| io("pause", e))?;
    std::fs::write(tree.join("init"), INIT).map_err(|e| io("init", e))?;
    for f in ["bin/busybox", "pause", "init"] {
        std::fs::set_permissions(tree.join(f), std::fs::Permissions::from_mode(0o755)).map_err(|e| io(f, e))?;
    }
    let cpio = crate::process::require("cpio", "apt-get install cpio (bash tests/run does)");
    let out = scratch.join("initrd");
    let file = std::fs::File::create(&out).map_err(|e| io("initrd", e))?;
    // find's list, sorted, as cpio reads names; owner root, whatever made the files.
    let list = ["bin", "bin/busybox", "init", "pause"].join("\n") + "\n";
    let mut child = Command::new(cpio)
        .args(["--create", "--format=newc", "--owner=0:0", "--quiet"])
        .current_dir(&tree)
        .stdin(Stdio::piped())
        .stdout(file)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io("cpio", e))?;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), list.as_bytes()).map_err(|e| io("cpio", e))?;
    let done = crate::process::try_wait_output(child, Duration::from_secs(30)).map_err(|e| io("cpio", e))?;
    if !done.status.success() {
        return Err(format!("cpio failed: {}", text(&done.stderr)));
    }
    Ok(())
}

/// Boots `kernel` of `arch` under qemu-system, chrooted in tests/kernels' qemu rootfs (in a mount
/// namespace of its own, where this boot's scratch directory is bound on the rootfs's /mnt), and
/// returns the init's report. The console goes to a file; qemu is killed once the script is done
/// (a guest that cannot power itself off) or at `BOOT_LIMIT`.
pub fn boot(arch: &'static Arch, kernel: &'static Kernel) -> Result<Report, String> {
    let qemu_root = made_by_tests_run("PAUSE_TESTS_SYSTEM_QEMU");
    let fetched = fetched(kernel);
    let scratch = Scratch::new(&format!("kernel-{}", arch.name));
    initramfs(arch, &fetched, &scratch)?;
    std::fs::copy(&fetched.image, scratch.join("kernel")).map_err(|e| format!("kernel: {e}"))?;
    let console = scratch.join("console");
    std::fs::write(&console, "").map_err(|e| format!("console: {e}"))?;

    let sys = &arch.system;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        r#"mount --bind "$1" "$2/mnt" && shift 2 && exec chroot "$@""#,
        "sh",
    ])
    .arg(scratch.path())
    .arg(&qemu_root)
    .arg(&qemu_root)
    .arg(sys.binary)
    .args(sys.machine)
    .args(["-m", "512", "-smp", "1", "-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot"])
    .args(["-serial", "file:/mnt/console", "-kernel", "/mnt/kernel", "-initrd", "/mnt/initrd"])
    .args(["-append", &format!("console={} quiet panic=-1 CHILDREN={CHILDREN} ORPHANS={ORPHANS}", sys.console)]);
    // qemu's own messages go to a file (a pipe nobody reads while it runs could fill and stop it).
    let qemu_err = scratch.join("qemu.err");
    let err_file = std::fs::File::create(&qemu_err).map_err(|e| format!("{}: {e}", qemu_err.display()))?;
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err_file);
    crate::process::dies_with_parent(&mut cmd);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", sys.binary))?;
    let read = || std::fs::read(&console).map(|b| text(&b)).unwrap_or_default();
    let mut done_at = None;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break Some(status);
        }
        if done_at.is_none() && read().contains("@@ done") {
            done_at = Some(Instant::now());
        }
        // Done, but not powered off within 10 s; or never done: qemu is killed.
        if done_at.is_some_and(|t| t.elapsed() > Duration::from_secs(10)) || start.elapsed() > BOOT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = start.elapsed();
    let err = std::fs::read(&qemu_err).map(|b| text(&b)).unwrap_or_default();
    let console = read();
    match status {
        None if done_at.is_none() => {
            Err(format!("{} did not finish within {BOOT_LIMIT:?}; qemu said: {err}\nconsole:\n{console}", sys.binary))
        }
        Some(s) if !s.success() => Err(format!("{} failed ({s}): {err}\nconsole:\n{console}", sys.binary)),
        _ => parse(&console, elapsed),
    }
}
