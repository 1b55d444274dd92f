//! cri-tools' CRI validation suite (critest 1.37, built by tests/run) against a test's own daemon,
//! and its per-spec results, read from the suite's own JSON report (ginkgo's).
use crate::namespaces::visible_copy;
use crate::pod::CriDaemon;
use crate::process::{last_lines, run_within, text};
use crate::registry::{ADDRESS, MIRRORED, Registry};
use crate::stand_ins::{BUSYBOX, stand_ins};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The suite's top-level groups that are not run, and why: they test the image service (pulls from
/// registry.k8s.io and gcr.io by name and digest, tags and removal), never a sandbox.
pub const NOT_RUN: &str = "Image Manager|Image Consistency|Image Identifier Consistency|Image Volume";

/// How long one run of the suite may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20 * 60);

/// One spec's outcome, as ginkgo reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Passed,
    Failed,
    Skipped,
    Pending,
    Panicked,
    Aborted,
    Interrupted,
    Timedout,
}

/// The parts of ginkgo's JSON report read here (types.Report).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Report {
    spec_reports: Vec<SpecReport>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpecReport {
    #[serde(default)]
    container_hierarchy_texts: Option<Vec<String>>,
    leaf_node_text: String,
    leaf_node_type: String,
    state: State,
    #[serde(default)]
    failure: Option<Failure>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Failure {
    message: String,
}

/// One run's results: every spec by its full name (its containers' texts and its own).
#[derive(Debug)]
pub struct Results {
    pub specs: BTreeMap<String, State>,
    /// Each failed spec's failure message.
    pub failures: BTreeMap<String, String>,
}

/// Runs the suite against `daemon` in its network and mount namespaces (critest makes host paths
/// under /tmp that the runtime mounts, and reaches pods at their IPs and host ports), every group
/// but NOT_RUN, the NRI specs with the daemon's NRI socket where it runs NRI (they skip
/// themselves without one); `label` names the run's report in the daemon's directory.
pub fn run(daemon: &impl CriDaemon, label: &str) -> Results {
    run_focused(daemon, label, &[])
}

/// The same, only the specs named (every spec when none is).
pub fn run_focused(daemon: &impl CriDaemon, label: &str, specs: &[&str]) -> Results {
    let critest = visible_copy(daemon.dir(), &crate::go_tools::tool("cri-tools-1.37", "critest"));
    let report = daemon.dir().join(format!("critest-{label}.json"));
    let mut cmd = daemon.namespaces().enter();
    cmd.arg(&critest)
        .arg(format!("-runtime-endpoint=unix://{}", daemon.socket().display()))
        .arg(format!("-ginkgo.skip={NOT_RUN}"))
        .args(daemon.nri_socket().map(|nri| format!("-nri-socket={}", nri.display())))
        .args(specs.iter().map(|spec| format!("-ginkgo.focus={}$", quote_meta(spec))))
        .arg("-ginkgo.no-color")
        .arg(format!("-ginkgo.json-report={}", report.display()));
    let out = run_within(cmd, LIMIT);
    let Ok(json) = std::fs::read(&report) else {
        // The daemon's directory goes with the test: what critest said is in the failure itself,
        // ginkgo's last progress (stdout) and the start of an error or a Go panic (stderr).
        let last = last_lines(&text(&out.stdout), SHOWN);
        let first = text(&out.stderr).lines().take(SHOWN).collect::<Vec<_>>().join("\n");
        panic!(
            "critest ({}) wrote no report {}; the last {SHOWN} lines of its stdout:\n{last}\nthe first {SHOWN} of its stderr:\n{first}",
            out.status,
            report.display()
        );
    };
    read(&report, &json)
}

/// How many lines of critest's stdout (the last) and stderr (the first) a run that wrote no
/// report shows.
const SHOWN: usize = 100;

/// What critest's NRI specs pull (they call PullImage; the rest of the suite runs the imported
/// stand-ins): the busybox stand-in, pushed to a registry in `daemon`'s network namespace, where
/// the daemon's config finds `registry::MIRRORED`. None where the daemon runs no NRI (the specs
/// skip themselves there). Stopped when dropped.
pub fn nri_registry(daemon: &impl CriDaemon) -> Option<Registry> {
    daemon.nri_socket()?;
    crate::process::require("skopeo", "install skopeo (bash tests/run does)");
    let r = Registry::start(daemon.namespaces().pid());
    let (archive, _) = stand_ins().iter().find(|(_, name)| name == BUSYBOX).expect("a busybox stand-in");
    let repository = BUSYBOX.strip_prefix(&format!("{MIRRORED}/")).expect("busybox is the mirrored registry's");
    let (from, to) = (format!("oci-archive:{}", archive.display()), format!("docker://{ADDRESS}/{repository}"));
    let out = r.in_netns(&["skopeo", "copy", "--quiet", "--dest-tls-verify=false", &from, &to]);
    assert!(out.status.success(), "skopeo copy {from} {to}: {}{}", crate::process::text(&out.stderr), r.log());
    Some(r)
}

/// `spec` as a regular expression that matches only itself (Go's regexp.QuoteMeta).
fn quote_meta(spec: &str) -> String {
    spec.chars().fold(String::new(), |mut q, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            q.push('\\');
        }
        q.push(c);
        q
    })
}

