//! The harness (tools/harness.rs) as both sides see it: what it sets up before it execs a
//! command (`Setup`), the seccomp filter it may install first (`SeccompPlan`), and its command
//! lines. The text forms of both are written and read here only.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use syscalls::x86_64::Sysno;

/// What the harness makes before it execs the command; whatever it made then belongs to that
/// command (its children, zombies, an empty argv).
#[derive(Debug, Clone, PartialEq)]
pub enum Setup {
    /// Nothing: just exec (with the seccomp plan, if any).
    Exec,
    /// Fork N children that exit at once.
    Children(usize),
    /// Fork N children that wait until a signal ends them (the test sends SIGTERM).
    WaitingChildren(usize),
    /// Fork N children and wait until all are zombies.
    Zombies(usize),
    /// Fork a child that makes N zombie grandchildren and N that wait until a signal ends them,
    /// then exits, orphaning them all; the command runs at once (run it as PID 1 to inherit them).
    Orphans(usize),
    /// execve the command's path with an empty argv (argc = 0).
    Argc0,
    /// An orphan storm: see `Storm`.
    Storm(Storm),
}

/// A generator forked before the exec makes `total` orphans in bursts of `burst` (a leader forks
/// `burst` children that exit at once, then exits itself), then exits. It runs as `uid` with at
/// most `STORM_MAX_PROCESSES` processes (RLIMIT_NPROC): when nobody reaps, its forks fail, it
/// says so on stderr and stops, instead of taking all of the machine's pids.
#[derive(Debug, Clone, PartialEq)]
pub struct Storm {
    pub total: usize,
    pub burst: usize,
    pub uid: u32,
}

/// The most processes (alive or unreaped) a storm's uid may have.
pub const STORM_MAX_PROCESSES: usize = 8192;

/// Storm uids start here: far above any real user's.
const STORM_UID_BASE: u32 = 1_900_000_000;

impl Storm {
    /// A storm with a uid of its own: RLIMIT_NPROC counts per uid across the whole machine, so two
    /// storms (of this process, up to 16 at a time; of another test process or checkout, whose
    /// pid differs) never share a limit.
    pub fn new(total: usize, burst: usize) -> Storm {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed) % 16;
        Storm { total, burst, uid: STORM_UID_BASE + (std::process::id() << 4) + n }
    }
}

impl Setup {
    /// The harness's arguments before `--`.
    pub fn to_args(&self) -> Vec<String> {
        let v = |name: &str, ns: &[usize]| std::iter::once(name.to_string()).chain(ns.iter().map(usize::to_string)).collect();
        match self {
            Setup::Exec => v("exec", &[]),
            Setup::Children(n) => v("children", &[*n]),
            Setup::WaitingChildren(n) => v("waiting-children", &[*n]),
            Setup::Zombies(n) => v("zombies", &[*n]),
            Setup::Orphans(n) => v("orphans", &[*n]),
            Setup::Argc0 => v("argc0", &[]),
            Setup::Storm(s) => v("storm", &[s.total, s.burst, s.uid as usize]),
        }
    }

    /// Reads what `to_args` wrote.
    pub fn parse(args: &[String]) -> Result<Setup, String> {
        let n = |i: usize| -> Result<usize, String> {
            let a = args.get(i).ok_or_else(|| format!("{args:?}: a number is missing"))?;
            a.parse().map_err(|_| format!("{a:?} is not a number"))
        };
        let setup = match args.first().map(String::as_str) {
            Some("exec") => Setup::Exec,
            Some("children") => Setup::Children(n(1)?),
            Some("waiting-children") => Setup::WaitingChildren(n(1)?),
            Some("zombies") => Setup::Zombies(n(1)?),
            Some("orphans") => Setup::Orphans(n(1)?),
            Some("argc0") => Setup::Argc0,
            Some("storm") => Setup::Storm(Storm { total: n(1)?, burst: n(2)?, uid: u32::try_from(n(3)?).map_err(|e| e.to_string())? }),
            other => return Err(format!("unknown set-up {other:?}")),
        };
        if setup.to_args().len() != args.len() {
            return Err(format!("{args:?}: extra arguments"));
        }
        Ok(setup)
    }
}

