//! Reading the shipped seccomp profile (seccomp.json) without a JSON library: it is small and
//! regular (an array of rule objects with "names", optional "includes": {"arches": [...]}, and a
//! "comment" that starts with "not pause" for the runtime's rule).
use crate::repo_root;

pub struct Rule {
    pub names: Vec<String>,
    /// None: every arch.
    pub arches: Option<Vec<String>>,
    /// A rule for pause's own syscalls (not the runtime's).
    pub pauses_own: bool,
}

fn strings_in(array: &str) -> Vec<String> {
    array.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

fn array_after<'a>(obj: &'a str, key: &str) -> Option<&'a str> {
    let start = obj.find(&format!("\"{key}\""))?;
    let rest = &obj[start..];
    let open = rest.find('[')?;
    let close = rest[open..].find(']')? + open;
    Some(&rest[open + 1..close])
}

pub fn rules() -> Vec<Rule> {
    let json = std::fs::read_to_string(repo_root().join("seccomp.json")).unwrap();
    assert!(json.contains("\"defaultAction\": \"SCMP_ACT_ERRNO\""), "the profile must deny by default");
    let syscalls = &json[json.find("\"syscalls\"").expect("syscalls")..];
    // Split the array into its top-level objects by brace depth.
    let mut rules = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in syscalls.char_indices() {
        match c {
            '{' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let obj = &syscalls[start..=i];
                    assert!(obj.contains("\"action\": \"SCMP_ACT_ALLOW\""), "only allow rules expected: {obj}");
                    rules.push(Rule {
                        names: strings_in(array_after(obj, "names").expect("names")),
                        arches: array_after(obj, "arches").map(strings_in),
                        pauses_own: !obj.contains("\"comment\": \"not pause"),
                    });
                }
            }
            _ => {}
        }
    }
    rules
}

/// The syscall names the profile allows on `arch` (a Kubernetes arch name); with `runtime`, also
/// the runtime's pre-exec rule.
pub fn allowed(arch: &str, runtime: bool) -> Vec<String> {
    let mut names: Vec<String> = rules()
        .into_iter()
        .filter(|r| r.pauses_own || runtime)
        .filter(|r| r.arches.as_ref().is_none_or(|a| a.iter().any(|x| x == arch)))
        .flat_map(|r| r.names)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// x86_64 syscall numbers of the names the profile can hold (the strict test filter needs numbers).
pub fn x86_64_number(name: &str) -> u32 {
    match name {
        "write" => 1,
        "close" => 3,
        "rt_sigaction" => 13,
        "rt_sigreturn" => 15,
        "pause" => 34,
        "getpid" => 39,
        "execve" => 59,
        "wait4" => 61,
        "fcntl" => 72,
        "fstatfs" => 138,
        "futex" => 202,
        "getdents64" => 217,
        "exit_group" => 231,
        "epoll_ctl" => 233,
        "openat" => 257,
        "ppoll" => 271,
        other => panic!("add {other}'s x86_64 number to tests/common/seccomp.rs"),
    }
}
