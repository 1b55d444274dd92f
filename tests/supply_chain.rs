//! Verify what you run: every platform image's SBOM (SPDX 2.3) and provenance (in-toto, SLSA v1),
//! as the images command writes them from the real inputs; and, through a real registry (Debian's
//! docker-registry in a network namespace of the test's own), cosign signatures and attestations
//! made with a throwaway key and verified offline.
use pause_tests::cosign::{Cosign, KeyPair, Predicate, TEST_KEY_PASSWORD};
use pause_tests::image::{Build, Image, images};
use pause_tests::layout::index_digest;
use pause_tests::layout::{layer_file, sha256};
use pause_tests::namespaces::Namespaces;
use pause_tests::node::Root;
use pause_tests::prelude::*;
use pause_tests::registry::{ADDRESS, Registry, Store};
use pause_tests::signing::{SigningRegistry, sign_into_layout};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn sbom(arch: &Arch) -> Value {
    images();
    read_json(&Build::tested().sbom(arch))
}

fn provenance(arch: &Arch) -> Value {
    images();
    read_json(&Build::tested().provenance(arch))
}

/// The packages of an SBOM whose purl is a cargo one: (name, version, sha256).
fn cargo_packages(doc: &Value) -> BTreeSet<(String, String, String)> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["referenceLocator"].as_str().unwrap().starts_with("pkg:cargo/")))
        })
        .map(|p| {
            let sum = p["checksums"].as_array().unwrap().iter().find(|c| c["algorithm"] == "SHA256").unwrap();
            (p["name"].as_str().unwrap().into(), p["versionInfo"].as_str().unwrap().into(), sum["checksumValue"].as_str().unwrap().into())
        })
        .collect()
}

/// What cargo itself says is compiled into pause for `arch`: `cargo tree` of normal dependencies,
/// with each crate's checksum from Cargo.lock.
fn crates_by_cargo_tree(arch: &Arch) -> BTreeSet<(String, String, String)> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo_root())
        .args([
            "tree",
            "--offline",
            "--locked",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--target",
            arch.triple,
            "-p",
            "pause",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree: {}", text(&out.stderr));
    let lock: Value = {
        let t: toml::Value = toml::from_str(&std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap()).unwrap();
        serde_json::to_value(t).unwrap()
    };
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, version) = (w.next()?.to_string(), w.next()?.trim_start_matches('v').to_string());
            if name == "pause" {
                return None;
            }
            let locked = lock["package"].as_array().unwrap().iter().find(|p| p["name"] == *name && p["version"] == *version).unwrap();
            Some((name, version, locked["checksum"].as_str().unwrap().to_string()))
        })
        .collect()
}