/// A syscall the filter makes fail with EPERM: every call, or only those whose first argument
/// (its low 32 bits) is `arg0` (rt_sigaction of one signal, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Refuse {
    pub syscall: Sysno,
    pub arg0: Option<u32>,
}

/// A seccomp filter (x86_64 only) the harness installs, with no_new_privs, as the last step before
/// the exec: `refuse` fail with EPERM, `allow` pass, anything else kills the process (SIGSYS).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeccompPlan {
    pub allow: Vec<Sysno>,
    pub refuse: Vec<Refuse>,
}

impl SeccompPlan {
    /// The environment variable that carries the plan to the harness.
    pub const ENV: &'static str = "PAUSE_HARNESS_SECCOMP";

    /// `allow=NR,NR,...;refuse=NR,NR:ARG0,...`
    pub fn encode(&self) -> String {
        let allow: Vec<String> = self.allow.iter().map(|s| s.id().to_string()).collect();
        let refuse: Vec<String> = self
            .refuse
            .iter()
            .map(|r| match r.arg0 {
                Some(a) => format!("{}:{a}", r.syscall.id()),
                None => r.syscall.id().to_string(),
            })
            .collect();
        format!("allow={};refuse={}", allow.join(","), refuse.join(","))
    }

    /// Reads what `encode` wrote.
    pub fn decode(s: &str) -> Result<SeccompPlan, String> {
        let sysno = |n: &str| -> Result<Sysno, String> {
            let nr: i32 = n.parse().map_err(|_| format!("{n:?} is not a syscall number"))?;
            Sysno::new(nr as usize).ok_or_else(|| format!("{nr} is no x86_64 syscall"))
        };
        let list = |part: Option<&str>, key: &str| -> Result<Vec<String>, String> {
            let p = part.and_then(|p| p.strip_prefix(key)).ok_or_else(|| format!("{s:?}: no {key}"))?;
            Ok(p.split(',').filter(|x| !x.is_empty()).map(String::from).collect())
        };
        let mut parts = s.split(';');
        let allow = list(parts.next(), "allow=")?.iter().map(|n| sysno(n)).collect::<Result<_, _>>()?;
        let refuse = list(parts.next(), "refuse=")?
            .iter()
            .map(|e| match e.split_once(':') {
                Some((nr, arg)) => {
                    Ok(Refuse { syscall: sysno(nr)?, arg0: Some(arg.parse().map_err(|_| format!("{arg:?} is not a number"))?) })
                }
                None => Ok(Refuse { syscall: sysno(e)?, arg0: None }),
            })
            .collect::<Result<_, String>>()?;
        Ok(SeccompPlan { allow, refuse })
    }
}

/// The harness program.
pub struct Harness {
    exe: PathBuf,
}

/// The harness of this package, for a test (cargo tells integration tests where it built it).
#[macro_export]
macro_rules! harness {
    () => {
        $crate::harness::Harness::at(env!("CARGO_BIN_EXE_harness"))
    };
}

impl Harness {
    pub fn at(exe: impl AsRef<Path>) -> Harness {
        let exe = exe.as_ref().to_path_buf();
        assert!(exe.is_file(), "{} is missing: run the tests with bash tests/run", exe.display());
        Harness { exe }
    }

    /// The harness beside the running program: for this package's tools, which cargo does not
    /// tell where it put the others.
    pub fn beside_current_exe() -> Harness {
        Harness::at(std::env::current_exe().unwrap().with_file_name("harness"))
    }

    /// `harness SETUP... -- CMD...`
    pub fn argv<S: AsRef<str>>(&self, setup: &Setup, cmd: &[S]) -> Vec<String> {
        let mut argv = vec![self.exe.to_string_lossy().into_owned()];
        argv.extend(setup.to_args());
        argv.push("--".into());
        argv.extend(cmd.iter().map(|c| c.as_ref().to_string()));
        argv
    }

    /// The same as a Command.
    pub fn command<S: AsRef<str>>(&self, setup: &Setup, cmd: &[S]) -> Command {
        let argv = self.argv(setup, cmd);
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    }

    /// The same, with `plan` installed just before the exec.
    pub fn under_seccomp<S: AsRef<str>>(&self, setup: &Setup, plan: &SeccompPlan, cmd: &[S]) -> Command {
        let mut c = self.command(setup, cmd);
        c.env(SeccompPlan::ENV, plan.encode());
        c
    }
}
