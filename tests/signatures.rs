//! Verify what you run, through a real registry (Debian's docker-registry in network namespaces of
//! the test's own): the images signed and attested (SBOM, provenance) with cosign and a throwaway
//! key, verified offline; another key, a changed image, a plain pull's bytes, and the signed
//! layout copied into a second registry (docs/supply-chain.md).
use pause_tests::cosign::{Cosign, KeyPair, Predicate, TEST_KEY_PASSWORD};
use pause_tests::image::{Build, Image, images};
use pause_tests::layout::index_digest;
use pause_tests::layout::{read_json, sha256};
use pause_tests::namespaces::Namespaces;
use pause_tests::node::Root;
use pause_tests::prelude::*;
use pause_tests::registry::{ADDRESS, Registry, Store};
use pause_tests::signing::{SigningRegistry, sign_into_layout};
use serde_json::Value;

/// A registry of the test's own (in namespaces of its own) holding the shipping build, signed and
/// attested with a throwaway key; and cosign there.
struct Signed {
    r: SigningRegistry,
    key: KeyPair,
    index: String,
}

const REPOSITORY: &str = "pause";

fn repository() -> String {
    format!("{ADDRESS}/{REPOSITORY}")
}

impl Signed {
    fn new() -> Signed {
        let r = SigningRegistry::new("signed");
        let key = r.cosign.generate_key_pair(&r.scratch.join("keys"), "cosign", TEST_KEY_PASSWORD);
        let index = r.push_signed(&Build::tested(), images(), &key, &repository());
        Signed { r, key, index }
    }

    fn platform(&self, i: &Image) -> String {
        format!("{}@{}", repository(), i.weighed.manifest_digest)
    }

    /// The index and every platform image.
    fn references(&self) -> Vec<String> {
        std::iter::once(self.index.clone()).chain(images().iter().map(|i| self.platform(i))).collect()
    }
}

/// `cosign verify --key` passes for the pushed index and every platform image, and for the tag
/// (README's first verify command), which names the index.
#[test]
fn cosign_verifies_the_index_and_every_platform() {
    let s = Signed::new();
    let tag = format!("{}:{}", repository(), version());
    let out = s.r.cosign.verify(&s.key.public, &tag);
    assert!(out.status.success(), "{tag}: {}", text(&out.stderr));
    let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims[0]["critical"]["image"]["docker-manifest-digest"], s.index.split('@').nth(1).unwrap(), "{tag}");
    for r in s.references() {
        let out = s.r.cosign.verify(&s.key.public, &r);
        assert!(out.status.success(), "{r}: {}", text(&out.stderr));
        let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(claims[0]["critical"]["image"]["docker-manifest-digest"], r.split('@').nth(1).unwrap(), "{r}");
    }
}

/// `cosign verify-attestation --type spdxjson` and `--type slsaprovenance1` pass for every
/// platform image (its own SBOM and provenance, byte for byte what the images command wrote) and
/// for the index (every platform's).
#[test]
fn cosign_verifies_the_sbom_and_provenance_attestations() {
    let s = Signed::new();
    let build = Build::tested();
    for i in images() {
        let sboms = s.r.cosign.verify_attestation(&s.key.public, Predicate::Spdx, &s.platform(i)).unwrap();
        assert_eq!(sboms.len(), 1, "{}", i.arch.name);
        assert_eq!(sboms[0]["predicateType"], Predicate::Spdx.predicate_type());
        assert_eq!(sboms[0]["predicate"], read_json(&build.sbom(i.arch)), "{}", i.arch.name);
        let provenances = s.r.cosign.verify_attestation(&s.key.public, Predicate::SlsaProvenance1, &s.platform(i)).unwrap();
        assert_eq!(provenances.len(), 1, "{}", i.arch.name);
        assert_eq!(provenances[0]["predicateType"], Predicate::SlsaProvenance1.predicate_type());
        assert_eq!(provenances[0]["predicate"], read_json(&build.provenance(i.arch))["predicate"], "{}", i.arch.name);
        assert_eq!(format!("sha256:{}", provenances[0]["subject"][0]["digest"]["sha256"].as_str().unwrap()), i.weighed.manifest_digest);
    }
    for kind in [Predicate::Spdx, Predicate::SlsaProvenance1] {
        let on_index = s.r.cosign.verify_attestation(&s.key.public, kind, &s.index).unwrap();
        assert_eq!(on_index.len(), ARCHES.len(), "{kind:?} on the index");
    }
}

