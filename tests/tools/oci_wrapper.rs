//! oci-wrapper SECTION.json RUNTIME ARGS...: the OCI runtime RUNTIME, except that `create` and
//! `run` first replace the bundle's `linux.seccomp` with the JSON in SECTION.json. tests/seccomp.rs
//! gives podman a one-line script that runs this as its `--runtime`, to record what the real
//! runtime does under a filter with the very config podman writes (support/seccomp_notify.rs).
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: oci-wrapper SECTION.json RUNTIME ARGS...");
        std::process::exit(64);
    }
    let (section, runtime, rest) = (&args[0], &args[1], &args[2..]);
    if rest.iter().any(|a| a == "create" || a == "run") {
        let bundle = rest
            .iter()
            .position(|a| a == "--bundle" || a == "-b")
            .and_then(|i| rest.get(i + 1).cloned())
            .or_else(|| rest.iter().find_map(|a| a.strip_prefix("--bundle=").map(String::from)))
            .unwrap_or_else(|| ".".into());
        let path = PathBuf::from(bundle).join("config.json");
        let read = |p: &std::path::Path| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("oci-wrapper: {}: {e}", p.display())))
                .unwrap_or_else(|e| panic!("oci-wrapper: {}: {e}", p.display()))
        };
        let mut config = read(&path);
        config["linux"]["seccomp"] = read(std::path::Path::new(section));
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap_or_else(|e| panic!("oci-wrapper: {}: {e}", path.display()));
    }
    let err = std::process::Command::new(runtime).args(rest).exec();
    eprintln!("oci-wrapper: cannot run {runtime}: {err}");
    std::process::exit(127);
}
