//! The tests' own podman and buildah configuration: a containers.conf and storage.conf per
//! checkout (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), and settings added to it for one test.
use crate::scratch::{checkout_root, checkout_run_root};
use std::path::PathBuf;

/// Writes (once per process) and returns this checkout's containers.conf and storage.conf, under
/// its scratch root: the store at `<checkout root>/podman/storage`, run state under
/// `/run/pt-<key>`. They suit a CI machine like this project's: hybrid cgroups (cgroupfs, runc:
/// crun fails there), and no permission to raise rlimits beyond these.
pub fn test_confs() -> (PathBuf, PathBuf) {
    static CONFS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    CONFS
        .get_or_init(|| {
            let (dir, run) = (checkout_root().join("podman"), checkout_run_root());
            std::fs::create_dir_all(&dir).unwrap();
            let containers = format!(
                r#"# podman/buildah settings for the tests only (CONTAINERS_CONF), so users' own commands stay plain.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"
# No network: containers and pods get a network namespace with only loopback (all a pod's
# containers need to talk over 127.0.0.1), so no test adds a bridge, a route or a firewall rule
# to the host or shares podman's default network with anything else.
netns = "none"

[network]
# Network definitions (podman kube play writes one) of this checkout's own.
network_config_dir = "{networks}"

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
# Throwaway state of this checkout's own. (The database and volumes live under storage.conf's
# graphroot by default. Setting static_dir here instead makes every attached `podman run` hang
# 20 s: podman 4.3 does not pass it to conmon's cleanup command.)
tmp_dir = "{run}/libpod"
"#,
                run = run.display(),
                networks = dir.join("networks").display()
            );
            let storage = format!(
                "# Image and container storage for the tests only (CONTAINERS_STORAGE_CONF): vfs (works everywhere, nothing to mount).\n[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.join("storage").display(),
                run.join("storage").display()
            );
            let (c, s) = (dir.join("containers.conf"), dir.join("storage.conf"));
            // Written whole, then renamed: a test process reading them while another writes sees
            // either the old or the new file, never a half.
            for (path, text) in [(&c, containers), (&s, storage)] {
                let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
                std::fs::write(&tmp, text).unwrap();
                std::fs::rename(&tmp, path).unwrap();
            }
            (c, s)
        })
        .clone()
}

/// A containers.conf with the settings of `extra` (TOML) added to `base`'s: each of its tables'
/// keys set in the table of that name (made when `base` has none), as `toml` reads and writes them.
pub fn merge_conf(base: &str, extra: &str) -> String {
    let mut conf: toml::Table = base.parse().unwrap_or_else(|e| panic!("the tests' containers.conf: {e}"));
    let extra: toml::Table = extra.parse().unwrap_or_else(|e| panic!("containers.conf settings {extra:?}: {e}"));
    for (table, settings) in extra {
        let toml::Value::Table(settings) = settings else { panic!("containers.conf setting {table} is not in a [table]") };
        let into = conf.entry(table.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(into) = into else { panic!("containers.conf's {table} is not a table") };
        into.extend(settings);
    }
    toml::to_string(&conf).unwrap()
}
