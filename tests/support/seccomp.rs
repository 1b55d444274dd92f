//! The shipped seccomp profile (seccomp.json): its allow rules, per arch, and x86_64 syscalls by name.
use crate::arch::Arch;
use crate::cargo::repo_root;
use serde_json::Value;

/// One allow rule of the profile.
pub struct Rule {
    pub names: Vec<String>,
    /// None: every arch (else Kubernetes arch names, from "includes": {"arches": [...]}).
    pub arches: Option<Vec<String>>,
    /// A rule for pause's own syscalls; false for a runtime's (its comment starts "not pause").
    pub pauses_own: bool,
    /// For a runtime's rule, whose window it holds: its comment starts "not pause: <runtime
    /// name>[, <runtime name>...]:" (runtime.rs names them: "runc 1.1", "runc 1.3").
    pub runtimes: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("an array").iter().map(|s| s.as_str().expect("a string").to_string()).collect()
}

/// The profile as JSON.
pub fn profile() -> Value {
    let path = repo_root().join("seccomp.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The syscall names of a list of seccomp rules (an OCI `syscalls` array), sorted, once each.
pub fn names_of(rules: &Value) -> Vec<String> {
    let mut n: Vec<String> = rules
        .as_array()
        .expect("a list of rules")
        .iter()
        .flat_map(|r| r["names"].as_array().expect("a rule's names").iter().map(|n| n.as_str().expect("a syscall name").to_string()))
        .collect();
    n.sort();
    n.dedup();
    n
}

/// Every rule of the profile; fails unless it denies by default and only has allow rules.
pub fn rules() -> Vec<Rule> {
    let json = profile();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO", "the profile must deny by default");
    json["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .map(|r| {
            assert_eq!(r["action"], "SCMP_ACT_ALLOW", "only allow rules expected: {r}");
            let comment = r["comment"].as_str().unwrap_or_default();
            let runtimes = comment
                .strip_prefix("not pause: ")
                .and_then(|c| c.split_once(':'))
                .map(|(names, _)| names.split(", ").map(String::from).collect())
                .unwrap_or_default();
            Rule {
                names: strings(&r["names"]),
                arches: r.get("includes").and_then(|i| i.get("arches")).map(strings),
                pauses_own: !comment.starts_with("not pause"),
                runtimes,
            }
        })
        .collect()
}

/// The syscall names of the profile's rules that `keep` keeps and that apply on `arch`, sorted.
fn names_where(arch: &Arch, keep: impl Fn(&Rule) -> bool) -> Vec<String> {
    let mut names: Vec<String> = rules()
        .into_iter()
        .filter(|r| keep(r) && r.arches.as_ref().is_none_or(|a| a.iter().any(|x| x == arch.name)))
        .flat_map(|r| r.names)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The syscall names the profile allows on `arch` for pause itself.
pub fn allowed(arch: &Arch) -> Vec<String> {
    names_where(arch, |r| r.pauses_own)
}

/// The syscall names the profile allows on `arch` for pause plus one runtime's window (the rules
/// grouped under that runtime's name): what that runtime needs, alone.
pub fn allowed_with_runtime(arch: &Arch, runtime: &str) -> Vec<String> {
    names_where(arch, |r| r.pauses_own || r.runtimes.iter().any(|n| n == runtime))
}

/// The OCI seccomp section (config.json's linux.seccomp) that records what a runtime does under
/// the filter: pause's own amd64 syscalls allowed, and every other x86_64 syscall sent to the
/// listener at `listener` (seccomp_notify.rs) but `write`, which runtimes refuse to notify on
/// (they use it to talk to their parent then) and pause's rules allow anyway.
pub fn recording_section(listener: &std::path::Path) -> Value {
    let own = allowed(&crate::arch::AMD64);
    let notify: Vec<&str> =
        syscalls::x86_64::Sysno::iter().map(|s| s.name()).filter(|n| !own.iter().any(|o| o == n) && *n != "write").collect();
    serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "listenerPath": listener,
        "syscalls": [
            {"names": own, "action": "SCMP_ACT_ALLOW"},
            {"names": notify, "action": "SCMP_ACT_NOTIFY"}
        ]
    })
}

/// The x86_64 syscall `name` (for the harness's strict filter).
pub fn x86_64_sysno(name: &str) -> syscalls::x86_64::Sysno {
    name.parse().unwrap_or_else(|_| panic!("{name} is no x86_64 syscall"))
}
