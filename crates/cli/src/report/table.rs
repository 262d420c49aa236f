//! Human-readable output.

use std::io::Write;

use palisade_model::Severity;

use super::ScanContext;

pub(crate) fn write_findings(out: &mut impl Write, ctx: &ScanContext<'_>) -> anyhow::Result<()> {
    if !ctx.findings.is_empty() {
        writeln!(
            out,
            "{:<13} {:<40} {:<50} MESSAGE",
            "SEVERITY", "CHECK", "RESOURCE"
        )?;
    }
    for f in ctx.findings {
        let mut resource = f.resource.to_string();
        if let Some(c) = &f.container {
            resource.push_str(" [");
            resource.push_str(c);
            resource.push(']');
        }
        writeln!(
            out,
            "{:<13} {:<40} {:<50} {}",
            f.severity.as_str().to_uppercase(),
            f.check_id,
            resource,
            f.message
        )?;
    }
    let mut counts = [0usize; 5];
    for f in ctx.findings {
        counts[f.severity as usize] += 1;
    }
    let parts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| format!("{} {}", counts[*s as usize], s))
        .collect();
    writeln!(
        out,
        "\n{} resource(s) scanned, {} finding(s): {}",
        ctx.inventory.objects.len(),
        ctx.findings.len(),
        parts.join(", ")
    )?;
    Ok(())
}

pub(crate) fn write_catalog(out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<44} {:<13} {:<14} TITLE",
        "ID", "SEVERITY", "CATEGORY"
    )?;
    for c in palisade_posture::catalog() {
        writeln!(
            out,
            "{:<44} {:<13} {:<14} {}",
            c.id,
            c.severity.as_str(),
            c.category,
            c.title
        )?;
    }
    writeln!(out, "\n{} checks", palisade_posture::catalog().len())?;
    Ok(())
}
