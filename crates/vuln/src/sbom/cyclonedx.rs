//! CycloneDX 1.6 JSON (<https://cyclonedx.org/docs/1.6/json/>).

use serde_json::{Value, json};

use super::{SbomError, WriteOptions, distro_from_purl, package_from_purl, uuid_from};
use crate::catalog::{Artifact, Distro, Sbom, finish};

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// Builds the CycloneDX document of an SBOM.
pub fn to_json(sbom: &Sbom, options: &WriteOptions) -> Value {
    let seed = serde_json::to_vec(sbom).unwrap_or_default();
    let mut subject = json!({
        "bom-ref": "artifact",
        "type": "container",
        "name": sbom.artifact.name,
    });
    let mut subject_props = Vec::new();
    if let Some(d) = &sbom.artifact.digest {
        subject["version"] = json!(d);
        subject["hashes"] = json!([{"alg": "SHA-256", "content": d.trim_start_matches("sha256:")}]);
    }
    if let Some(id) = &sbom.artifact.image_id {
        subject_props.push(prop("palisade:image_id", id));
    }
    for l in &sbom.artifact.layers {
        subject_props.push(prop("palisade:layer", l));
    }
    if !subject_props.is_empty() {
        subject["properties"] = Value::Array(subject_props);
    }
    let mut components = Vec::new();
    if let Some(d) = &sbom.distro {
        let mut os = json!({
            "bom-ref": "os",
            "type": "operating-system",
            "name": d.id,
        });
        if let Some(v) = &d.version_id {
            os["version"] = json!(v);
        }
        if let Some(p) = &d.pretty_name {
            os["description"] = json!(p);
        }
        components.push(os);
    }
    for (i, p) in sbom.packages.iter().enumerate() {
        let mut c = json!({
            "bom-ref": format!("pkg-{i}"),
            "type": "library",
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
        });
        if let Some(l) = &p.metadata.license {
            c["licenses"] = json!([{"license": {"name": l}}]);
        }
        let mut props = vec![prop("palisade:package:type", p.kind.as_str())];
        for l in &p.locations {
            props.push(prop("palisade:location", l));
        }
        if let Some(layer) = &p.layer_digest {
            props.push(prop("palisade:layer_digest", layer));
        }
        c["properties"] = Value::Array(props);
        components.push(c);
    }
    let timestamp = options.timestamp.clone().unwrap_or_else(super::now_rfc3339);
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&seed)),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{
                "type": "application",
                "name": options.tool,
                "version": options.tool_version,
            }]},
            "component": subject,
        },
        "components": components,
    })
}

fn props(c: &Value) -> Vec<(&str, &str)> {
    c.get("properties")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn collect<'a>(components: &'a [Value], out: &mut Vec<&'a Value>, depth: usize) {
    for c in components {
        out.push(c);
        if depth < 16
            && let Some(inner) = c.get("components").and_then(Value::as_array)
        {
            collect(inner, out, depth + 1);
        }
    }
}

/// Reads a CycloneDX JSON document (any 1.x version) into an SBOM. Components without a
/// purl of a known type are skipped.
pub fn from_json(v: &Value) -> Result<Sbom, SbomError> {
    let mut sbom = Sbom::default();
    if let Some(c) = v.pointer("/metadata/component") {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        sbom.artifact = Artifact {
            name: name.to_owned(),
            digest: c
                .get("version")
                .and_then(Value::as_str)
                .filter(|s| s.starts_with("sha256:"))
                .map(str::to_owned),
            image_id: props(c)
                .iter()
                .find(|(k, _)| *k == "palisade:image_id" || *k == "aquasecurity:trivy:ImageID")
                .map(|(_, v)| (*v).to_owned()),
            layers: props(c)
                .iter()
                .filter(|(k, _)| *k == "palisade:layer")
                .map(|(_, v)| (*v).to_owned())
                .collect(),
        };
    }
    let top = match v.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => {
            return Err(SbomError::Invalid {
                format: "CycloneDX",
                reason: "components is not an array".into(),
            });
        }
    };
    let mut all = Vec::new();
    collect(&top, &mut all, 0);
    for c in all {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind == "operating-system" {
            if sbom.distro.is_none()
                && let Some(id) = c.get("name").and_then(Value::as_str)
            {
                sbom.distro = Some(Distro {
                    id: id.to_ascii_lowercase(),
                    version_id: c.get("version").and_then(Value::as_str).map(str::to_owned),
                    pretty_name: c
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    ..Distro::default()
                });
            }
            continue;
        }
        let Some(purl) = c.get("purl").and_then(Value::as_str) else {
            continue;
        };
        let version = c.get("version").and_then(Value::as_str);
        let name = c.get("name").and_then(Value::as_str);
        let Some(mut p) = package_from_purl(purl, version, name) else {
            continue;
        };
        if sbom.distro.is_none() && p.kind.is_os() {
            sbom.distro = distro_from_purl(purl);
        }
        for (k, val) in props(c) {
            let is_location = k == "palisade:location"
                || k == "aquasecurity:trivy:FilePath"
                || (k.starts_with("syft:location:") && k.ends_with(":path"));
            if is_location {
                let l = val.trim_start_matches('/').to_owned();
                if !p.locations.contains(&l) {
                    p.locations.push(l);
                }
            } else if k == "palisade:layer_digest" || k == "aquasecurity:trivy:LayerDiffID" {
                p.layer_digest = Some(val.to_owned());
            } else if k == "aquasecurity:trivy:SrcName" && p.kind.is_os() {
                p.metadata.source_name.get_or_insert_with(|| val.to_owned());
            }
        }
        if let Some(l) = c
            .get("licenses")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|l| {
                l.get("expression")
                    .or_else(|| l.pointer("/license/id"))
                    .or_else(|| l.pointer("/license/name"))
            })
            .and_then(Value::as_str)
        {
            p.metadata.license = Some(l.to_owned());
        }
        sbom.packages.push(p);
    }
    finish(&mut sbom);
    Ok(sbom)
}
