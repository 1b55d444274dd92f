//! cosign (Debian 13's 2.5, which tests/run unpacks): key pairs, signatures and attestations of
//! images in a registry, all offline (no transparency log, no network but the registry's).
use crate::process::{run_to_end, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The password of the throwaway keys the tests make (cosign reads COSIGN_PASSWORD).
pub const TEST_KEY_PASSWORD: &str = "pause-tests-throwaway";

/// The attestation types this project attaches, as cosign names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Predicate {
    /// An SPDX JSON document (predicate type https://spdx.dev/Document).
    Spdx,
    /// A SLSA v1 provenance predicate (predicate type https://slsa.dev/provenance/v1).
    SlsaProvenance1,
}

impl Predicate {
    pub fn cosign_type(self) -> &'static str {
        match self {
            Predicate::Spdx => "spdxjson",
            Predicate::SlsaProvenance1 => "slsaprovenance1",
        }
    }
    pub fn predicate_type(self) -> &'static str {
        match self {
            Predicate::Spdx => "https://spdx.dev/Document",
            Predicate::SlsaProvenance1 => "https://slsa.dev/provenance/v1",
        }
    }
}

/// A key pair: cosign.key (encrypted with the password) and cosign.pub.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub private: PathBuf,
    pub public: PathBuf,
    pub password: String,
}

/// cosign run in the network namespace of `netns_pid` (where the registry listens), with its
/// caches in `home`.
#[derive(Debug, Clone)]
pub struct Cosign {
    pub netns_pid: u32,
    pub home: PathBuf,
}

/// The cosign binary tests/run unpacked; fails (never skips) when there is none.
pub fn cosign_binary() -> PathBuf {
    crate::made::by_tests_run("PAUSE_TESTS_COSIGN_DIR", "Debian 13's cosign").join("usr/bin/cosign")
}

impl Cosign {
    fn cmd(&self, args: &[&str], password: Option<&str>) -> Command {
        let mut cmd = crate::namespaces::in_net_of(self.netns_pid);
        cmd.arg(cosign_binary()).args(args);
        cmd.env("TUF_ROOT", self.home.join("tuf")).env("DOCKER_CONFIG", self.home.join("docker")).current_dir(&self.home);
        cmd.env("COSIGN_PASSWORD", password.unwrap_or(""));
        cmd
    }

    fn ok(&self, args: &[&str], password: Option<&str>) -> String {
        let out = run_to_end(self.cmd(args, password));
        assert!(out.status.success(), "cosign {args:?}: {}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// `cosign generate-key-pair` into `dir` as <name>.key and <name>.pub.
    pub fn generate_key_pair(&self, dir: &Path, name: &str, password: &str) -> KeyPair {
        std::fs::create_dir_all(dir).unwrap();
        let prefix = dir.join(name);
        self.ok(&["generate-key-pair", "--output-key-prefix", prefix.to_str().unwrap()], Some(password));
        KeyPair { private: prefix.with_extension("key"), public: prefix.with_extension("pub"), password: password.into() }
    }

    /// The public key of a private key, written to `public`: the pair the other commands take.
    pub fn key_pair(&self, private: &Path, password: &str, public: &Path) -> KeyPair {
        self.ok(&["public-key", "--key", private.to_str().unwrap(), "--outfile", public.to_str().unwrap()], Some(password));
        KeyPair { private: private.into(), public: public.into(), password: password.into() }
    }

    /// Signs `reference` (repository@digest) with the key; the signature goes to the registry.
    pub fn sign(&self, key: &KeyPair, reference: &str) {
        self.ok(
            &["sign", "--yes", "--key", key.private.to_str().unwrap(), "--tlog-upload=false", "--allow-http-registry", reference],
            Some(&key.password),
        );
    }

    /// Attaches a signed attestation of `predicate` (a file) to `reference`.
    pub fn attest(&self, key: &KeyPair, kind: Predicate, predicate: &Path, reference: &str) {
        self.ok(
            &[
                "attest",
                "--yes",
                "--key",
                key.private.to_str().unwrap(),
                "--tlog-upload=false",
                "--allow-http-registry",
                "--type",
                kind.cosign_type(),
                "--predicate",
                predicate.to_str().unwrap(),
                reference,
            ],
            Some(&key.password),
        );
    }

    /// `cosign SUBCOMMAND --key PUBLIC [EXTRA...]` of `reference`, offline (no transparency log,
    /// the tests' plain-HTTP registry), with JSON output.
    fn verify_with(&self, subcommand: &str, public: &Path, extra: &[&str], reference: &str) -> Output {
        let mut args = vec![subcommand, "--key", public.to_str().unwrap(), "--insecure-ignore-tlog=true", "--allow-http-registry"];
        args.extend(extra);
        args.extend(["--output", "json", reference]);
        run_to_end(self.cmd(&args, None))
    }

    /// `cosign verify --key PUBLIC` of `reference` (offline: no transparency log).
    pub fn verify(&self, public: &Path, reference: &str) -> Output {
        self.verify_with("verify", public, &[], reference)
    }

    /// `cosign verify-attestation --key PUBLIC --type TYPE` of `reference`; on success, the
    /// in-toto statements it verified.
    pub fn verify_attestation(&self, public: &Path, kind: Predicate, reference: &str) -> Result<Vec<serde_json::Value>, String> {
        let out = self.verify_with("verify-attestation", public, &["--type", kind.cosign_type()], reference);
        if !out.status.success() {
            return Err(text(&out.stderr));
        }
        Ok(text(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let envelope: serde_json::Value = serde_json::from_str(l).unwrap();
                serde_json::from_slice(&base64_decode(envelope["payload"].as_str().unwrap())).unwrap()
            })
            .collect())
    }
}

/// Standard base64 (the DSSE envelope's payload).
fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
