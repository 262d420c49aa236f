//! SPDX 2.3 JSON (<https://spdx.github.io/spdx-spec/v2.3/>).

use serde_json::{Value, json};

use super::{SbomError, WriteOptions, distro_from_purl, package_from_purl, uuid_from};
use crate::catalog::{Artifact, Distro, Sbom, finish};

const LOCATION_PREFIX: &str = "found in: ";

/// Whether a licence text is a plain SPDX expression (ids joined by AND/OR/WITH).
fn spdx_expression(s: &str) -> bool {
    let mut expect_id = true;
    for tok in s.split_whitespace() {
        let tok = tok.trim_matches(['(', ')']);
        if expect_id {
            if tok.is_empty()
                || !tok
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            {
                return false;
            }
        } else if !matches!(tok, "AND" | "OR" | "WITH") {
            return false;
        }
        expect_id = !expect_id;
    }
    !expect_id
}

fn spdx_id(prefix: &str, i: usize) -> String {
    format!("SPDXRef-{prefix}-{i}")
}

/// Builds the SPDX document of an SBOM.
pub fn to_json(sbom: &Sbom, options: &WriteOptions) -> Value {
    let seed = serde_json::to_vec(sbom).unwrap_or_default();
    let uuid = uuid_from(&seed);
    let mut packages = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Artifact",
    })];
    let mut root = json!({
        "SPDXID": "SPDXRef-Artifact",
        "name": sbom.artifact.name,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(d) = &sbom.artifact.digest {
        root["versionInfo"] = json!(d);
        root["checksums"] =
            json!([{"algorithm": "SHA256", "checksumValue": d.trim_start_matches("sha256:")}]);
    }
    packages.push(root);
    if let Some(d) = &sbom.distro {
        let mut os = json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": d.id,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        });
        if let Some(v) = &d.version_id {
            os["versionInfo"] = json!(v);
        }
        packages.push(os);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Artifact",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    for (i, p) in sbom.packages.iter().enumerate() {
        let id = spdx_id("Package", i);
        let license = p
            .metadata
            .license
            .as_deref()
            .filter(|l| spdx_expression(l))
            .unwrap_or("NOASSERTION");
        let mut pkg = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license,
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        });
        if !p.locations.is_empty() {
            pkg["sourceInfo"] = json!(format!("{LOCATION_PREFIX}{}", p.locations.join(", ")));
        }
        if let Some(layer) = &p.layer_digest {
            pkg["comment"] = json!(format!("layer: {layer}"));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Artifact",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let name = if sbom.artifact.name.is_empty() {
        "sbom"
    } else {
        &sbom.artifact.name
    };
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://palisade.dev/spdx/{uuid}"),
        "creationInfo": {
            "created": options.timestamp.clone().unwrap_or_else(super::now_rfc3339),
            "creators": [format!("Tool: {}-{}", options.tool, options.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

/// Reads an SPDX 2.x JSON document into an SBOM. Packages without a purl of a known type
/// are skipped, except the described artifact and an `OPERATING_SYSTEM` package.
pub fn from_json(v: &Value) -> Result<Sbom, SbomError> {
    let mut sbom = Sbom::default();
    let Some(pkgs) = v.get("packages").and_then(Value::as_array) else {
        return Ok(sbom);
    };
    let described: Vec<&str> = v
        .get("documentDescribes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| {
            v.get("relationships")
                .and_then(Value::as_array)
                .map(|rels| {
                    rels.iter()
                        .filter(|r| {
                            r.get("relationshipType").and_then(Value::as_str) == Some("DESCRIBES")
                        })
                        .filter_map(|r| r.get("relatedSpdxElement").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default()
        });
    sbom.artifact.name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    for p in pkgs {
        let s = |k: &str| p.get(k).and_then(Value::as_str);
        let id = s("SPDXID").unwrap_or_default();
        let purpose = s("primaryPackagePurpose").unwrap_or_default();
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            })
            .and_then(|r| r.get("referenceLocator"))
            .and_then(Value::as_str);
        // The JSON schema spells it with an underscore, the tag-value format (and some
        // writers) with a hyphen.
        if purpose == "OPERATING_SYSTEM" || purpose == "OPERATING-SYSTEM" {
            if let Some(name) = s("name") {
                sbom.distro = Some(Distro {
                    id: name.to_ascii_lowercase(),
                    version_id: s("versionInfo").map(str::to_owned),
                    ..Distro::default()
                });
            }
            continue;
        }
        if described.contains(&id) && purl.is_none() {
            sbom.artifact = Artifact {
                name: s("name").unwrap_or_default().to_owned(),
                digest: s("versionInfo")
                    .filter(|v| v.starts_with("sha256:"))
                    .map(str::to_owned),
                ..Artifact::default()
            };
            continue;
        }
        let Some(purl) = purl else { continue };
        let Some(mut pkg) = package_from_purl(purl, s("versionInfo"), s("name")) else {
            continue;
        };
        if sbom.distro.is_none() && pkg.kind.is_os() {
            sbom.distro = distro_from_purl(purl);
        }
        if let Some(info) = s("sourceInfo") {
            let list = info
                .strip_prefix(LOCATION_PREFIX)
                .or_else(|| info.split_once(": ").map(|(_, l)| l))
                .unwrap_or(info);
            pkg.locations = list
                .split(", ")
                .map(|l| l.trim().trim_start_matches('/').to_owned())
                .filter(|l| !l.is_empty() && !l.contains(' '))
                .collect();
        }
        if let Some(layer) = s("comment").and_then(|c| c.strip_prefix("layer: ")) {
            pkg.layer_digest = Some(layer.to_owned());
        }
        if let Some(l) = s("licenseDeclared").filter(|l| !matches!(*l, "NOASSERTION" | "NONE")) {
            pkg.metadata.license = Some(l.to_owned());
        }
        sbom.packages.push(pkg);
    }
    finish(&mut sbom);
    Ok(sbom)
}
