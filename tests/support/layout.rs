//! OCI image layouts: the shipping one (an image index of every platform, index.json naming it,
//! and Docker's manifest.json beside it) written from each platform's own layout, exported as a
//! directory or an oci-archive; gzip layers read back.
use crate::process::text;
use oci_spec::image::{ImageIndex, ImageManifest, Platform};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// One platform's image as the index lists it.
pub struct Entry<'a> {
    /// Its own one-image OCI layout (whose blobs are copied).
    pub layout: &'a Path,
    pub platform: Value,
    pub manifest_digest: &'a str,
    pub manifest_size: u64,
    /// The name Docker's classic image store gives it (manifest.json's RepoTags).
    pub docker_tag: String,
}

/// A JSON document (an OCI index, manifest or config; an SBOM, a provenance statement), read whole.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// An OCI image index (index.json, or an index blob), read as the image spec's type.
pub fn read_index(path: &Path) -> ImageIndex {
    ImageIndex::from_file(path).unwrap_or_else(|e| panic!("{}: not an OCI image index: {e}", path.display()))
}

/// An OCI image manifest, read as the image spec's type.
pub fn read_manifest(path: &Path) -> ImageManifest {
    ImageManifest::from_file(path).unwrap_or_else(|e| panic!("{}: not an OCI image manifest: {e}", path.display()))
}

/// "os/architecture[/variant]" of an OCI platform, as `--platform` takes it.
pub fn platform_of(p: &Platform) -> String {
    let mut parts = vec![p.os().to_string(), p.architecture().to_string()];
    parts.extend(p.variant().clone());
    parts.join("/")
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The path of blob `digest` in the layout at `dir`.
pub fn blob_path(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

/// Stores `bytes` as a blob of the layout at `dir`; returns its digest.
pub fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let path = blob_path(dir, &digest);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    digest
}

/// Writes at `dir` a layout holding every entry's blobs, an image index of their manifests with
/// their platforms, and index.json naming that index `name` (so that a plain `ctr images import`
/// of the archive names it right); and Docker's `manifest.json` (what `docker save` writes beside
/// index.json since Docker 25), which lists every platform's config and layer under its
/// `docker_tag`: the file `docker load` reads into the classic image store, where an image name
/// holds one platform. Readers of OCI layouts ignore it; the blobs are the same.
pub fn write_index_layout(dir: &Path, name: &str, entries: &[Entry]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let (mut manifests, mut docker) = (Vec::new(), Vec::new());
    for e in entries {
        for b in std::fs::read_dir(e.layout.join("blobs/sha256")).unwrap().flatten() {
            std::fs::copy(b.path(), dir.join("blobs/sha256").join(b.file_name())).unwrap();
        }
        manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": e.manifest_digest, "size": e.manifest_size, "platform": e.platform}));
        let manifest: Value = serde_json::from_slice(&std::fs::read(blob_path(dir, e.manifest_digest)).unwrap()).unwrap();
        let in_layout = |d: &Value| format!("blobs/sha256/{}", d["digest"].as_str().unwrap().trim_start_matches("sha256:"));
        let layers: Vec<String> = manifest["layers"].as_array().unwrap().iter().map(in_layout).collect();
        docker.push(json!({"Config": in_layout(&manifest["config"]), "RepoTags": [e.docker_tag], "Layers": layers}));
    }
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&docker).unwrap()).unwrap();
    let index =
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
            .unwrap();
    let digest = put_blob(dir, &index);
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": name}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// buildah gives every manifest `org.opencontainers.image.base.name` and `base.digest`
/// annotations; for a FROM scratch image they name no base at all (an empty name, the digest of
/// nothing), and they cost about 160 bytes of every pull. Rewrites the manifest of the one-image
/// layout at `dir` without them (the config, and so the image ID, stays as built); returns the new
/// manifest's digest and bytes.
pub fn drop_base_annotations(dir: &Path) -> (String, Vec<u8>) {
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let old = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let old_path = blob_path(dir, &old);
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

/// Writes the layout at `src` to `dest`: an OCI layout directory, or with `archive` an
/// oci-archive (the layout as a tar with fixed owners, times and order).
pub fn export(src: &Path, dest: &Path, archive: bool) {
    let out = if archive {
        Command::new("tar")
            .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-cf"])
            .arg(dest)
            .arg("-C")
            .arg(src)
            .args(["oci-layout", "index.json", "manifest.json", "blobs"])
            .output()
            .expect("tar")
    } else {
        let _ = std::fs::remove_dir_all(dest);
        Command::new("cp").arg("-r").arg(src).arg(dest).output().expect("cp")
    };
    assert!(out.status.success(), "writing {}: {}", dest.display(), text(&out.stderr));
}

/// One entry of a gzip layer, as the `tar` crate reads it through flate2's gzip decoder.
#[derive(Debug)]
pub struct LayerEntry {
    pub path: String,
    pub kind: tar::EntryType,
    /// Permission bits (and setuid, setgid, sticky).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub bytes: Vec<u8>,
}

/// Every entry of a gzip layer, in order.
pub fn layer_entries(layer: &Path) -> Vec<LayerEntry> {
    let file = std::fs::File::open(layer).unwrap_or_else(|e| panic!("{}: {e}", layer.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive.entries().unwrap_or_else(|e| panic!("{}: {e}", layer.display()));
    entries
        .map(|entry| {
            let mut entry = entry.unwrap_or_else(|e| panic!("{}: {e}", layer.display()));
            let header = entry.header().clone();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap_or_else(|e| panic!("{}: {e}", layer.display()));
            LayerEntry {
                path: entry.path().unwrap().display().to_string(),
                kind: header.entry_type(),
                mode: header.mode().unwrap() & 0o7777,
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                bytes,
            }
        })
        .collect()
}

/// One file's bytes from a gzip layer.
pub fn layer_file(layer: &Path, name: &str) -> Vec<u8> {
    let entry = layer_entries(layer).into_iter().find(|e| e.path == name);
    entry.unwrap_or_else(|| panic!("{} holds no {name}", layer.display())).bytes
}

/// The digest of what index.json of the layout at `dir` names (the shipping layout: its image index).
pub fn index_digest(dir: &Path) -> String {
    read_index(&dir.join("index.json")).manifests()[0].digest().to_string()
}
