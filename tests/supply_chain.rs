//! Verify what you run: every platform image's SBOM (SPDX 2.3) and provenance (in-toto, SLSA v1),
//! as the images command writes them from the real inputs, and the JSON report's digests of them.
//! Signing them and verifying through a registry: tests/signatures.rs.
use pause_tests::image::{Build, images};
use pause_tests::layout::{layer_file, read_json, sha256};
use pause_tests::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

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
        let inside = layer_file(&image.weighed.layer_path, "pause");
        let doc = sbom(arch);
        let file = &doc["files"][0];
        assert_eq!(file["fileName"], "./pause");
        let sums: Vec<(&str, &str)> = file["checksums"].as_array().unwrap().iter().map(|c| (c["algorithm"].as_str().unwrap(), c["checksumValue"].as_str().unwrap())).collect();
        assert!(sums.contains(&("SHA256", sha256(&inside).trim_start_matches("sha256:"))), "{}: {sums:?}", arch.name);
        let purl = doc["packages"][0]["externalRefs"][0]["referenceLocator"].as_str().unwrap();
        assert!(purl.contains(&image.weighed.manifest_digest.replace(':', "%3A")), "{purl}");
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
        assert_eq!(format!("sha256:{}", st["subject"][0]["digest"]["sha256"].as_str().unwrap()), image.weighed.manifest_digest);
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
