//! The pause image, built with real podman from the Containerfile: its platforms, layers, sizes,
//! the shipping OCI layout and its archive, the documented build and figures, the JSON report and
//! identical rebuilds. podman runs with the containers.conf and storage.conf the tests write under
//! the checkout's scratch root (support/podman.rs: throwaway storage); tests/pods.rs runs the image.
use oci_spec::image::{Digest, ImageIndex};
use pause_tests::cargo::package_field;
use pause_tests::image::*;
use pause_tests::layout::{layer_entries, layer_file, platform_of, read_index, read_json, read_manifest};
use pause_tests::podman::Podman;
use pause_tests::prelude::*;

fn podman() -> Podman {
    Podman::for_tests()
}

/// buildah (chroot isolation, as this machine needs) builds the same Containerfile into the very
/// same images as podman: same image IDs, for every platform.
#[test]
fn buildah_builds_the_same_images() {
    let context = Build::tested().context();
    for i in images() {
        let mut cmd = podman().other("buildah");
        cmd.args(["build", "--quiet", "--isolation", "chroot"]).args(reproducible_build_args(i.arch));
        cmd.arg("--tag").arg(format!("localhost/pause-test-buildah:{}", i.arch.name)).arg(&context);
        let out = cmd.output().expect("buildah: install it (bash tests/run does)");
        assert!(out.status.success(), "buildah build for {}: {}", i.arch.name, text(&out.stderr));
        let id = text(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
        assert_eq!(id, i.weighed.id, "{}: buildah's image differs from podman's", i.arch.name);
    }
}

/// Every platform builds, and its image is exactly: one layer holding only /pause, run as
/// 65535:65535 with entrypoint /pause, with the right os/architecture(/variant) and OCI labels
/// (a source label only when Cargo.toml names a repository: no placeholder).
#[test]
fn each_platform_image_has_one_layer_with_only_pause() {
    for i in images() {
        let name = image_name(i.arch);
        let got = podman().ok([
            "image", "inspect", "--format",
            "{{.Os}} {{.Architecture}} {{.User}} {{json .Config.Entrypoint}} {{len .RootFS.Layers}} {{index .Labels \"org.opencontainers.image.version\"}} {{index .Labels \"org.opencontainers.image.licenses\"}}",
            &name,
        ]);
        let expected = format!("linux {} 65535:65535 [\"/pause\"] 1 {} {}", i.arch.oci_architecture(), version(), package_field("license"));
        assert_eq!(got.trim(), expected, "{name}");
        let labels: serde_json::Value =
            serde_json::from_str(&podman().ok(["image", "inspect", "--format", "{{json .Labels}}", &name])).unwrap();
        let label = |l: &str| labels[format!("org.opencontainers.image.{l}")].as_str().map(String::from);
        assert!(label("description").is_some_and(|d| !d.is_empty()), "{name}: no description label");
        assert_eq!(label("source"), pause_tests::cargo::package_field_opt("repository"), "{name}: source label");
        let entries = layer_entries(&i.weighed.layer_path);
        let shape: Vec<(&str, tar::EntryType, u32)> = entries.iter().map(|e| (e.path.as_str(), e.kind, e.mode)).collect();
        assert_eq!(shape, [("pause", tar::EntryType::Regular, 0o755)], "{name}: the layer must hold /pause alone, rwxr-xr-x");
    }
    let list = ImageIndex::from_reader(podman().ok(["manifest", "inspect", &list_name()]).as_bytes())
        .expect("podman manifest inspect: an image index");
    let platforms: Vec<String> = list.manifests().iter().map(|m| platform_of(m.platform().as_ref().expect("a platform"))).collect();
    assert_eq!(platforms, ARCHES.map(|a| a.platform), "the manifest list's platforms");
}

/// /pause in each image is byte-for-byte the binary cargo built for that arch.
#[test]
fn pause_in_each_image_is_the_cargo_binary() {
    for i in images() {
        assert!(
            layer_file(&i.weighed.layer_path, "pause") == std::fs::read(binary(i.arch)).unwrap(),
            "{}: /pause differs from cargo's binary",
            i.arch.name
        );
    }
}

/// Goal figures per arch: <= WIRE_BUDGET (1,536) bytes on the wire (manifest + config + gzip
/// layer, as the shipping layout holds them; tests/registry.rs counts the same bytes served by a
/// registry), <= PODMAN_SIZE_BUDGET (5 KiB) as podman reports it. Prints the table.
#[test]
fn images_meet_the_size_goals() {
    print!("{}", image_table(images()));
    for i in images() {
        assert!(i.on_the_wire() <= WIRE_BUDGET, "{}: {} bytes on the wire", i.arch.name, i.on_the_wire());
        assert!(i.weighed.podman_size <= PODMAN_SIZE_BUDGET, "{}: podman reports {} bytes", i.arch.name, i.weighed.podman_size);
    }
}

/// The shipping OCI layout: an image index with every platform, each manifest without buildah's
/// base annotations (a FROM scratch image has no base) and with the config podman built (so the
/// image IDs are podman's), index.json naming it localhost/pause:<version>; skopeo reads its
/// oci-archive with all platforms.
#[test]
fn the_shipping_layout_holds_every_platform_and_no_base_annotations() {
    let dir = layout_dir();
    let blob = |d: &Digest| dir.join("blobs").join(d.algorithm().as_ref()).join(d.digest());
    let top = read_index(&dir.join("index.json"));
    let named = top.manifests()[0].annotations().as_ref().and_then(|a| a.get("org.opencontainers.image.ref.name").cloned());
    assert_eq!(named, Some(list_name()));
    let index = read_index(&blob(top.manifests()[0].digest()));
    let entries = index.manifests();
    assert_eq!(entries.len(), ARCHES.len());
    for (e, i) in entries.iter().zip(images()) {
        assert_eq!(platform_of(e.platform().as_ref().expect("a platform")), i.arch.platform);
        let manifest = read_manifest(&blob(e.digest()));
        assert_eq!(manifest.annotations(), &None, "{}: {manifest:?}", i.arch.name);
        assert_eq!(manifest.config().digest().digest(), i.weighed.id.trim_start_matches("sha256:"), "{}", i.arch.name);
    }
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:{}", list_archive().display()))
        .output()
        .expect("skopeo: install it (bash tests/run does)");
    assert!(out.status.success(), "skopeo inspect of the oci-archive: {}", text(&out.stderr));
    // Every field, known to the spec's types or not: the documents as JSON.
    let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(raw, read_json(&blob(top.manifests()[0].digest())), "skopeo reads another index from the archive");
}

/// A plain `podman load -i` of the images command's archive (which also holds Docker's
/// manifest.json) reads it as the OCI archive it is: one image named `localhost/pause:<version>`,
/// this machine's platform, with the image ID the images command built. Into an empty store.
#[test]
fn podman_load_reads_the_archive_as_the_multi_platform_image() {
    let store = pause_tests::podman::EmptyStore::new("load");
    let global = store.args();
    let global = global.iter().map(String::as_str);
    let podman = Podman::for_tests();
    let loaded = podman.ok(global.clone().chain(["load", "--quiet", "--input", list_archive().to_str().unwrap()]));
    assert_eq!(loaded.trim(), format!("Loaded image: {}", list_name()));
    let amd64 = images().iter().find(|i| i.arch == &AMD64).unwrap();
    let id = podman.ok(global.chain(["image", "inspect", "--format", "{{.Id}}", &list_name()]));
    assert_eq!(id.trim(), amd64.weighed.id.trim_start_matches("sha256:"));
}

/// Every version README.md and docs/ give for this project (the image name `localhost/pause:X`,
/// `<registry>/pause:X`, "Version X", the `-v` line `# pause X`) is Cargo.toml's: the docs cannot
/// keep naming an older release.
#[test]
fn the_documented_version_is_cargo_tomls() {
    let found: Vec<(&str, String)> = ["localhost/pause:", "<registry>/pause:", "Version ", "# pause "]
        .into_iter()
        .flat_map(|prefix| pause_tests::readme::versions_after(prefix).into_iter().map(move |v| (prefix, v)))
        .collect();
    assert!(found.len() >= 10, "fewer versions than README.md alone names: {found:?}");
    let wrong: Vec<_> = found.iter().filter(|(_, v)| *v != version()).collect();
    assert!(wrong.is_empty(), "README.md or docs/ name another version than Cargo.toml's {}: {wrong:?}", version());
}

/// Every image size README.md and docs/ give (each table's row for the arch, in the columns the
/// images command's table has) is the built image's: the layer as tar and gzip, the manifest, the
/// config, and what podman reports after a pull into an empty store.
#[test]
fn the_documented_image_sizes_are_the_built_ones() {
    let mut wrong = Vec::new();
    for i in images() {
        let figures = [
            ("layer (tar)", i.weighed.layer_tar),
            ("layer (gzip)", i.weighed.layer_gzip),
            ("manifest", i.weighed.manifest),
            ("config", i.weighed.config),
            ("podman reports", i.weighed.podman_size),
        ];
        for (column, bytes) in figures {
            let documented = pause_tests::readme::cells(i.arch.name, |h| h == column);
            assert!(!documented.is_empty(), "README.md and docs/ give no `{column}` for {}", i.arch.name);
            wrong.extend(
                documented.iter().filter(|c| **c != bytes.to_string()).map(|c| format!("{} {column}: {c}, built {bytes}", i.arch.name)),
            );
        }
    }
    assert!(wrong.is_empty(), "README.md or docs/ disagree with the images: {wrong:#?}");
}

/// The documented plain Containerfile build (docs/image.md's `podman build` line, flags as documented) gives
/// the very image ID the images command ships.
#[test]
fn the_documented_podman_build_gives_the_same_image_id() {
    let line = pause_tests::readme::line_starting("podman build --platform linux/<arch>");
    let amd64 = images().iter().find(|i| i.arch == &AMD64).unwrap();
    let context = Build::tested().context();
    let line = line
        .replace("<arch>", "amd64")
        .replace("<version>", &version())
        .replace("<license>", &pause_tests::cargo::package_field("license"))
        .replace("<context>", context.to_str().unwrap())
        .replace("Containerfile", repo_root().join("Containerfile").to_str().unwrap());
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let mut args: Vec<&str> = args.into_iter().filter(|a| *a != "-t" && !a.starts_with("pause:")).collect();
    args.insert(1, "--quiet");
    let id = podman().ok(&args);
    assert_eq!(id.trim().lines().last().unwrap(), amd64.weighed.id.trim_start_matches("sha256:"), "{line}");
}

/// What a pull of `arch`'s image from the tests' OCI layout moves, as skopeo copies it (not as
/// support/image.rs weighed it): the bytes of the manifest, config and layer skopeo writes into a
/// `dir:` directory (everything there but its `version` file).
fn bytes_skopeo_copies(arch: &Arch) -> u64 {
    let dir = Scratch::new("skopeo-copy");
    let mut cmd = std::process::Command::new(require("skopeo", "install skopeo (bash tests/run does)"));
    cmd.args(["copy", "--quiet", "--override-os", "linux", "--override-arch", arch.oci_architecture()]);
    if let Some(variant) = arch.oci_variant() {
        cmd.args(["--override-variant", variant]);
    }
    cmd.arg(format!("oci:{}:{}", layout_dir().display(), list_name())).arg(format!("dir:{}", dir.join("copy").display()));
    let out = run_to_end(cmd);
    assert!(out.status.success(), "skopeo copy of {}: {}", arch.name, text(&out.stderr));
    let files = std::fs::read_dir(dir.join("copy")).unwrap().map(|e| e.unwrap()).filter(|e| e.file_name() != "version");
    files.map(|e| e.metadata().unwrap().len()).sum()
}

/// The images command's JSON report holds every figure of the table (its bytes on the wire as
/// skopeo copies them), and --compare's check names a figure that grew (a doctored earlier report
/// with one figure smaller) with old, new and delta.
#[test]
fn the_image_report_is_json_and_a_grown_figure_is_named() {
    use pause_tests::report::{grown, report};
    let now = report(&pause_tests::size::breakdowns(), Some(images()));
    for i in images() {
        let image = &now["arches"][i.arch.name]["image"];
        assert_eq!(image["on_the_wire"], bytes_skopeo_copies(i.arch), "{}", i.arch.name);
        assert_eq!(image["podman_size"], i.weighed.podman_size, "{}", i.arch.name);
    }
    assert!(grown(&now, &now).is_empty());
    let mut old = now.clone();
    let wire = old["arches"]["arm64"]["image"]["on_the_wire"].as_u64().unwrap();
    old["arches"]["arm64"]["image"]["on_the_wire"] = (wire - 7).into();
    assert_eq!(grown(&old, &now), [format!("arches.arm64.image.on_the_wire grew: {} -> {wire} (+7)", wire - 7)]);
}

/// The images command takes `--json` and `--compare FILE` together (and reads the report before
/// it builds anything): with a report file that is not there it stops at once, naming the file,
/// not with its usage line.
#[test]
fn the_images_command_takes_json_and_compare_together() {
    let missing = Scratch::new("no-report").join("missing.json");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_images"));
    cmd.args(["--json", "--compare"]).arg(&missing);
    let out = run_to_end(cmd);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with(&format!("{}: ", missing.display())), "{}", text(&out.stderr));
}