/// cosign's errors (pkg/cosign/errors.go) for a signature or attestation made with another key...
const NO_MATCHING_SIGNATURES: &str = "no matching signatures";
const NO_MATCHING_ATTESTATIONS: &str = "no matching attestations";
/// ...and for an image that has none (a changed image is another digest).
const NO_SIGNATURES_FOUND: &str = "no signatures found";
const NO_ATTESTATIONS_FOUND: &str = "no matching attestations";

/// Another key verifies neither a signature nor an attestation.
#[test]
fn another_key_verifies_nothing() {
    let s = Signed::new();
    let other = s.r.cosign.generate_key_pair(&s.r.scratch.join("other"), "other", TEST_KEY_PASSWORD);
    for r in s.references() {
        let out = s.r.cosign.verify(&other.public, &r);
        assert!(!out.status.success(), "{r} verified with another key");
        assert!(text(&out.stderr).contains(NO_MATCHING_SIGNATURES), "{r}: cosign failed for another reason: {}", text(&out.stderr));
        for kind in [Predicate::Spdx, Predicate::SlsaProvenance1] {
            let err =
                s.r.cosign.verify_attestation(&other.public, kind, &r).expect_err(&format!("{r}: {kind:?} verified with another key"));
            assert!(err.contains(NO_MATCHING_ATTESTATIONS), "{r}: {kind:?}: cosign failed for another reason: {err}");
        }
    }
}

