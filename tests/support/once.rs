//! What the tests make once per checkout and then share between test processes (the images,
//! busybox): the first process to ask makes it while it holds an exclusive lock, and records it
//! with the key of its inputs; every other process, also one running beside it (tests/run runs
//! kubelet.rs beside the rest), waits on that lock and reads the record. Nothing
//! made is rewritten while another process may read it: a record of other inputs, or one whose
//! files or podman images are gone, is made again, under the same lock.
use crate::scratch::checkout_root;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

#[derive(Serialize, Deserialize)]
struct Record<T> {
    key: String,
    made: T,
}

/// The key of some inputs: the sha256 of each part, in order, as hex.
pub fn key<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    format!("{:x}", h.finalize())
}

/// `name`'s record in this checkout when it has `key` and `still_there` accepts it; else what
/// `make` makes, recorded. Made and read under `<checkout root>/<name>.lock`.
pub fn per_checkout<T: Serialize + DeserializeOwned>(
    name: &str,
    key: &str,
    still_there: impl Fn(&T) -> bool,
    make: impl FnOnce() -> T,
) -> T {
    let root = checkout_root();
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("cannot make {}: {e}", root.display()));
    let lock_path = root.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path).unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    lock.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    let path = root.join(format!("{name}.json"));
    let recorded = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<Record<T>>(&bytes).ok());
    if let Some(r) = recorded
        && r.key == key
        && still_there(&r.made)
    {
        return r.made;
    }
    let _ = std::fs::remove_file(&path);
    let made = make();
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(&Record { key: key.to_string(), made: &made }).unwrap()).unwrap();
    std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("cannot rename {} to {}: {e}", tmp.display(), path.display()));
    made
}
