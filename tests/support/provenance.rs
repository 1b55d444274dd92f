//! The build provenance of one platform image: an in-toto Statement v1 whose predicate is SLSA
//! Provenance v1, with the image manifest's digest as subject. Deterministic, like the SBOM: no
//! wall-clock time, no invocation id.
use crate::arch::Arch;
use crate::cargo::{package_field, version};
use crate::inputs::{Crate, InputFile, Source, Toolchain};
use serde::Serialize;
use std::collections::BTreeMap;

/// What the build type and builder ids name: the images command of this repository
/// (tests/tools/images.rs), version 1 of its parameters; there is no hosted builder.
pub const BUILD_TYPE: &str = "urn:pause:images-command:v1";
pub const BUILDER: &str = "urn:pause:images-command:local";

#[derive(Serialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: &'static str,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: &'static str,
    pub predicate: Provenance,
}

#[derive(Serialize, Default)]
pub struct ResourceDescriptor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub digest: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: &'static str,
    pub external_parameters: ExternalParameters,
    pub internal_parameters: InternalParameters,
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalParameters {
    /// The exact command, as typed.
    pub command: String,
    pub platform: &'static str,
    pub source: SourceParameters,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceParameters {
    pub commit: Option<String>,
    /// Whether the tree had no uncommitted change (a dirty tree's commit does not say what was built).
    pub clean_tree: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InternalParameters {
    pub toolchain: String,
    pub rustc: String,
    pub target: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
    /// Empty: no invocation id and no times (they would make two builds' documents differ).
    /// Written out, as cosign writes it when it wraps the predicate.
    pub metadata: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
pub struct Builder {
    pub id: &'static str,
}

fn sha256(hex: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("sha256", hex.trim_start_matches("sha256:").to_string())])
}

/// Everything one platform's provenance states.
pub struct Build<'a> {
    pub arch: &'static Arch,
    pub manifest_digest: &'a str,
    pub command: &'a str,
    pub source: &'a Source,
    pub files: &'a [InputFile],
    pub toolchain: &'a Toolchain,
    pub crates: &'a [Crate],
}

/// The provenance statement of one platform image.
pub fn provenance(b: &Build) -> Statement {
    let name = package_field("name");
    let mut deps = Vec::new();
    if let Some(commit) = &b.source.commit {
        deps.push(ResourceDescriptor {
            name: Some("source".into()),
            digest: BTreeMap::from([("gitCommit", commit.clone())]),
            ..Default::default()
        });
    }
    for f in b.files {
        deps.push(ResourceDescriptor { name: Some(f.path.into()), digest: sha256(&f.sha256), ..Default::default() });
    }
    deps.push(ResourceDescriptor {
        name: Some("rust-src".into()),
        uri: Some(b.toolchain.rust_src_url.clone()),
        digest: sha256(&b.toolchain.rust_src_sha256),
    });
    for c in b.crates {
        deps.push(ResourceDescriptor {
            name: Some(format!("{} {}", c.name, c.version)),
            uri: Some(format!("pkg:cargo/{}@{}", c.name, c.version)),
            digest: sha256(&c.checksum),
        });
    }
    Statement {
        type_: "https://in-toto.io/Statement/v1",
        subject: vec![ResourceDescriptor {
            name: Some(format!("{name}-{}-{}", version(), b.arch.name)),
            uri: None,
            digest: sha256(b.manifest_digest),
        }],
        predicate_type: "https://slsa.dev/provenance/v1",
        predicate: Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE,
                external_parameters: ExternalParameters {
                    command: b.command.into(),
                    platform: b.arch.platform,
                    source: SourceParameters { commit: b.source.commit.clone(), clean_tree: b.source.clean },
                },
                internal_parameters: InternalParameters {
                    toolchain: b.toolchain.channel.clone(),
                    rustc: b.toolchain.rustc.clone(),
                    target: b.arch.triple,
                },
                resolved_dependencies: deps,
            },
            run_details: RunDetails { builder: Builder { id: BUILDER }, metadata: BTreeMap::new() },
        },
    }
}
