//! The pause images: built with podman from the Containerfile, weighed, and read back.
use crate::arch::{Arch, ARCHES};
use crate::cargo::{binary, package_field, package_field_opt, repo_root, version};
use crate::podman::Podman;
use crate::process::text;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The multi-arch manifest list: localhost/pause:<version>.
pub fn list_name() -> String {
    format!("localhost/pause:{}", version())
}

/// One arch's image: localhost/pause:<version>-<arch>.
pub fn image_name(arch: &Arch) -> String {
    format!("localhost/pause:{}-{}", version(), arch.name)
}

/// What one arch's image is and weighs.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub arch: &'static Arch,
    /// Image ID: the digest of its config.
    pub id: String,
    /// Digest of its OCI manifest (gzip layer), as pushed.
    pub manifest_digest: String,
    pub binary: u64,
    pub layer_tar: u64,
    pub layer_gzip: u64,
    pub manifest: u64,
    pub config: u64,
    /// What podman reports as the image's size once pulled into an empty store.
    pub podman_size: u64,
    /// The layer blob, gzip-compressed, as it would be pushed.
    pub layer_path: PathBuf,
}

impl Image {
    /// Bytes a pull moves: manifest + config + gzip layer.
    pub fn on_the_wire(&self) -> u64 {
        self.manifest + self.config + self.layer_gzip
    }
}

/// The build flags for `arch`'s image from the Containerfile, the same for podman and buildah:
/// reproducible (--timestamp 0, no history, no build-tool label, --no-cache), no PATH in the
/// config (nothing in the image looks anything up), and labelled from Cargo.toml; the source label
/// only when Cargo.toml names a repository (no placeholder ships). The build context is
/// target/images/context (bin/pause-linux-<arch>).
pub fn reproducible_build_args(arch: &Arch) -> Vec<String> {
    let mut args: Vec<String> = ["--no-cache", "--timestamp", "0", "--omit-history", "--identity-label=false", "--unsetenv", "PATH", "--platform", arch.platform]
        .map(String::from)
        .to_vec();
    for (arg, field) in [("VERSION", "version"), ("LICENSES", "license")] {
        args.extend(["--build-arg".into(), format!("{arg}={}", package_field(field))]);
    }
    if let Some(source) = package_field_opt("repository") {
        args.extend(["--label".into(), format!("org.opencontainers.image.source={source}")]);
    }
    args.extend(["--file".into(), repo_root().join("Containerfile").display().to_string()]);
    args
}

/// Builds every arch's binary (cargo) and image (podman, from the Containerfile), the
/// manifest list in podman's store, and the OCI layout that ships (`layout_dir()`): each image
/// pushed to an OCI layout, its manifest without buildah's base annotations (below), and an
/// image index of them all. Reproducible: --timestamp 0, no history, no build-tool label, --no-cache.
pub fn build_images(podman: &Podman) -> Vec<Image> {
    let root = repo_root();
    let context = root.join("target/images/context");
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(context.join("bin")).unwrap();
    for a in ARCHES {
        std::fs::copy(binary(a), context.join(format!("bin/pause-linux-{}", a.name))).unwrap();
    }
    for a in ARCHES {
        let mut args: Vec<String> = vec!["build".into(), "--quiet".into()];
        args.extend(reproducible_build_args(a));
        args.extend(["--tag".into(), image_name(a), context.display().to_string()]);
        podman.ok(&args);
    }
    let list = list_name();
    let _ = podman.run(["manifest", "rm", &list]);
    let _ = podman.run(["rmi", "--force", &list]);
    podman.ok(["manifest", "create", &list]);
    for a in ARCHES {
        podman.ok(["manifest", "add", &list, &format!("containers-storage:{}", image_name(a))]);
    }
    let images: Vec<Image> = ARCHES.iter().map(|a| weigh(podman, a)).collect();
    write_layout(&images);
    images
}

/// The OCI layout of the multi-arch image as it ships: blobs of every arch, an image index with
/// each manifest and its platform, and index.json naming it localhost/pause:<version> (so that a
/// plain `ctr images import` of the archive names it right).
pub fn layout_dir() -> PathBuf {
    repo_root().join("target/images/oci/list")
}

