//! The tests' Go module (tests/go, built by tests/go-tools): each program is pinned at the version
//! its node row names, built with exactly its own project's dependency versions, and says its
//! version; kubelet's staging replaces are derived from kubernetes' own go.mod.
use pause_tests::go_tools::*;
use pause_tests::process::{run_to_end, text};
use std::process::Command;

/// Every program module pins what its node or runtime row says, and builds with its project's own
/// dependency versions: MVS over the project's go.mod changed nothing (no dependency raised by
/// another requirement), so what runs is what the project released.
#[test]
fn each_go_module_builds_its_project_with_the_projects_own_dependency_versions() {
    let modules = modules();
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["containerd-2.3", "containerd-2.4", "cri-o-1.36", "cri-tools-1.37", "kubelet-1.37", "runc-1.4", "runc-1.5"]);
    for (name, dir) in &modules {
        let ours = GoMod::read(&dir.join("go.mod"));
        let project = ours.project();
        let minor = name.rsplit_once('-').unwrap().1;
        assert!(project.version.starts_with(&format!("v{minor}.")), "tests/go/{name} pins {} {}", project.path, project.version);
        assert!(!ours.tool.is_empty(), "tests/go/{name} names no tool to build");
        let upstream = GoMod::read(&upstream_go_mod(&project.path, &project.version));
        let mut compared = 0;
        // What the project requires for parts not built here (its tests, other commands) is not in
        // the build list; every module both require must be at the project's version.
        for r in upstream.require.iter().filter(|r| r.version != "v0.0.0" && ours.version_of(&r.path).is_some()) {
            let got = ours.version_of(&r.path);
            assert_eq!(
                got,
                Some(r.version.as_str()),
                "tests/go/{name}: {} is not at {}@{}'s version",
                r.path,
                project.path,
                project.version
            );
            compared += 1;
        }
        assert!(compared > 10, "tests/go/{name}: only {compared} requirements compared");
    }
}

/// kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and
/// replaces them with local paths the proxy cannot serve: kubelet's module replaces exactly that
/// list, each with v0.<minor>.<patch> of the kubernetes version, and keeps its godebug line.
#[test]
fn kubelet_replaces_exactly_the_staging_modules_kubernetes_requires_at_v0_0_0() {
    let dir = pause_tests::cargo::repo_root().join("tests/go/kubelet-1.37");
    let ours = GoMod::read(&dir.join("go.mod"));
    let kubernetes = ours.project();
    assert_eq!(kubernetes.path, "k8s.io/kubernetes");
    let staging_version = format!("v0.{}", kubernetes.version.strip_prefix("v1.").unwrap());
    let upstream = GoMod::read(&upstream_go_mod(&kubernetes.path, &kubernetes.version));
    let mut staging: Vec<&str> = upstream.require.iter().filter(|r| r.version == "v0.0.0").map(|r| r.path.as_str()).collect();
    staging.sort();
    let mut replaced: Vec<&str> = ours.replace.iter().map(|r| r.old.path.as_str()).collect();
    replaced.sort();
    assert_eq!(replaced, staging, "the replaces are not kubernetes' v0.0.0 requirements");
    for r in &ours.replace {
        assert_eq!(
            (r.new.path.as_str(), r.new.version.as_str()),
            (r.old.path.as_str(), staging_version.as_str()),
            "replace of {}",
            r.old.path
        );
    }
    // `go mod edit -json` (Go 1.26) leaves godebug out: the directive's lines, as written.
    let godebug = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().filter(|l| l.starts_with("godebug")).map(String::from).collect()
    };
    let theirs = godebug(&upstream_go_mod(&kubernetes.path, &kubernetes.version));
    assert!(!theirs.is_empty(), "kubernetes' go.mod has no godebug line to copy");
    assert_eq!(godebug(&dir.join("go.mod")), theirs, "godebug");
}

/// What a program tests/run built prints for its version flag (stdout).
fn version_output(module: &str, program: &str, flag: &str) -> String {
    let mut cmd = Command::new(tool(module, program));
    cmd.arg(flag);
    let out = run_to_end(cmd);
    assert!(out.status.success(), "{program} {flag}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Its first line.
fn version_of(module: &str, program: &str, flag: &str) -> String {
    version_output(module, program, flag).lines().next().unwrap_or_default().to_string()
}

/// Each built program says the version its go.mod pins, as the project's own build makes it say.
#[test]
fn each_built_program_says_the_version_its_module_pins() {
    let pinned = |name: &str| {
        let m = GoMod::read(&pause_tests::cargo::repo_root().join("tests/go").join(name).join("go.mod"));
        m.project().version.clone()
    };
    for name in ["containerd-2.3", "containerd-2.4"] {
        let v = pinned(name);
        assert_eq!(version_of(name, "containerd", "--version").trim(), format!("containerd github.com/containerd/containerd/v2 {v}"));
        assert_eq!(version_of(name, "ctr", "--version"), format!("ctr github.com/containerd/containerd/v2 {v}"));
        let shim = version_output(name, "containerd-shim-runc-v2", "-v");
        assert!(shim.lines().any(|l| l.split_whitespace().eq(["Version:", v.as_str()])), "{name}: the shim says {shim}");
    }
    for name in ["runc-1.4", "runc-1.5"] {
        let v = pinned(name);
        assert_eq!(version_of(name, "runc", "--version"), format!("runc version {}", v.trim_start_matches('v')));
    }
    let v = pinned("cri-tools-1.37");
    assert_eq!(version_of("cri-tools-1.37", "crictl", "--version"), format!("crictl version {}", v.trim_start_matches('v')));
    assert_eq!(version_of("cri-tools-1.37", "critest", "--version"), format!("critest version: {}", v.trim_start_matches('v')));
    // CRI-O's version is a constant of its source (internal/version), not an ldflag.
    let v = pinned("cri-o-1.36");
    assert_eq!(version_of("cri-o-1.36", "crio", "--version"), format!("crio version {}", v.trim_start_matches('v')));
    let v = pinned("kubelet-1.37");
    assert_eq!(version_of("kubelet-1.37", "kubelet", "--version"), format!("Kubernetes {v}"));
}

/// Every mention of a kubelet, critest or cri-tools release in README.md and docs/ is the one the
/// tests' Go modules pin (of the same minor line): the prose cannot drift from go.mod.
#[test]
fn the_documented_kubelet_and_cri_tools_releases_are_the_pinned_ones() {
    let pinned = |name: &str| {
        let m = GoMod::read(&pause_tests::cargo::repo_root().join("tests/go").join(name).join("go.mod"));
        m.project().version.trim_start_matches('v').to_string()
    };
    for (word, module) in [("kubelet", "kubelet-1.37"), ("critest", "cri-tools-1.37"), ("cri-tools", "cri-tools-1.37")] {
        let v = pinned(module);
        let said = pause_tests::readme::versions_of(word, &v);
        assert!(!said.is_empty() && said.iter().all(|s| *s == v), "README.md or docs/ name {word} {said:?}; tests/go/{module} pins {v}");
    }
}