/// Building again from scratch (--no-cache), into a directory and under names of its own (the
/// shipping build, which other tests read meanwhile, is left alone), gives the same image IDs and
/// manifest digests, and byte-identical SBOM and provenance documents.
#[test]
fn two_builds_give_identical_digests() {
    let first = images().to_vec();
    let scratch = Scratch::new("rebuild");
    let build = Build { dir: scratch.join("images"), repo: "localhost/pause-rebuild".into() };
    let _removed: Vec<_> =
        ARCHES.iter().map(|a| build.image_name(a)).chain([build.list_name()]).map(|n| podman().made(["rmi", "--force", &n], &n)).collect();
    let second = build_images(&podman(), &build, IMAGES_COMMAND);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            (&a.weighed.id, &a.weighed.manifest_digest),
            (&b.weighed.id, &b.weighed.manifest_digest),
            "{}: the rebuild differs",
            a.arch.name
        );
        let shipping = Build::tested();
        for (one, two) in [(shipping.sbom(a.arch), build.sbom(a.arch)), (shipping.provenance(a.arch), build.provenance(a.arch))] {
            let (one, two_text) = (std::fs::read_to_string(&one).unwrap(), std::fs::read_to_string(&two).unwrap());
            assert_eq!(one, two_text, "{}: {} differs", a.arch.name, two.display());
        }
    }
}
