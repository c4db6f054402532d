//! The report as `status` prints it: kubectl-style columns, then per host its path port by
//! port and its findings, then what was read of the mesh.

use super::*;

/// Which of the table's optional columns are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Columns {
    /// NAMESPACE first (-A), and hosts named namespace/host below the table.
    pub namespace: bool,
    /// SERVICEENTRY and VIRTUALSERVICES last (-o wide).
    pub wide: bool,
}

/// The table `status` prints: kubectl-style columns, then the path and findings per host.
pub fn table(report: &Report, shown: Columns) -> String {
    let mut out = if report.hosts.is_empty() {
        String::from("No external hosts found.\n")
    } else {
        let mut rows = vec![header(shown)];
        rows.extend(report.hosts.iter().map(|h| row(h, shown)));
        columns(rows)
    };
    for h in &report.hosts {
        out.push_str(&host_details(h, shown));
    }
    out.push_str(&mesh_details(&report.mesh));
    printable(out)
}

fn header(shown: Columns) -> Vec<String> {
    let mut header = vec![];
    if shown.namespace {
        header.push("NAMESPACE");
    }
    header.extend([
        "HOST",
        "PORTS",
        "RESOLUTION",
        "EXPORT",
        "TIMEOUT",
        "ROUTE",
        "MANAGED",
        "FINDINGS",
    ]);
    if shown.wide {
        header.extend(["SERVICEENTRY", "VIRTUALSERVICES"]);
    }
    header.iter().map(|s| s.to_string()).collect()
}

/// A host's line of the table; FINDINGS lists the codes above info.
fn row(h: &HostReport, shown: Columns) -> Vec<String> {
    let mut row = vec![];
    if shown.namespace {
        row.push(h.namespace.clone());
    }
    let ports = h
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.number, p.protocol))
        .collect::<Vec<_>>()
        .join(",");
    let route = match h.route.kind {
        Via::Gateway => format!(
            "via {}",
            short_service(h.route.gateway_host.as_deref().unwrap_or(""))
        ),
        other => other.to_string(),
    };
    let codes: Vec<&str> = h
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.code.as_str())
        .collect();
    row.extend([
        h.host.clone(),
        or_dash(ports),
        or_dash(h.resolution.clone().unwrap_or_default()),
        or_dash(h.export_to.join(",")),
        or_dash(h.timeout.clone().unwrap_or_default()),
        route,
        if h.managed { "yes" } else { "no" }.to_string(),
        or_dash(codes.join(",")),
    ]);
    if shown.wide {
        row.push(or_dash(h.service_entry.clone().unwrap_or_default()));
        row.push(or_dash(h.virtual_services.join(",")));
    }
    row
}

/// Below the table, per host: its path port by port (the gateway's side too), and findings.
fn host_details(h: &HostReport, shown: Columns) -> String {
    let mut out = String::from("\n");
    if shown.namespace {
        out.push_str(&format!("{}/{}\n", h.namespace, h.host));
    } else {
        out.push_str(&format!("{}\n", h.host));
    }
    if let Some(by) = &h.allowed_by {
        out.push_str(&format!("  allowed by {by}\n"));
    }
    if let Some(sidecar) = &h.sidecar {
        out.push_str(&format!("  scoped by Sidecar {sidecar}\n"));
    }
    for t in &h.traffic {
        out.push_str(&format!("  {}\n", traffic::describe(&h.host, t)));
    }
    for t in &h.gateway {
        out.push_str(&format!("  gateway {}\n", traffic::describe(&h.host, t)));
    }
    for w in &h.workloads {
        let whose = format!("  workloads {} (Sidecar {})", w.selector, w.sidecar);
        if w.same_as_namespace {
            out.push_str(&format!("{whose}: the same\n"));
        } else {
            out.push_str(&format!("{whose}:\n"));
            for t in &w.traffic {
                out.push_str(&format!("    {}\n", traffic::describe(&h.host, t)));
            }
        }
        if !w.shadowed_by.is_empty() {
            out.push_str(&format!(
                "    those Sidecar {} also selects get its answers\n",
                w.shadowed_by.join(", ")
            ));
        }
    }
    for f in &h.findings {
        out.push_str(&format!("  {} {}: {}\n", f.code, f.severity, f.message));
    }
    out
}

fn mesh_details(mesh: &MeshReport) -> String {
    let mut out = String::from("\nmesh\n");
    if let Some(config_map) = &mesh.mesh_config {
        out.push_str(&format!(
            "  mesh config: ConfigMap {config_map} (the namespace's revision, istio.io/rev)\n"
        ));
    }
    for f in &mesh.findings {
        out.push_str(&format!("  {} {}: {}\n", f.code, f.severity, f.message));
    }
    if let Some(false) = mesh.egress_gateway {
        out.push_str("  egress gateway: istio-egressgateway not found in istio-system\n");
    }
    for why in &mesh.unknown {
        out.push_str(&format!("  unknown {why}\n"));
    }
    out
}

/// Control characters (a terminal escape in a hand-made host, say) shown escaped, never raw.
fn printable(text: String) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".to_string() } else { s }
}

/// Left-aligned columns separated by three spaces, borderless, as kubectl prints tables; widths
/// by display width (comfy-table), so wide characters in a host keep the columns straight.
pub fn columns(rows: Vec<Vec<String>>) -> String {
    use comfy_table::{ContentArrangement, Table, presets::NOTHING};
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    for row in rows {
        table.add_row(row);
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 < count { 3 } else { 0 }));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
