//! Distribution through a real registry (Debian's docker-registry on 127.0.0.1 in a network
//! namespace of the test's own): push every platform, pull each into an empty store, and count the
//! bytes the registry served from its access log.
use pause_tests::containerd::Containerd;
use pause_tests::image::{WIRE_BUDGET, images, layout_dir};
use pause_tests::node::DEBIAN_12;
use pause_tests::prelude::*;
use pause_tests::registry::{ADDRESS, Registry, Served, Store};

/// The image in the registry: 127.0.0.1:5000/pause:<version>.
fn remote() -> String {
    format!("{ADDRESS}/pause:{}", version())
}

/// A registry (in a containerd's network namespace, so that the CRI can pull from it too) holding
/// every platform of the shipping OCI layout, pushed with `skopeo copy --all`.
fn registry_with_the_image() -> (Containerd, Registry) {
    images();
    require("skopeo", "install skopeo (bash tests/run does)");
    let c = Containerd::start_with(&DEBIAN_12, "localhost/pause-not-used:0", &[]);
    let r = Registry::start(c.holder_pid());
    let layout = format!("oci:{}:{}", layout_dir().display(), pause_tests::image::list_name());
    let out = r.in_netns(&["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", &layout, &format!("docker://{}", remote())]);
    assert!(out.status.success(), "skopeo copy --all: {}{}", text(&out.stderr), r.log());
    (c, r)
}

fn list_bytes() -> u64 {
    pause_tests::layout::read_index(&layout_dir().join("index.json")).manifests()[0].size()
}

/// The registry path of the manifest list, by its tag.
fn list_path() -> Vec<String> {
    vec![format!("/v2/pause/manifests/{}", version())]
}

/// Each platform pulled into an empty store by its manifest digest: the registry serves exactly
/// its manifest, config and gzip layer, at most WIRE_BUDGET (1,536) bytes; pulled by tag with --platform it
/// serves the manifest list on top. Prints the measured table; README.md's and docs/' figures are
/// these.
#[test]
fn each_platform_pull_moves_at_most_1536_bytes() {
    let (_c, r) = registry_with_the_image();
    println!("{:<8} {:>12} {:>11}", "arch", "by-digest", "by-tag");
    let mut over = Vec::new();
    for i in images() {
        let from = r.served().len();
        Store::new().pull(&r, &[&format!("{ADDRESS}/pause@{}", i.weighed.manifest_digest)]);
        let (by_digest, served) = r.image_bytes_since(from, "pause", &i.pull_paths("pause"));
        assert_eq!(by_digest, i.on_the_wire(), "{}: the registry served {served:?}", i.arch.name);
        let from = r.served().len();
        Store::new().pull(&r, &["--platform", i.arch.platform, &remote()]);
        let (by_tag, served) = r.image_bytes_since(from, "pause", &[list_path(), i.pull_paths("pause")].concat());
        assert_eq!(by_tag, list_bytes() + i.on_the_wire(), "{}: by tag the registry served {served:?}", i.arch.name);
        println!("{:<8} {:>12} {:>11}", i.arch.name, by_digest, by_tag);
        // The figures README.md and docs/ give: every column "... on the wire ..." is a pull by
        // digest, "pull by tag" one by tag.
        for (column, bytes) in [("on the wire", by_digest), ("pull by tag", by_tag)] {
            let documented = pause_tests::readme::cells(i.arch.name, |h| h.contains(column));
            assert!(!documented.is_empty(), "README.md and docs/ give no `{column}` figure for {}", i.arch.name);
            assert!(
                documented.iter().all(|c| *c == bytes.to_string()),
                "{}: the docs say {documented:?} {column}; the registry served {bytes}",
                i.arch.name
            );
        }
        if by_digest > WIRE_BUDGET {
            over.push(format!("{}: {by_digest} bytes", i.arch.name));
        }
    }
    assert!(over.is_empty(), "over {WIRE_BUDGET} bytes on the wire: {over:?}");
}

/// containerd's CRI PullImage (as kubelet pulls) of the host's platform from the registry: it
/// moves the manifest list, then amd64's manifest, config and layer, and the image it reports is
/// the one built.
#[test]
fn the_cri_pull_moves_the_list_and_one_platform() {
    let (c, r) = registry_with_the_image();
    let from = r.served().len();
    let image_ref = c.cri().pull_image(&remote());
    let amd64 = &images()[0];
    let (bytes, served) = r.image_bytes_since(from, "pause", &[list_path(), amd64.pull_paths("pause")].concat());
    println!("CRI PullImage {image_ref}: {bytes} bytes");
    assert_eq!(bytes, list_bytes() + amd64.on_the_wire(), "the registry served {served:?}");
    assert_eq!(
        image_ref.trim_start_matches("sha256:"),
        amd64.weighed.id.trim_start_matches("sha256:"),
        "containerd's image is not the one built"
    );
}

/// A second CRI PullImage of the same image moves at most the manifest list: containerd asks for
/// the tag's digest (one HEAD, no body), finds it unchanged, and fetches nothing; the image is the
/// same. (podman 4.3 fetches the list, the platform manifest and the config again: docs/image.md.)
#[test]
fn a_second_cri_pull_moves_at_most_the_manifest_list() {
    let (c, r) = registry_with_the_image();
    let first = c.cri().pull_image(&remote());
    let from = r.served().len();
    let second = c.cri().pull_image(&remote());
    let (_, served) = r.image_bytes_since(from, "pause", &list_path());
    let image: Vec<&Served> = served.iter().filter(|s| s.path.starts_with("/v2/pause/")).collect();
    let list = &list_path()[0];
    assert!(image.iter().all(|s| &s.path == list), "the second pull asked for more than the list: {served:?}");
    assert!(!image.is_empty(), "the second pull did not ask the registry at all: the test proves nothing");
    let bytes: u64 = image.iter().filter(|s| s.method == "GET").map(|s| s.bytes).sum();
    assert!(bytes <= list_bytes(), "{bytes} bytes");
    println!("second CRI pull: {:?}", image.iter().map(|s| format!("{} {} ({} bytes)", s.method, s.path, s.bytes)).collect::<Vec<_>>());
    assert_eq!(second, first, "the image changed between two pulls");
}