for_each_arch! {
    /// The SBOM is a valid SPDX 2.3 document, as the SPDX project's own validator (spdx-tools'
    /// pyspdxtools) reads it.
    fn the_sbom_is_valid_spdx_2_3(arch) {
        images();
        let tools = pause_tests::made::by_tests_run("PAUSE_TESTS_SPDX_TOOLS", "spdx-tools' virtualenv");
        let file = Build::tested().sbom(arch);
        // `python -m` of the venv (its scripts name the temporary path it was made at).
        let out = Command::new(std::path::Path::new(&tools).join("bin/python"))
            .args(["-m", "spdx_tools.spdx.clitools.pyspdxtools", "--infile"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}{}", file.display(), text(&out.stdout), text(&out.stderr));
        assert_eq!(sbom(arch)["spdxVersion"], "SPDX-2.3");
    }
}

for_each_arch! {
    /// The SBOM's documentNamespace is `urn:uuid:` and a UUID as RFC 9562 defines one (version 8,
    /// custom: made of the document's sha256; variant bits 10), as the uuid crate reads it, and
    /// another arch's SBOM has another.
    fn the_sbom_namespace_is_an_rfc_9562_uuid(arch) {
        let namespace = |a: &Arch| sbom(a)["documentNamespace"].as_str().unwrap().to_string();
        let ours = namespace(arch);
        let text = ours.strip_prefix("urn:uuid:").unwrap_or_else(|| panic!("{ours}: not a urn:uuid"));
        let id = uuid::Uuid::parse_str(text).unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!((id.get_version_num(), id.get_variant()), (8, uuid::Variant::RFC4122), "{ours}");
        let other = if arch == &AMD64 { &ARM64 } else { &AMD64 };
        assert_ne!(ours, namespace(other));
    }
}

for_each_arch! {
    /// The SBOM names exactly the crates cargo compiles into the binary for that target (`cargo
    /// tree`, normal dependencies), with their versions and Cargo.lock's checksums; and Rust's core
    /// from the pinned toolchain.
    fn the_sbom_names_exactly_the_crates_of_the_build(arch) {
        let doc = sbom(arch);
        assert_eq!(cargo_packages(&doc), crates_by_cargo_tree(arch), "{}", arch.name);
        let core = doc["packages"].as_array().unwrap().iter().find(|p| p["name"] == "core").expect("no core in the SBOM");
        let channel = pause_tests::inputs::pinned_channel();
        let date = channel.strip_prefix("nightly-").expect("the pinned channel is a dated nightly");
        assert!(core["downloadLocation"].as_str().unwrap().contains(&format!("/dist/{date}/rust-src")), "{core}");
    }
}

for_each_arch! {
    /// The SBOM's file /pause has the checksums of the very binary in the image's layer, and the
    /// image package names the image's manifest digest.
    fn the_sbom_holds_the_checksums_of_the_pause_in_the_image(arch) {
        let image = images().iter().find(|i| i.arch == arch).unwrap();
        let inside = layer_file(&image.layer_path, "pause");
        let doc = sbom(arch);
        let file = &doc["files"][0];
        assert_eq!(file["fileName"], "./pause");
        let sums: Vec<(&str, &str)> = file["checksums"].as_array().unwrap().iter().map(|c| (c["algorithm"].as_str().unwrap(), c["checksumValue"].as_str().unwrap())).collect();
        assert!(sums.contains(&("SHA256", sha256(&inside).trim_start_matches("sha256:"))), "{}: {sums:?}", arch.name);
        let purl = doc["packages"][0]["externalRefs"][0]["referenceLocator"].as_str().unwrap();
        assert!(purl.contains(&image.manifest_digest.replace(':', "%3A")), "{purl}");
    }
}

for_each_arch! {
    /// The provenance is an in-toto statement about the image (its manifest digest), with a SLSA v1
    /// predicate naming the source commit and whether the tree was clean, the digests of
    /// Cargo.lock, Containerfile and rust-toolchain.toml, the toolchain, the crates, the builder
    /// and the command.
    fn the_provenance_states_the_source_the_inputs_and_the_subject(arch) {
        let image = images().iter().find(|i| i.arch == arch).unwrap();
        let st = provenance(arch);
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(st["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(format!("sha256:{}", st["subject"][0]["digest"]["sha256"].as_str().unwrap()), image.manifest_digest);
        let def = &st["predicate"]["buildDefinition"];
        let git = |args: &[&str]| text(&Command::new("git").arg("-C").arg(repo_root()).args(args).output().unwrap().stdout).trim().to_string();
        assert_eq!(def["externalParameters"]["source"]["commit"], git(&["rev-parse", "HEAD"]));
        assert_eq!(def["externalParameters"]["source"]["cleanTree"], git(&["status", "--porcelain"]).is_empty());
        assert_eq!(def["externalParameters"]["command"], pause_tests::image::IMAGES_COMMAND);
        assert_eq!(def["externalParameters"]["platform"], arch.platform);
        let deps = def["resolvedDependencies"].as_array().unwrap();
        for file in ["Cargo.lock", "Containerfile", "rust-toolchain.toml"] {
            let d = deps.iter().find(|d| d["name"] == file).unwrap_or_else(|| panic!("no {file} in {deps:?}"));
            let bytes = std::fs::read(repo_root().join(file)).unwrap();
            assert_eq!(format!("sha256:{}", d["digest"]["sha256"].as_str().unwrap()), sha256(&bytes), "{file}");
        }
        for (name, version, sum) in crates_by_cargo_tree(arch) {
            assert!(deps.iter().any(|d| d["uri"] == format!("pkg:cargo/{name}@{version}") && d["digest"]["sha256"] == *sum), "{name} {version}");
        }
        assert!(st["predicate"]["runDetails"]["builder"]["id"].as_str().is_some_and(|id| !id.is_empty()));
    }
}

/// The file's digest as coreutils' sha256sum computes it (not as the tests' code hashed it).
fn sha256sum(file: &std::path::Path) -> String {
    let out = run_to_end({
        let mut cmd = std::process::Command::new(require("sha256sum", "install coreutils"));
        cmd.arg(file);
        cmd
    });
    assert!(out.status.success(), "sha256sum {}: {}", file.display(), text(&out.stderr));
    format!("sha256:{}", text(&out.stdout).split_whitespace().next().unwrap_or_default())
}

/// The images command's JSON report lists each image's SBOM and provenance digests: those of the
/// files the build wrote, as sha256sum reads them.
#[test]
fn the_json_report_lists_each_images_sbom_and_provenance_digest() {
    let report = pause_tests::report::report(&pause_tests::size::breakdowns(), Some(images()));
    for a in ARCHES {
        let entry = &report["arches"][a.name]["image"];
        let build = Build::tested();
        assert_eq!(entry["sbom_digest"], sha256sum(&build.sbom(a)), "{}", a.name);
        assert_eq!(entry["provenance_digest"], sha256sum(&build.provenance(a)), "{}", a.name);
    }
}

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
        format!("{}@{}", repository(), i.manifest_digest)
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
        assert_eq!(format!("sha256:{}", provenances[0]["subject"][0]["digest"]["sha256"].as_str().unwrap()), i.manifest_digest);
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
    assert_ne!(new_digest, amd64.manifest_digest);
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
    for r in std::iter::once(index).chain(images.iter().map(|i| format!("{repository}@{}", i.manifest_digest))) {
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
