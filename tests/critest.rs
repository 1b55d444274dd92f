//! critest, cri-tools' CRI validation suite, on every node and on CRI-O: once with this image as
//! the sandbox image and once with catatonit -P (podman's pause process) on a fresh daemon of the
//! same node, with stand-ins for the images the suite runs (support/stand_ins.rs). No spec may
//! always give one result with this image and always another with catatonit (a spec in doubt runs
//! again on both: some of the suite's specs fail now and then with either), and the results are
//! docs/critest.md's.
use pause_tests::containerd::Containerd;
use pause_tests::critest;
use pause_tests::for_each_node;
use pause_tests::image::{list_archive, list_name};
use pause_tests::pod::CriDaemon;
use pause_tests::stand_ins::{CATATONIT, catatonit_archive, stand_ins};

/// The stand-ins and one sandbox image, as oci-archives a node imports.
fn archives(sandbox: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    stand_ins().iter().map(|(a, _)| a.clone()).chain([sandbox]).collect()
}

/// Two things at once (the suite on each daemon: it mostly waits).
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let b = s.spawn(b);
        (a(), b.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

/// The suite on two daemons at once, this image's (`a`) and catatonit's (`b`), each with the
/// registry its NRI specs pull from, judged (support/critest.rs: reruns of what is in doubt,
/// docs/critest.md's list and row).
fn compare<D: CriDaemon + Sync>(node: &str, a: &D, b: &D) {
    let _registries = (critest::nri_registry(a), critest::nri_registry(b));
    let (ours, theirs) = both(|| critest::run(a, "pause"), || critest::run(b, "catatonit"));
    let wrong = critest::judge(node, (a, &ours), (b, &theirs));
    assert!(wrong.is_empty(), "critest on {node}:\n{}", wrong.join("\n"));
}

for_each_node! {
    /// critest gives every spec the same result with this image as the sandbox image as with
    /// catatonit -P, and docs/critest.md's results.
    fn critest_gives_the_same_results_as_with_catatonit(node) {
        // Started by this thread: a daemon dies with the thread that started it (PR_SET_PDEATHSIG).
        let a = Containerd::start_with(node, &list_name(), &archives(list_archive()));
        let b = Containerd::start_with(node, CATATONIT, &archives(catatonit_archive()));
        compare(node.name, &a, &b);
    }
}

/// The same on CRI-O 1.36 with runc 1.5: this image with CRI-O's default `pause_command`
/// (`/pause`), catatonit with its entrypoint. CRI-O starts an infra process only for pods that
/// share their PID namespace (`drop_infra_ctr`), so those are the specs where the two can differ.
#[test]
fn critest_on_cri_o_gives_the_same_results_as_with_catatonit() {
    use pause_tests::crio::CriO;
    let wrapper = std::path::Path::new(env!("CARGO_BIN_EXE_oci-wrapper"));
    let with = |image: String, archive, command| {
        let images: Vec<_> = stand_ins().iter().cloned().chain([(archive, image.clone())]).collect();
        CriO::start_with(wrapper, &image, command, &images)
    };
    let (a, b) = (with(list_name(), list_archive(), "/pause"), with(CATATONIT.to_string(), catatonit_archive(), ""));
    compare(pause_tests::crio::MODULE, &a, &b);
}

/// docs/critest.md's list of the specs that do not pass reads as entries (`- STATE on NODES:
/// `PREFIX`: why`, STATE failed, skipped or flaky) that name only nodes critest runs on, and its
/// table has a row for each of them: a list the judge could not read would fail only after the
/// suite's runs.
#[test]
fn the_documented_list_and_table_read_for_every_node() {
    let entries = critest::readme_entries();
    assert!(!entries.is_empty(), "docs/critest.md lists no spec");
    assert!(entries.iter().all(|e| !e.nodes.is_empty() && !e.prefix.is_empty()), "{entries:#?}");
    for node in critest::node_names() {
        let row = pause_tests::readme::row(&format!("critest, `{node}`"));
        assert!(row[1].parse::<usize>().is_ok() && row[2].parse::<usize>().is_ok(), "critest's row for {node}: {row:?}");
    }
}