/// An image whose config was changed after signing (here: a label added, pushed under the same
/// tag) is another digest, and neither its signature nor its attestations verify.
#[test]
fn an_image_changed_after_signing_does_not_verify() {
    let s = Signed::new();
    let amd64 = images().iter().find(|i| i.arch == &AMD64).unwrap();
    let tampered = s.r.scratch.join("tampered");
    let from = format!("docker://{}", s.platform(amd64));
    s.r.registry.in_netns_ok(&["skopeo", "copy", "--quiet", "--src-tls-verify=false", &from, &format!("oci:{}:x", tampered.display())]);
    // Change the config: one more label; rewrite the manifest to point at it.
    let index = read_json(&tampered.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let blob = |d: &str| tampered.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    let mut manifest = read_json(&blob(&manifest_digest));
    let mut config = read_json(&blob(manifest["config"]["digest"].as_str().unwrap()));
    config["config"]["Labels"]["tampered"] = "yes".into();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let config_digest = pause_tests::layout::put_blob(&tampered, &config_bytes);
    manifest["config"]["digest"] = config_digest.into();
    manifest["config"]["size"] = config_bytes.len().into();
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let new_digest = pause_tests::layout::put_blob(&tampered, &manifest_bytes);
    let mut index = index;
    index["manifests"][0]["digest"] = new_digest.clone().into();
    index["manifests"][0]["size"] = manifest_bytes.len().into();
    std::fs::write(tampered.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let tag = format!("{}:{}-amd64", repository(), version());
    s.r.registry.in_netns_ok(&[
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("oci:{}:x", tampered.display()),
        &format!("docker://{tag}"),
    ]);
    assert_ne!(new_digest, amd64.weighed.manifest_digest);
    for r in [tag.clone(), format!("{}@{new_digest}", repository())] {
        let out = s.r.cosign.verify(&s.key.public, &r);
        assert!(!out.status.success(), "{r}: the changed image verified");
        assert!(text(&out.stderr).contains(NO_SIGNATURES_FOUND), "{r}: cosign failed for another reason: {}", text(&out.stderr));
        for kind in [Predicate::Spdx, Predicate::SlsaProvenance1] {
            let err =
                s.r.cosign.verify_attestation(&s.key.public, kind, &r).expect_err(&format!("{r}: {kind:?} of the changed image verified"));
            assert!(err.contains(NO_ATTESTATIONS_FOUND), "{r}: {kind:?}: cosign failed for another reason: {err}");
        }
    }
}

/// Signatures and attestations live beside the image (cosign's own tags), not in it: a plain pull
/// of each platform by digest still moves exactly the image's bytes (the registry test's figures).
#[test]
fn a_plain_pull_moves_the_same_bytes_after_signing() {
    let s = Signed::new();
    for i in images() {
        let from = s.r.registry.served().len();
        Store::new().pull(&s.r.registry, &[&s.platform(i)]);
        let (bytes, served) = s.r.registry.image_bytes_since(from, REPOSITORY, &i.pull_paths(REPOSITORY));
        assert_eq!(bytes, i.on_the_wire(), "{}: {served:?}", i.arch.name);
    }
}

/// docs/supply-chain.md's air-gapped copy, as it is typed there: the `for tag in $(jq ...)` loop of skopeo
/// copies, with the layout's path and `<registry>` filled in.
fn readme_air_gapped_copy(layout: &std::path::Path, registry: &str) -> String {
    let script = pause_tests::readme::lines_between("for tag in $(jq", "done").join("\n");
    assert!(script.contains("target/images/oci/signed") && script.contains("<registry>"), "docs/supply-chain.md's loop changed:\n{script}");
    script.replace("target/images/oci/signed", layout.to_str().unwrap()).replace("<registry>", registry)
}

/// Air-gapped: what `images --sign-key` writes (`sign_into_layout`: the signed repository as one
/// OCI layout, every tag), copied by docs/supply-chain.md's loop into an empty registry standing for the node's
/// (under another name than the one it was signed in), verifies there: the index and every
/// platform, signatures and both attestations came along.
#[test]
fn the_signed_layout_carries_signatures_and_attestations_into_another_registry() {
    let images = images();
    require("jq", "install jq (bash tests/run does)");
    let scratch = Scratch::new("air-gap");
    let node = Namespaces::new(&Root::Host, scratch.path(), &[]);
    let cosign = Cosign { netns_pid: node.pid(), home: scratch.join("cosign") };
    std::fs::create_dir_all(&cosign.home).unwrap();
    let key = cosign.generate_key_pair(&scratch.join("keys"), "cosign", TEST_KEY_PASSWORD);
    let layout = scratch.join("signed");
    sign_into_layout(&Build::tested(), images, &key, &layout);
    let registry = Registry::start(node.pid());
    let at_node = "localhost:5000";
    // The test registry speaks plain HTTP (the loop is typed for a real one, with TLS): the one
    // change to docs/supply-chain.md's loop is skopeo's flag for that.
    let script = readme_air_gapped_copy(&layout, at_node).replace("skopeo copy ", "skopeo copy --dest-tls-verify=false ");
    let out = registry.in_netns(&["bash", "-euo", "pipefail", "-c", &script]);
    assert!(out.status.success(), "docs/supply-chain.md's air-gapped copy: {}", text(&out.stderr));
    let repository = format!("{at_node}/{REPOSITORY}");
    let index = format!("{repository}@{}", index_digest(&Build::tested().layout_dir()));
    for r in std::iter::once(index).chain(images.iter().map(|i| format!("{repository}@{}", i.weighed.manifest_digest))) {
        // The image itself came along, byte for byte (cosign verifies a digest's signature
        // without fetching the image).
        let raw = registry.in_netns(&["skopeo", "inspect", "--raw", "--tls-verify=false", &format!("docker://{r}")]);
        assert!(raw.status.success(), "{r} is not in the node's registry: {}", text(&raw.stderr));
        assert_eq!(sha256(&raw.stdout), r.split('@').nth(1).unwrap(), "{r}");
        let out = cosign.verify(&key.public, &r);
        assert!(out.status.success(), "{r} in the node's registry: {}", text(&out.stderr));
        for kind in [Predicate::Spdx, Predicate::SlsaProvenance1] {
            cosign.verify_attestation(&key.public, kind, &r).unwrap_or_else(|e| panic!("{r}: {kind:?}: {e}"));
        }
    }
}
