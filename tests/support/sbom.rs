//! The SBOM of one platform image: an SPDX 2.3 JSON document of what is really inside (the pause
//! binary, the crates compiled into it, Rust's core) and how they relate. Deterministic: the same
//! inputs give the same bytes (its time is the commit's, its namespace a digest of its content).
use crate::arch::Arch;
use crate::cargo::{package_field, version};
use crate::inputs::{Crate, Source, Toolchain};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub spdx_version: &'static str,
    pub data_license: &'static str,
    #[serde(rename = "SPDXID")]
    pub spdx_id: &'static str,
    pub name: String,
    pub document_namespace: String,
    pub creation_info: CreationInfo,
    pub packages: Vec<Package>,
    pub files: Vec<File>,
    pub relationships: Vec<Relationship>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationInfo {
    pub created: String,
    pub creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    pub name: String,
    pub version_info: String,
    pub download_location: String,
    pub files_analyzed: bool,
    /// Required when files_analyzed: the SHA1 of its files' SHA1s, sorted and concatenated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_verification_code: Option<VerificationCode>,
    pub license_concluded: String,
    pub license_declared: String,
    pub copyright_text: &'static str,
    pub primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    pub file_name: String,
    pub checksums: Vec<Checksum>,
    pub license_concluded: String,
    pub copyright_text: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checksum {
    pub algorithm: &'static str,
    pub checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationCode {
    pub package_verification_code_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    pub reference_category: &'static str,
    pub reference_type: &'static str,
    pub reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub spdx_element_id: String,
    pub relationship_type: &'static str,
    pub related_spdx_element: String,
}

/// What one platform image is, for its SBOM.
pub struct Subject<'a> {
    pub arch: &'static Arch,
    /// The image manifest's digest, sha256:...
    pub manifest_digest: &'a str,
    /// The pause binary's bytes, as in the image at /pause.
    pub binary: &'a [u8],
}

fn rel(a: &str, kind: &'static str, b: &str) -> Relationship {
    Relationship { spdx_element_id: a.into(), relationship_type: kind, related_spdx_element: b.into() }
}

/// SPDX ids allow letters, digits, '.' and '-'.
fn spdx_id(kind: &str, name: &str) -> String {
    format!("SPDXRef-{kind}-{}", name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' }).collect::<String>())
}

/// The SBOM of one platform image (see the module's doc).
pub fn sbom(subject: &Subject, crates: &[Crate], toolchain: &Toolchain, source: &Source) -> Document {
    let (name, version, license) = (package_field("name"), version(), package_field("license"));
    let platform = subject.arch.platform;
    let image_id = "SPDXRef-Image".to_string();
    let file_id = spdx_id("File", "pause");
    let pause_id = spdx_id("Package", &name);
    let core_id = spdx_id("Package", "core");
    let binary_sha1 = format!("{:x}", sha1::Sha1::digest(subject.binary));
    let mut packages = vec![
        Package {
            spdx_id: image_id.clone(),
            name: name.clone(),
            version_info: version.clone(),
            download_location: "NOASSERTION".into(),
            // Its one file, /pause, is listed (and its checksums checked by the tests).
            files_analyzed: true,
            package_verification_code: Some(VerificationCode {
                package_verification_code_value: format!("{:x}", sha1::Sha1::digest(binary_sha1.as_bytes())),
            }),
            license_concluded: license.clone(),
            license_declared: license.clone(),
            copyright_text: "NOASSERTION",
            primary_package_purpose: "CONTAINER",
            checksums: vec![],
            source_info: Some(format!("the {platform} image of {name} {version}, manifest {}", subject.manifest_digest)),
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: format!(
                    "pkg:oci/{name}@{}?arch={}",
                    subject.manifest_digest.replace(':', "%3A"),
                    subject.arch.platform.trim_start_matches("linux/").replace('/', "%2F")
                ),
            }],
        },
        Package {
            spdx_id: pause_id.clone(),
            name: name.clone(),
            version_info: version.clone(),
            download_location: "NOASSERTION".into(),
            files_analyzed: false,
            package_verification_code: None,
            license_concluded: license.clone(),
            license_declared: license.clone(),
            copyright_text: "NOASSERTION",
            primary_package_purpose: "SOURCE",
            checksums: vec![],
            source_info: Some(match &source.commit {
                Some(c) => format!("git commit {c}, {}", if source.clean { "clean tree" } else { "with uncommitted changes" }),
                None => "not a git checkout".into(),
            }),
            external_refs: vec![],
        },
        Package {
            spdx_id: core_id.clone(),
            name: "core".into(),
            version_info: toolchain.rust_src_version.clone(),
            download_location: toolchain.rust_src_url.clone(),
            files_analyzed: false,
            package_verification_code: None,
            license_concluded: "NOASSERTION".into(),
            license_declared: "MIT OR Apache-2.0".into(),
            copyright_text: "NOASSERTION",
            primary_package_purpose: "LIBRARY",
            checksums: vec![Checksum { algorithm: "SHA256", checksum_value: toolchain.rust_src_sha256.clone() }],
            source_info: Some(format!(
                "Rust's core, built from the rust-src component of the {} toolchain ({})",
                toolchain.channel, toolchain.rustc
            )),
            external_refs: vec![],
        },
    ];
    let mut relationships = vec![
        rel("SPDXRef-DOCUMENT", "DESCRIBES", &image_id),
        rel(&image_id, "CONTAINS", &file_id),
        rel(&file_id, "GENERATED_FROM", &pause_id),
        rel(&file_id, "STATIC_LINK", &core_id),
        rel(&pause_id, "DEPENDS_ON", &core_id),
    ];
    for c in crates {
        let id = spdx_id("Package", &format!("{}-{}", c.name, c.version));
        packages.push(Package {
            spdx_id: id.clone(),
            name: c.name.clone(),
            version_info: c.version.clone(),
            download_location: format!("https://crates.io/api/v1/crates/{}/{}/download", c.name, c.version),
            files_analyzed: false,
            package_verification_code: None,
            license_concluded: "NOASSERTION".into(),
            license_declared: c.license.clone(),
            copyright_text: "NOASSERTION",
            primary_package_purpose: "LIBRARY",
            checksums: vec![Checksum { algorithm: "SHA256", checksum_value: c.checksum.clone() }],
            source_info: None,
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: format!("pkg:cargo/{}@{}", c.name, c.version),
            }],
        });
        relationships.push(rel(&file_id, "STATIC_LINK", &id));
        relationships.push(rel(&pause_id, "DEPENDS_ON", &id));
    }
    let file = File {
        spdx_id: file_id,
        // SPDX file names are relative to the package's root: the image's /pause.
        file_name: "./pause".into(),
        checksums: vec![
            Checksum { algorithm: "SHA1", checksum_value: binary_sha1 },
            Checksum { algorithm: "SHA256", checksum_value: format!("{:x}", Sha256::digest(subject.binary)) },
        ],
        license_concluded: license,
        copyright_text: "NOASSERTION",
    };
    let mut doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: format!("{name}-{version}-{}", platform.replace('/', "-")),
        document_namespace: String::new(),
        creation_info: CreationInfo { created: source.time.clone(), creators: vec![format!("Tool: {name}-images-{version}")] },
        packages,
        files: vec![file],
        relationships,
    };
    // A namespace unique to this content (SPDX wants one per document), the same for the same
    // content: an RFC 9562 version 8 (custom) UUID made of the first 16 bytes of the sha256 of the
    // document without it, its version and variant bits set.
    let digest = Sha256::digest(serde_json::to_vec(&doc).unwrap());
    let bytes: [u8; 16] = digest[..16].try_into().unwrap();
    doc.document_namespace = uuid::Builder::from_custom_bytes(bytes).into_uuid().urn().to_string();
    doc
}
