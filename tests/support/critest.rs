//! cri-tools' CRI validation suite (critest 1.37, built by tests/run) against a test's own daemon,
//! and its per-spec results, read from the suite's own JSON report (ginkgo's).
use crate::namespaces::visible_copy;
use crate::pod::CriDaemon;
use crate::process::run_within;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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
    /// critest's own output, for a failure message.
    pub log: PathBuf,
}

impl Results {
    pub fn count(&self, state: State) -> usize {
        self.specs.values().filter(|s| **s == state).count()
    }

    /// The specs in `state`.
    pub fn in_state(&self, state: State) -> Vec<&str> {
        self.specs.iter().filter(|(_, s)| **s == state).map(|(n, _)| n.as_str()).collect()
    }
}

/// Runs the suite against `daemon` in its network and mount namespaces (critest makes host paths
/// under /tmp that the runtime mounts, and reaches pods at their IPs and host ports), every group
/// but NOT_RUN; `label` names the run's files in the daemon's directory.
pub fn run(daemon: &impl CriDaemon, label: &str) -> Results {
    let critest = visible_copy(daemon.dir(), &crate::go_tools::tool("cri-tools-1.37", "critest"));
    let report = daemon.dir().join(format!("critest-{label}.json"));
    let log = daemon.dir().join(format!("critest-{label}.log"));
    let mut cmd = daemon.namespaces().enter();
    cmd.arg(&critest)
        .arg(format!("-runtime-endpoint=unix://{}", daemon.socket().display()))
        .arg(format!("-ginkgo.skip={NOT_RUN}"))
        .arg("-ginkgo.no-color")
        .arg(format!("-ginkgo.json-report={}", report.display()));
    let out = run_within(cmd, LIMIT);
    std::fs::write(&log, [out.stdout, out.stderr].concat()).unwrap();
    read(&report, log)
}

/// The results in ginkgo's JSON report `file`; only the suite's specs (It nodes), not the
/// groups skipped by NOT_RUN or the benchmarks critest itself leaves out.
fn read(file: &Path, log: PathBuf) -> Results {
    let json =
        std::fs::read(file).unwrap_or_else(|e| panic!("critest wrote no report {} ({e}); its output: {}", file.display(), log.display()));
    let reports: Vec<Report> = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
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
    Results { specs, failures, log }
}

/// Every node critest runs on, by the name README uses: the node table's, then CRI-O's.
pub fn node_names() -> Vec<&'static str> {
    crate::node::NODES.iter().map(|n| n.name).chain([crate::crio::MODULE]).collect()
}

/// One entry of README's list of the specs that do not pass: `- STATE on NODES: `PREFIX`: why`.
#[derive(Debug)]
pub struct Entry {
    pub state: State,
    pub nodes: Vec<String>,
    /// The entry stands for every spec whose name starts with this.
    pub prefix: String,
}

/// README's list (critest section), read as entries.
pub fn readme_entries() -> Vec<Entry> {
    let lines = crate::readme::lines_between("Every spec that does not pass", "");
    lines[1..lines.len() - 1]
        .iter()
        .map(|line| {
            let entry = line.strip_prefix("- ").unwrap_or_else(|| panic!("README critest list: not an entry: {line}"));
            let (head, rest) = entry.split_once(": `").unwrap_or_else(|| panic!("README critest list: no `spec`: {line}"));
            let prefix = rest.split_once('`').unwrap().0.to_string();
            let (state, nodes) = head.split_once(" on ").unwrap_or_else(|| panic!("README critest list: no STATE on NODES: {line}"));
            let state = match state {
                "failed" => State::Failed,
                "skipped" => State::Skipped,
                other => panic!("README critest list: state {other}: {line}"),
            };
            let nodes: Vec<String> = match nodes {
                "every node" => node_names().iter().map(|n| n.to_string()).collect(),
                some => some.split(", ").map(str::to_string).collect(),
            };
            for n in &nodes {
                assert!(node_names().contains(&n.as_str()), "README critest list names no node {n}: {line}");
            }
            Entry { state, nodes, prefix }
        })
        .collect()
}

/// Whether `results` on `node` are what README records: its counts row, and each spec that does
/// not pass matched by exactly one entry for the node with its state, each such entry by at least
/// one spec. Returns what differs.
pub fn readme_differences(node: &str, results: &Results) -> Vec<String> {
    let mut differ = Vec::new();
    let row = crate::readme::row(&format!("critest, `{node}`"));
    let counts = [State::Passed, State::Failed, State::Skipped].map(|s| results.count(s).to_string());
    if row[1..] != counts {
        differ.push(format!("README's counts (passed, failed, skipped) are {:?}; critest gave {counts:?}", &row[1..]));
    }
    let entries: Vec<Entry> = readme_entries().into_iter().filter(|e| e.nodes.iter().any(|n| n == node)).collect();
    for (spec, state) in results.specs.iter().filter(|(_, s)| **s != State::Passed) {
        let matching: Vec<&Entry> = entries.iter().filter(|e| spec.starts_with(&e.prefix)).collect();
        match matching.as_slice() {
            [e] if e.state == *state => {}
            [e] => differ.push(format!("{state:?}, README says {:?}: {spec}", e.state)),
            [] => differ.push(format!(
                "{state:?}, not in README's list: {spec}: {}",
                results.failures.get(spec).map(|m| &m[..m.len().min(300)]).unwrap_or("")
            )),
            _ => differ.push(format!("{state:?}, in README's list more than once: {spec}")),
        }
    }
    for e in &entries {
        if !results.specs.iter().any(|(spec, state)| *state != State::Passed && spec.starts_with(&e.prefix)) {
            differ.push(format!("README lists {:?} on {node}, but every spec there passed: {}", e.state, e.prefix));
        }
    }
    differ
}
