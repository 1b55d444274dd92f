//! The pause images: every platform built with podman from the Containerfile, the manifest list,
//! and the shipping OCI layout; the tests' build made once per checkout and inputs, each build in a
//! directory of its own.
use crate::arch::{ARCHES, Arch};
use crate::attestations::{Digests, write_attestations};
use crate::cargo::{binary, package_field, package_field_opt, repo_root, version};
use crate::inputs;
use crate::layout::{Entry, export, write_index_layout};
use crate::once::{key, per_checkout};
use crate::podman::Podman;
use crate::weigh::{Weighed, weigh};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;

/// Goal: bytes a pull of one platform moves (manifest + config + gzip layer), at most.
pub const WIRE_BUDGET: u64 = 1536;
/// Goal: what podman reports as one platform's image size after a pull, at most.
pub const PODMAN_SIZE_BUDGET: u64 = 5120;

/// Where one build puts its files, and the repository its images are named in. Two builds with
/// different ones never touch each other's files or names.
#[derive(Debug, Clone)]
pub struct Build {
    pub dir: PathBuf,
    pub repo: String,
}

impl Build {
    /// The build that ships: target/images, named localhost/pause (the images command's).
    pub fn shipping() -> Build {
        Build { dir: repo_root().join("target/images"), repo: "localhost/pause".into() }
    }
    /// The tests' own build of the same images: the same names (in the tests' own podman store),
    /// its files under the checkout's scratch root, so no test rewrites what the images command
    /// wrote to target/images for the user.
    pub fn tested() -> Build {
        Build { dir: crate::scratch::checkout_root().join("images"), repo: "localhost/pause".into() }
    }
    /// The multi-arch manifest list: <repo>:<version>.
    pub fn list_name(&self) -> String {
        format!("{}:{}", self.repo, version())
    }
    /// One arch's image: <repo>:<version>-<arch>.
    pub fn image_name(&self, arch: &Arch) -> String {
        format!("{}:{}-{}", self.repo, version(), arch.name)
    }
    /// The build context: bin/pause-linux-<arch> for every arch.
    pub fn context(&self) -> PathBuf {
        self.dir.join("context")
    }
    /// One arch's image as its own OCI layout.
    pub fn oci_dir(&self, arch: &Arch) -> PathBuf {
        self.dir.join("oci").join(arch.name)
    }
    /// The OCI layout of the multi-arch image as it ships: blobs of every arch, an image index
    /// with each manifest and its platform, and index.json naming it `list_name()`.
    pub fn layout_dir(&self) -> PathBuf {
        self.dir.join("oci/list")
    }
    /// One arch's SBOM: an SPDX 2.3 JSON document.
    pub fn sbom(&self, arch: &Arch) -> PathBuf {
        self.dir.join("attestations").join(format!("{}.spdx.json", arch.name))
    }
    /// One arch's provenance: an in-toto statement with a SLSA v1 provenance predicate.
    pub fn provenance(&self, arch: &Arch) -> PathBuf {
        self.dir.join("attestations").join(format!("{}.provenance.json", arch.name))
    }
}

/// The command the tests' builds record in their provenance: the images command as README types it.
pub const IMAGES_COMMAND: &str = "bash tests/tool images";

/// The tests' build's manifest list: localhost/pause:<version>.
pub fn list_name() -> String {
    Build::tested().list_name()
}

/// The tests' build's image for one arch: localhost/pause:<version>-<arch>.
pub fn image_name(arch: &Arch) -> String {
    Build::tested().image_name(arch)
}

/// The tests' build's OCI layout (the same bytes as the shipping one: identical builds).
pub fn layout_dir() -> PathBuf {
    Build::tested().layout_dir()
}

/// What one arch's image is and weighs, and its attestations' digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    #[serde(with = "arch_by_name")]
    pub arch: &'static Arch,
    /// Its ID, manifest digest, sizes and layer (support/weigh.rs).
    #[serde(flatten)]
    pub weighed: Weighed,
    /// Digests of its SBOM (SPDX 2.3 JSON) and provenance (in-toto, SLSA v1) documents, as
    /// `Build::sbom` and `Build::provenance` hold them.
    pub sbom_digest: String,
    pub provenance_digest: String,
}

impl Image {
    fn new(arch: &'static Arch, weighed: Weighed, d: Digests) -> Image {
        Image { arch, weighed, sbom_digest: d.sbom, provenance_digest: d.provenance }
    }