/// "os/architecture[/variant]" of an OCI platform object, as `--platform` takes it.
pub fn platform_of(p: &Value) -> String {
    [&p["os"], &p["architecture"], &p["variant"]].iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join("/")
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Stores `bytes` as a blob of the layout at `dir`; returns its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let path = dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    digest
}

fn write_layout(images: &[Image]) {
    let dir = layout_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let mut manifests = Vec::new();
    for i in images {
        let from = repo_root().join("target/images/oci").join(i.arch.name).join("blobs/sha256");
        for e in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join("blobs/sha256").join(e.file_name())).unwrap();
        }
        let mut platform = json!({"architecture": i.arch.oci_architecture(), "os": "linux"});
        if let Some(v) = i.arch.oci_variant() {
            platform["variant"] = json!(v);
        }
        manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": i.manifest_digest, "size": i.manifest, "platform": platform}));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})).unwrap();
    let digest = put_blob(&dir, &index);
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": list_name()}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// buildah gives every manifest `org.opencontainers.image.base.name` and `base.digest`
/// annotations; for a FROM scratch image they name no base at all (an empty name, the digest of
/// nothing), and they cost about 160 bytes of every pull. Rewrites the manifest of the one-image
/// layout at `dir` without them (the config, and so the image ID, stays as built); returns the new
/// manifest's digest and bytes.
fn drop_base_annotations(dir: &Path) -> (String, Vec<u8>) {
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let old = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let old_path = dir.join("blobs/sha256").join(old.trim_start_matches("sha256:"));
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&old_path).unwrap()).unwrap();
    if let Some(a) = manifest.get_mut("annotations").and_then(Value::as_object_mut) {
        a.retain(|k, _| !k.starts_with("org.opencontainers.image.base."));
        if a.is_empty() {
            manifest.as_object_mut().unwrap().remove("annotations");
        }
    }
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = put_blob(dir, &bytes);
    if digest != old {
        std::fs::remove_file(old_path).unwrap();
    }
    index["manifests"][0]["digest"] = json!(digest);
    index["manifests"][0]["size"] = json!(bytes.len());
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    (digest, bytes)
}

/// Writes the shipping layout (`layout_dir()`) to `dest`: an OCI layout directory, or with
/// `archive` an oci-archive (the layout as a tar with fixed owners, times and order).
pub fn export_layout(dest: &Path, archive: bool) {
    let src = layout_dir();
    let out = if archive {
        Command::new("tar")
            .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-cf"])
            .arg(dest)
            .arg("-C")
            .arg(&src)
            .args(["oci-layout", "index.json", "blobs"])
            .output()
            .expect("tar")
    } else {
        let _ = std::fs::remove_dir_all(dest);
        Command::new("cp").arg("-r").arg(&src).arg(dest).output().expect("cp")
    };
    assert!(out.status.success(), "writing {}: {}", dest.display(), text(&out.stderr));
}

