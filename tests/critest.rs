//! critest, cri-tools' CRI validation suite, on every node and on CRI-O: once with this image as
//! the sandbox image and once with catatonit -P (podman's pause process) on a fresh daemon of the
//! same node, with stand-ins for the images the suite runs (support/stand_ins.rs). No spec may
//! give another result with this image than with catatonit.
use pause_tests::containerd::Containerd;
use pause_tests::critest::{self, Results, State};
use pause_tests::for_each_node;
use pause_tests::image::{list_archive, list_name};
use pause_tests::stand_ins::{CATATONIT, catatonit_archive, stand_ins};

/// The stand-ins and one sandbox image, as oci-archives a node imports.
fn archives(sandbox: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    stand_ins().iter().map(|(a, _)| a.clone()).chain([sandbox]).collect()
}

/// The two runs at once, each on a daemon of its own (the suite mostly waits).
fn both(ours: impl FnOnce() -> Results + Send, theirs: impl FnOnce() -> Results + Send) -> (Results, Results) {
    // Both images built before the two threads start (a build is once per process).
    let _ = (stand_ins(), list_archive(), catatonit_archive());
    std::thread::scope(|s| {
        let theirs = s.spawn(theirs);
        (ours(), theirs.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

/// Every spec whose result differs between the two runs.
fn differences(ours: &Results, theirs: &Results) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = ours.specs.keys().chain(theirs.specs.keys()).collect();
    names
        .into_iter()
        .filter(|n| ours.specs.get(*n) != theirs.specs.get(*n))
        .map(|n| {
            format!(
                "{n}: {:?} with pause, {:?} with catatonit -P ({})",
                ours.specs.get(n),
                theirs.specs.get(n),
                ours.failures.get(n).or(theirs.failures.get(n)).map(|m| &m[..m.len().min(500)]).unwrap_or("")
            )
        })
        .collect()
}

/// No spec differs between the two runs on `node`, and this image's results are README's.
fn same_and_as_readme_says(node: &str, ours: &Results, theirs: &Results) {
    for (image, r) in [("pause", ours), ("catatonit -P", theirs)] {
        eprintln!(
            "critest on {node}, {image}: {} passed, {} failed, {} skipped",
            r.count(State::Passed),
            r.count(State::Failed),
            r.count(State::Skipped)
        );
    }
    let differ = differences(ours, theirs);
    assert!(differ.is_empty(), "{node}: {} specs differ between this image and catatonit -P:\n{}", differ.len(), differ.join("\n"));
    let differ = critest::readme_differences(node, ours);
    assert!(differ.is_empty(), "{node}: critest's results are not README's:\n{}", differ.join("\n"));
}

for_each_node! {
    /// critest gives every spec the same result with this image as the sandbox image as with catatonit -P.
    fn critest_gives_the_same_results_as_with_catatonit(node) {
        let (ours, theirs) = both(
            || critest::run(&Containerd::start_with(node, &list_name(), &archives(list_archive())), "pause"),
            || critest::run(&Containerd::start_with(node, CATATONIT, &archives(catatonit_archive())), "catatonit"),
        );
        same_and_as_readme_says(node.name, &ours, &theirs);
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
    let (ours, theirs) = both(
        || critest::run(&with(list_name(), list_archive(), "/pause"), "pause"),
        || critest::run(&with(CATATONIT.to_string(), catatonit_archive(), ""), "catatonit"),
    );
    same_and_as_readme_says(pause_tests::crio::MODULE, &ours, &theirs);
}