/// The results in ginkgo's JSON report `json` (read from `file`); only the suite's specs (It
/// nodes), not the groups skipped by NOT_RUN or the benchmarks critest itself leaves out.
fn read(file: &Path, json: &[u8]) -> Results {
    let reports: Vec<Report> = serde_json::from_slice(json).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (mut specs, mut failures) = (BTreeMap::new(), BTreeMap::new());
    for spec in reports.into_iter().flat_map(|r| r.spec_reports) {
        if spec.leaf_node_type != "It" {
            continue;
        }
        let mut name = spec.container_hierarchy_texts.unwrap_or_default();
        name.push(spec.leaf_node_text);
        let name = name.join(" ");
        if spec.state == State::Skipped && spec.failure.is_none() {
            // Skipped by a filter (NOT_RUN, critest's own benchmark filter) before it ran.
            continue;
        }
        if let Some(f) = spec.failure {
            failures.insert(name.clone(), f.message);
        }
        assert!(specs.insert(name.clone(), spec.state).is_none(), "two specs named {name}");
    }
    Results { specs, failures }
}

/// Every node critest runs on, by the name the docs use: the node table's, then CRI-O's.
pub fn node_names() -> Vec<&'static str> {
    crate::node::NODES.iter().map(|n| n.name).chain([crate::crio::MODULE]).collect()
}

/// What docs/critest.md says of a spec that does not always pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Listed {
    /// It never passes there (failed or skipped).
    Always(State),
    /// It passes in some runs and fails or skips itself in others, with either image.
    Flaky,
}

/// One entry of docs/critest.md's list of the specs that do not pass: `- STATE on NODES: `PREFIX`: why`.
#[derive(Debug)]
pub struct Entry {
    pub listed: Listed,
    pub nodes: Vec<String>,
    /// The entry stands for every spec whose name starts with this.
    pub prefix: String,
}

/// docs/critest.md's list (critest section), read as entries.
pub fn readme_entries() -> Vec<Entry> {
    let lines = crate::readme::lines_between("Every spec that does not pass", "");
    // The entries: from the first line that starts one (the heading may wrap) to the blank line.
    let first = lines.iter().position(|l| l.starts_with("- ")).expect("docs/critest.md's list has no entry");
    lines[first..lines.len() - 1]
        .iter()
        .map(|line| {
            let entry = line.strip_prefix("- ").unwrap_or_else(|| panic!("docs/critest.md's list: not an entry: {line}"));
            let (head, rest) = entry.split_once(": `").unwrap_or_else(|| panic!("docs/critest.md's list: no `spec`: {line}"));
            let prefix = rest.split_once('`').unwrap().0.to_string();
            let (state, nodes) = head.split_once(" on ").unwrap_or_else(|| panic!("docs/critest.md's list: no STATE on NODES: {line}"));
            let listed = match state {
                "failed" => Listed::Always(State::Failed),
                "skipped" => Listed::Always(State::Skipped),
                "flaky" => Listed::Flaky,
                other => panic!("docs/critest.md's list: state {other}: {line}"),
            };
            let nodes: Vec<String> = match nodes {
                "every node" => node_names().iter().map(|n| n.to_string()).collect(),
                some => some.split(", ").map(str::to_string).collect(),
            };
            for n in &nodes {
                assert!(node_names().contains(&n.as_str()), "docs/critest.md's list names no node {n}: {line}");
            }
            Entry { listed, nodes, prefix }
        })
        .collect()
}

/// How often a spec whose result is in doubt (it differs between the images, or is not what
/// docs/critest.md lists) is run again on both daemons.
const RERUNS: usize = 2;

/// Every result each spec had with one image, over the full run and the reruns.
type Outcomes = BTreeMap<String, Vec<State>>;

fn outcomes(r: &Results) -> Outcomes {
    r.specs.iter().map(|(n, s)| (n.clone(), vec![*s])).collect()
}

/// The one result a spec always had, or None if it had more than one (flaky).
fn always(states: &[State]) -> Option<State> {
    states.iter().all(|s| *s == states[0]).then(|| states[0])
}