/// Pushes one arch's image to its own OCI layout and reads the blob sizes back.
fn weigh(podman: &Podman, arch: &'static Arch) -> Image {
    let dir = repo_root().join("target/images/oci").join(arch.name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let name = image_name(arch);
    podman.ok(["push", "--quiet", "--format", "oci", &name, &format!("oci:{}:{}", dir.display(), version())]);
    let (manifest_digest, manifest_bytes) = drop_base_annotations(&dir);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let blob = |d: &Value| dir.join("blobs/sha256").join(d["digest"].as_str().unwrap().trim_start_matches("sha256:"));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{name}: expected one layer in {manifest}");
    let layer_path = blob(&layers[0]);
    let gunzip = Command::new("gzip").arg("-dc").arg(&layer_path).output().expect("gzip");
    assert!(gunzip.status.success());
    let id = podman.ok(["image", "inspect", "--format", "{{.Id}}", &name]).trim().to_string();
    let podman_size = size_after_pull(podman, &dir, &id);
    Image {
        arch,
        id,
        manifest_digest,
        binary: std::fs::metadata(binary(arch)).unwrap().len(),
        layer_tar: gunzip.stdout.len() as u64,
        layer_gzip: layers[0]["size"].as_u64().unwrap(),
        manifest: manifest_bytes.len() as u64,
        config: manifest["config"]["size"].as_u64().unwrap(),
        podman_size,
        layer_path,
    }
}

/// What podman reports (`podman images`, SIZE) for the image in the OCI layout `dir` once pulled
/// into an empty store, as a user who pulls it sees it: layer tar + config + the manifest it came
/// with. (The build store's own figure grows with every manifest digest the image was ever tagged
/// or pushed under, so it depends on what ran before.) The store is thrown away afterwards.
fn size_after_pull(podman: &Podman, dir: &Path, id: &str) -> u64 {
    // Short: podman refuses a runroot path over 50 characters.
    let store = PathBuf::from(format!("/tmp/pause-weigh-{}-{}", std::process::id(), dir.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&store);
    let (root, run) = (store.join("root"), store.join("run"));
    let global = ["--root", root.to_str().unwrap(), "--runroot", run.to_str().unwrap(), "--storage-driver", "vfs"];
    let layout = format!("oci:{}:{}", dir.display(), version());
    let pulled = podman.ok(global.iter().copied().chain(["pull", "--quiet", layout.as_str()]));
    assert_eq!(pulled.trim(), id.trim_start_matches("sha256:"), "the pulled image is not the built one");
    let size = podman.ok(global.iter().copied().chain(["image", "inspect", "--format", "{{.Size}}", pulled.trim()]));
    let _ = std::fs::remove_dir_all(&store);
    size.trim().parse().unwrap()
}

/// Every arch's image, built once per test process (tests of one file run in parallel; one build
/// serves them all).
pub fn images() -> &'static [Image] {
    static IMAGES: std::sync::OnceLock<Vec<Image>> = std::sync::OnceLock::new();
    IMAGES.get_or_init(|| {
        let images = build_images(&Podman::for_tests());
        print!("{}", image_table(&images));
        images
    })
}

/// The size table of the images command and tests.
pub fn image_table(images: &[Image]) -> String {
    let mut out = format!("{:<8} {:>6} {:>9} {:>10} {:>8} {:>6} {:>11} {:>11}\n", "arch", "binary", "layer-tar", "layer-gzip", "manifest", "config", "on-the-wire", "podman-size");
    for i in images {
        out += &format!("{:<8} {:>6} {:>9} {:>10} {:>8} {:>6} {:>11} {:>11}\n", i.arch.name, i.binary, i.layer_tar, i.layer_gzip, i.manifest, i.config, i.on_the_wire(), i.podman_size);
    }
    out
}

/// The manifest list of the tests' images as an oci-archive (written once per test process).
pub fn list_archive() -> PathBuf {
    static ARCHIVE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            images();
            let file = repo_root().join(format!("target/images/pause-{}.oci.tar", version()));
            let _ = std::fs::remove_file(&file);
            export_layout(&file, true);
            file
        })
        .clone()
}

/// The tests' busybox image: Debian's busybox-static, no registry.
pub const BUSYBOX: &str = "localhost/pause-test-busybox:latest";

/// Builds the busybox image into the tests' podman store (once per test process).
pub fn busybox() -> &'static str {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let bb = Path::new("/bin/busybox");
        assert!(bb.is_file(), "/bin/busybox is missing: install busybox-static (bash tests/run does)");
        let ctx = repo_root().join("target/images/busybox");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy(bb, ctx.join("busybox")).unwrap();
        std::fs::write(
            ctx.join("Containerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n",
        )
        .unwrap();
        Podman::for_tests().ok(["build", "--quiet", "--tag", BUSYBOX, ctx.to_str().unwrap()]);
    });
    BUSYBOX
}

/// The busybox image as an oci-archive named BUSYBOX (written once per test process).
pub fn busybox_archive() -> PathBuf {
    static ARCHIVE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let file = repo_root().join("target/images/busybox.oci.tar");
            let _ = std::fs::remove_file(&file);
            Podman::for_tests().ok(["push", "--quiet", "--format", "oci", busybox(), &format!("oci-archive:{}:{BUSYBOX}", file.display())]);
            file
        })
        .clone()
}

/// The files in a gzip layer, as `tar -tvzf` lists them.
pub fn layer_listing(layer: &Path) -> String {
    let out = Command::new("tar").arg("-tvzf").arg(layer).output().expect("tar");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// One file's bytes from a gzip layer.
pub fn layer_file(layer: &Path, name: &str) -> Vec<u8> {
    let out = Command::new("tar").arg("-xzOf").arg(layer).arg(name).output().expect("tar");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}
