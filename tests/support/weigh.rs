//! Weighing one built image: pushed to an OCI layout of its own, its blobs' sizes, and what podman
//! reports for it once pulled into an empty store.
use crate::arch::Arch;
use crate::cargo::{binary, version};
use crate::image::Build;
use crate::layout::{blob_path, drop_base_annotations};
use crate::podman::Podman;
use oci_spec::image::ImageManifest;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What one arch's image is and weighs, as pushed to its own OCI layout.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Weighed {
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

/// Pushes one arch's image to its own OCI layout (`Build::oci_dir`) and reads the sizes back.
pub fn weigh(podman: &Podman, build: &Build, arch: &'static Arch) -> Weighed {
    let dir = build.oci_dir(arch);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let name = build.image_name(arch);
    podman.ok(["push", "--quiet", "--format", "oci", &name, &format!("oci:{}:{}", dir.display(), version())]);
    let (manifest_digest, manifest_bytes) = drop_base_annotations(&dir);
    let manifest = ImageManifest::from_reader(manifest_bytes.as_slice()).unwrap_or_else(|e| panic!("{name}: its manifest: {e}"));
    let layers = manifest.layers();
    assert_eq!(layers.len(), 1, "{name}: expected one layer in {manifest:?}");
    let layer_path = blob_path(&dir, layers[0].digest().as_ref());
    let id = podman.ok(["image", "inspect", "--format", "{{.Id}}", &name]).trim().to_string();
    Weighed {
        podman_size: size_after_pull(podman, &dir, &id),
        id,
        manifest_digest,
        binary: std::fs::metadata(binary(arch)).unwrap().len(),
        layer_tar: gunzipped_size(&layer_path),
        layer_gzip: layers[0].size(),
        manifest: manifest_bytes.len() as u64,
        config: manifest.config().size(),
        layer_path,
    }
}

/// The size of a gzip layer once decompressed (the tar archive), as flate2 reads it.
fn gunzipped_size(layer: &Path) -> u64 {
    let file = std::fs::File::open(layer).unwrap_or_else(|e| panic!("{}: {e}", layer.display()));
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut tar).unwrap_or_else(|e| panic!("{}: not gzip: {e}", layer.display()));
    tar.len() as u64
}

/// What podman reports (`podman images`, SIZE) for the image in the OCI layout `dir` once pulled
/// into an empty store, as a user who pulls it sees it: layer tar + config + the manifest it came
/// with. (The build store's own figure grows with every manifest digest the image was ever tagged
/// or pushed under, so it depends on what ran before.) The store is a scratch directory.
fn size_after_pull(podman: &Podman, dir: &Path, id: &str) -> u64 {
    let store = crate::podman::EmptyStore::new("weigh");
    let global = store.args();
    let global = global.iter().map(String::as_str);
    let layout = format!("oci:{}:{}", dir.display(), version());
    let pulled = podman.ok(global.clone().chain(["pull", "--quiet", layout.as_str()]));
    assert_eq!(pulled.trim(), id.trim_start_matches("sha256:"), "the pulled image is not the built one");
    let size = podman.ok(global.chain(["image", "inspect", "--format", "{{.Size}}", pulled.trim()]));
    size.trim().parse().unwrap()
}