/// critest's full runs on `node` with this image (`ours`, on daemon `a`) and catatonit -P
/// (`theirs`, on daemon `b`), judged: a spec whose result differs between them, or is not what
/// docs/critest.md lists for the node, runs RERUNS times more on both daemons at once. Returns what is
/// wrong: a spec that always had one result with this image and always another with catatonit;
/// a spec that always fails or skips with this image and docs/critest.md does not list so; an entry there
/// for the node whose specs always passed; fewer specs passing (passed in some run) than docs/critest.md's
/// row, or another number of specs.
pub fn judge(
    node: &str,
    (a, ours): (&(impl CriDaemon + Sync), &Results),
    (b, theirs): (&(impl CriDaemon + Sync), &Results),
) -> Vec<String> {
    let entries: Vec<Entry> = readme_entries().into_iter().filter(|e| e.nodes.iter().any(|n| n == node)).collect();
    let listed = |spec: &str| -> Vec<Listed> { entries.iter().filter(|e| spec.starts_with(&e.prefix)).map(|e| e.listed).collect() };
    let as_listed = |spec: &str, state: State| match listed(spec).as_slice() {
        [] => state == State::Passed,
        [Listed::Flaky] => true,
        [Listed::Always(s)] => *s == state,
        _ => false,
    };
    let (mut o_ours, mut o_theirs) = (outcomes(ours), outcomes(theirs));
    // In doubt: a spec with one result so far on each side (none flaky yet) that differs between
    // the images or is not what docs/critest.md lists.
    let doubtful = |o_ours: &Outcomes, o_theirs: &Outcomes| -> Vec<String> {
        o_ours
            .iter()
            .filter(|(spec, states)| match (always(states), o_theirs.get(*spec).and_then(|s| always(s))) {
                (Some(mine), Some(others)) => mine != others || !as_listed(spec, mine),
                _ => false,
            })
            .map(|(spec, _)| spec.clone())
            .collect()
    };
    for round in 1..=RERUNS {
        let again = doubtful(&o_ours, &o_theirs);
        if again.is_empty() {
            break;
        }
        eprintln!("critest on {node}: round {round} of reruns, on both daemons: {again:#?}");
        let specs: Vec<&str> = again.iter().map(String::as_str).collect();
        let (r_ours, r_theirs) = std::thread::scope(|s| {
            let theirs = s.spawn(|| run_focused(b, &format!("catatonit-{round}"), &specs));
            (run_focused(a, &format!("pause-{round}"), &specs), theirs.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        });
        for (o, r) in [(&mut o_ours, &r_ours), (&mut o_theirs, &r_theirs)] {
            for spec in &again {
                let state = *r.specs.get(spec).unwrap_or_else(|| panic!("the rerun of {spec} did not run it"));
                o.get_mut(spec).unwrap().push(state);
            }
        }
    }
    let mut wrong = Vec::new();
    let names: std::collections::BTreeSet<&String> = o_ours.keys().chain(o_theirs.keys()).collect();
    let message = |spec: &str| {
        let m = ours.failures.get(spec).or(theirs.failures.get(spec)).map(String::as_str).unwrap_or("");
        m[..m.len().min(500)].to_string()
    };
    for spec in names {
        let (mine, others) = (o_ours.get(spec).cloned().unwrap_or_default(), o_theirs.get(spec).cloned().unwrap_or_default());
        if mine.iter().all(|s| !others.contains(s)) {
            wrong.push(format!("differs: {spec}: {mine:?} with this image, {others:?} with catatonit -P ({})", message(spec)));
            continue;
        }
        if always(&mine).is_none() || always(&others).is_none() {
            eprintln!("critest on {node}: flaky: {spec}: {mine:?} with this image, {others:?} with catatonit -P");
        }
        match (always(&mine), listed(spec).as_slice()) {
            (None, _) | (Some(_), [Listed::Flaky]) => {}
            (Some(s), []) if s != State::Passed => wrong.push(format!("{s:?}, not in docs/critest.md's list: {spec} ({})", message(spec))),
            (Some(s), [Listed::Always(l)]) if s != *l => {
                wrong.push(format!("{s:?}, docs/critest.md lists it {l:?}: {spec} ({})", message(spec)))
            }
            (_, l) if l.len() > 1 => wrong.push(format!("in docs/critest.md's list more than once: {spec}")),
            _ => {}
        }
    }
    for e in &entries {
        let matching: Vec<&Vec<State>> = o_ours.iter().filter(|(spec, _)| spec.starts_with(&e.prefix)).map(|(_, s)| s).collect();
        if matching.is_empty() || (e.listed != Listed::Flaky && matching.iter().all(|s| s.iter().all(|s| *s == State::Passed))) {
            wrong.push(format!(
                "docs/critest.md lists {:?} on {node}, but no such spec ran or each passed every time: {}",
                e.listed, e.prefix
            ));
        }
    }
    let row = crate::readme::row(&format!("critest, `{node}`"));
    let passed = o_ours.values().filter(|s| s.contains(&State::Passed)).count();
    let total = o_ours.len();
    if row[1].parse::<usize>().ok().is_none_or(|p| passed < p) || row[2] != total.to_string() {
        wrong.push(format!("docs/critest.md's row says {} of {} specs pass; {passed} of {total} passed", row[1], row[2]));
    }
    eprintln!("critest on {node}: {passed} of {total} specs passed with this image");
    wrong
}
