//! The shipped seccomp profile (seccomp.json): its allow rules, per arch, and x86_64 syscalls by name.
use crate::arch::Arch;
use crate::cargo::repo_root;
use serde_json::Value;

/// One allow rule of the profile.
pub struct Rule {
    pub names: Vec<String>,
    /// None: every arch (else Kubernetes arch names, from "includes": {"arches": [...]}).
    pub arches: Option<Vec<String>>,
    /// A rule for pause's own syscalls; false for the runtime's (its comment starts "not pause").
    pub pauses_own: bool,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("an array").iter().map(|s| s.as_str().expect("a string").to_string()).collect()
}

/// The profile as JSON.
pub fn profile() -> Value {
    let path = repo_root().join("seccomp.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
            Rule {
                names: strings(&r["names"]),
                arches: r.get("includes").and_then(|i| i.get("arches")).map(strings),
                pauses_own: !r["comment"].as_str().unwrap_or_default().starts_with("not pause"),
            }
        })
        .collect()
}

/// The syscall names the profile allows on `arch`; with `runtime`, also the runtime's pre-exec rule.
pub fn allowed(arch: &Arch, runtime: bool) -> Vec<String> {
    let mut names: Vec<String> = rules()
        .into_iter()
        .filter(|r| r.pauses_own || runtime)
        .filter(|r| r.arches.as_ref().is_none_or(|a| a.iter().any(|x| x == arch.name)))
        .flat_map(|r| r.names)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The x86_64 syscall `name` (for the harness's strict filter).
pub fn x86_64_sysno(name: &str) -> syscalls::x86_64::Sysno {
    name.parse().unwrap_or_else(|_| panic!("{name} is no x86_64 syscall"))
}