    /// Bytes a pull moves: manifest + config + gzip layer.
    pub fn on_the_wire(&self) -> u64 {
        let w = &self.weighed;
        w.manifest + w.config + w.layer_gzip
    }

    /// The registry paths a pull of it from `repository` asks for: its manifest, config and layer.
    pub fn pull_paths(&self, repository: &str) -> Vec<String> {
        let w = &self.weighed;
        let layer = crate::layout::sha256(&std::fs::read(&w.layer_path).unwrap());
        vec![
            format!("/v2/{repository}/manifests/{}", w.manifest_digest),
            format!("/v2/{repository}/blobs/sha256:{}", w.id.trim_start_matches("sha256:")),
            format!("/v2/{repository}/blobs/{layer}"),
        ]
    }
}

/// The build flags for `arch`'s image from the Containerfile, the same for podman and buildah:
/// reproducible (--timestamp 0, no history, no build-tool label, --no-cache), no PATH in the
/// config (nothing in the image looks anything up), and labelled from Cargo.toml; the source label
/// only when Cargo.toml names a repository (no placeholder ships). The build context is
/// `Build::context()` (bin/pause-linux-<arch>).
pub fn reproducible_build_args(arch: &Arch) -> Vec<String> {
    let mut args: Vec<String> =
        ["--no-cache", "--timestamp", "0", "--omit-history", "--identity-label=false", "--unsetenv", "PATH", "--platform", arch.platform]
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

/// Builds every arch's binary (cargo) and image (podman, from the Containerfile), the manifest
/// list in podman's store, and the shipping OCI layout (`Build::layout_dir()`): each image pushed
/// to an OCI layout, its manifest without buildah's base annotations, and an image index of them
/// all. Reproducible: --timestamp 0, no history, no build-tool label, --no-cache.
pub fn build_images(podman: &Podman, build: &Build, command: &str) -> Vec<Image> {
    let context = build.context();
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(context.join("bin")).unwrap();
    for a in ARCHES {
        std::fs::copy(binary(a), context.join(format!("bin/pause-linux-{}", a.name))).unwrap();
    }
    for a in ARCHES {
        let mut args: Vec<String> = vec!["build".into(), "--quiet".into()];
        args.extend(reproducible_build_args(a));
        args.extend(["--tag".into(), build.image_name(a), context.display().to_string()]);
        podman.ok(&args);
    }
    let list = build.list_name();
    let _ = podman.run(["manifest", "rm", &list]);
    let _ = podman.run(["rmi", "--force", &list]);
    podman.ok(["manifest", "create", &list]);
    for a in ARCHES {
        podman.ok(["manifest", "add", &list, &format!("containers-storage:{}", build.image_name(a))]);
    }
    let weighed: Vec<(&'static Arch, Weighed)> = ARCHES.into_iter().map(|a| (a, weigh(podman, build, a))).collect();
    let subjects: Vec<(&'static Arch, &str)> = weighed.iter().map(|(a, w)| (*a, w.manifest_digest.as_str())).collect();
    let digests = write_attestations(build, &subjects, command);
    let images: Vec<Image> = weighed.into_iter().zip(digests).map(|((arch, w), d)| Image::new(arch, w, d)).collect();
    let layouts: Vec<PathBuf> = images.iter().map(|i| build.oci_dir(i.arch)).collect();
    let entries: Vec<Entry> = images
        .iter()
        .zip(&layouts)
        .map(|(i, layout)| {
            let mut platform = json!({"architecture": i.arch.oci_architecture(), "os": "linux"});
            if let Some(v) = i.arch.oci_variant() {
                platform["variant"] = json!(v);
            }
            Entry {
                layout,
                platform,
                manifest_digest: &i.weighed.manifest_digest,
                manifest_size: i.weighed.manifest,
                docker_tag: build.image_name(i.arch),
            }
        })
        .collect();
    write_index_layout(&build.layout_dir(), &list, &entries);
    images
}

/// Writes `build`'s layout to `dest`: an OCI layout directory, or with `archive` an oci-archive.
pub fn export_layout(build: &Build, dest: &std::path::Path, archive: bool) {
    export(&build.layout_dir(), dest, archive)
}

/// Every arch's image of the tests' build (`Build::tested`), with the manifest list as an
/// oci-archive (`list_archive`): built once per checkout and inputs (`once::per_checkout`), so
/// every test process, also those running side by side, reads one build that none rewrites. Made
/// again when an input changed (a binary, the Containerfile, Cargo.toml, the toolchain, a source
/// file, the crates) or a file or podman image of the record is gone.
pub fn images() -> &'static [Image] {
    static IMAGES: std::sync::OnceLock<Vec<Image>> = std::sync::OnceLock::new();
    IMAGES.get_or_init(|| {
        let (build, podman) = (Build::tested(), Podman::for_tests());
        let images = per_checkout(
            "images",
            &inputs_key(),
            |images: &Vec<Image>| still_there(&build, &podman, images),
            || {
                let images = build_images(&podman, &build, IMAGES_COMMAND);
                let archive = list_archive_path();
                let _ = std::fs::remove_file(&archive);
                export_layout(&build, &archive, true);
                images
            },
        );
        print!("{}", image_table(&images));
        images
    })
}

/// The code that builds, weighs and attests the images (this package's own sources, as compiled):
/// a change to it makes them again.
const BUILDER_SOURCES: [&str; 8] = [
    include_str!("image.rs"),
    include_str!("weigh.rs"),
    include_str!("layout.rs"),
    include_str!("attestations.rs"),
    include_str!("sbom.rs"),
    include_str!("provenance.rs"),
    include_str!("inputs.rs"),
    include_str!("podman.rs"),
];

/// The key of everything the tests' build reads: the code that builds it, the images command's
/// line, the version and the build flags, every binary, the Containerfile, and what the
/// attestations record (source, toolchain, input files, crates).
fn inputs_key() -> String {
    let mut parts: Vec<Vec<u8>> = BUILDER_SOURCES.map(|s| s.as_bytes().to_vec()).to_vec();
    parts.extend([IMAGES_COMMAND.into(), version().into(), std::fs::read(repo_root().join("Containerfile")).unwrap()]);
    for a in ARCHES {
        parts.push(reproducible_build_args(a).join("\0").into_bytes());
        parts.push(std::fs::read(binary(a)).unwrap());
        parts.push(format!("{:?}", inputs::crates(a)).into_bytes());
    }
    parts.push(format!("{:?} {:?} {:?}", inputs::source(), inputs::toolchain(), inputs::input_files()).into_bytes());
    key(parts.iter().map(Vec::as_slice))
}

/// Whether a recorded build is whole: its files there, and podman's store holding each image (by
/// its ID) and the manifest list.
fn still_there(build: &Build, podman: &Podman, images: &[Image]) -> bool {
    let files = [build.layout_dir().join("index.json"), list_archive_path()].into_iter().chain(images.iter().flat_map(|i| {
        [i.weighed.layer_path.clone(), build.sbom(i.arch), build.provenance(i.arch), build.oci_dir(i.arch).join("index.json")]
    }));
    let id_of = |name: &str| podman.run(["image", "inspect", "--format", "{{.Id}}", name]);
    files.into_iter().all(|f| f.is_file())
        && images.len() == ARCHES.len()
        && images.iter().all(|i| {
            let out = id_of(&build.image_name(i.arch));
            out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == i.weighed.id.trim_start_matches("sha256:")
        })
        && podman.run(["manifest", "exists", &build.list_name()]).status.success()
}

/// An arch as its name (`Image` records are JSON).
mod arch_by_name {
    use crate::arch::{ARCHES, Arch};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(arch: &&'static Arch, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(arch.name)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static Arch, D::Error> {
        let name = String::deserialize(d)?;
        ARCHES.into_iter().find(|a| a.name == name).ok_or_else(|| D::Error::custom(format!("no arch named {name}")))
    }
}

/// The size table of the images command and tests.
pub fn image_table(images: &[Image]) -> String {
    let mut out = format!(
        "{:<8} {:>6} {:>9} {:>10} {:>8} {:>6} {:>11} {:>11}\n",
        "arch", "binary", "layer-tar", "layer-gzip", "manifest", "config", "on-the-wire", "podman-size"
    );
    for i in images {
        out += &format!(
            "{:<8} {:>6} {:>9} {:>10} {:>8} {:>6} {:>11} {:>11}\n",
            i.arch.name,
            i.weighed.binary,
            i.weighed.layer_tar,
            i.weighed.layer_gzip,
            i.weighed.manifest,
            i.weighed.config,
            i.on_the_wire(),
            i.weighed.podman_size
        );
    }
    out
}

/// The manifest list of the tests' images as an oci-archive (written with them, `images()`).
pub fn list_archive() -> PathBuf {
    images();
    list_archive_path()
}

fn list_archive_path() -> PathBuf {
    Build::tested().dir.join(format!("pause-{}.oci.tar", version()))
}
