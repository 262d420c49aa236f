//! The dashboard: server-rendered HTML pages (no scripts) over the same views as the API.
//!
//! Sign-in takes an API token and keeps it in an HttpOnly, Secure, SameSite=Strict cookie.
//! Every form that changes something carries the session's CSRF token in a hidden field, checked
//! before anything else; readers see no write buttons and are refused (403) if they post anyway.
//! Filters are plain GET forms, so every filtered view has a URL.

use std::fmt::Write as _;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use palisade_model::Severity;
use palisade_store::AlertStatus;
use serde::Deserialize;

use crate::api::{change_alert, parse_alert_id};
use crate::auth::{self, Principal, SESSION_COOKIE};
use crate::error::{ApiError, current_request_id};
use crate::html::{self, esc, link, url_part};
use crate::query::{self, AlertQuery, NoQuery, RecommendationQuery, ResourceQuery};
use crate::{AppState, Backend, read_body, views};

/// The dashboard's routes.
pub(crate) fn routes<S: Backend>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(overview::<S>))
        .route("/login", get(login_form).post(login::<S>))
        .route("/logout", post(logout))
        .route("/alerts", get(alerts::<S>))
        .route("/alerts/{id}", get(alert::<S>))
        .route("/alerts/{id}/dismiss", post(dismiss::<S>))
        .route("/alerts/{id}/resolve", post(resolve::<S>))
        .route("/recommendations", get(recommendations::<S>))
        .route("/inventory", get(inventory::<S>))
        .route("/images", get(images::<S>))
        .route("/images/{digest}", get(image::<S>))
        .route("/coverage", get(coverage::<S>))
        .route("/assets/style.css", get(style))
}

/// A page or a redirect to the sign-in page.
type PageResult = Result<Response, PageError>;

/// Why a page could not be shown.
pub(crate) enum PageError {
    /// Not signed in.
    SignIn,
    /// Any other error, shown as an error page.
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Api(e)
    }
}

impl From<palisade_store::Error> for PageError {
    fn from(e: palisade_store::Error) -> Self {
        PageError::Api(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => Redirect::to("/login").into_response(),
            PageError::Api(e) => {
                e.log();
                let body = format!(
                    "<p class=\"error\" role=\"alert\">{}</p><p class=\"muted\">Request id: {}</p>",
                    esc(&e.public_message()),
                    esc(&current_request_id())
                );
                let title = e.status().canonical_reason().unwrap_or("Error");
                (e.status(), Html(html::page(title, "", None, &body))).into_response()
            }
        }
    }
}

/// The 404 page for paths outside the API.
pub(crate) fn not_found_page() -> Response {
    PageError::Api(ApiError::NotFound("There is no such page.".into())).into_response()
}

async fn session<S: Backend>(
    app: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Principal, PageError> {
    auth::authenticate(&app.store, headers)
        .await?
        .ok_or(PageError::SignIn)
}

fn page(title: &str, current: &str, who: &Principal, body: &str) -> PageResult {
    Ok(Html(html::page(title, current, Some(who), body)).into_response())
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::STYLE_CSS,
    )
        .into_response()
}

fn login_page(error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    });
    let body = format!(
        "{error}<form class=\"stack\" method=\"post\" action=\"/login\">\
         <label for=\"token\">API token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\">Create a token with <code>palisade token create --role reader</code>.</p>"
    );
    html::page("Sign in", "", None, &body)
}

async fn login_form() -> Html<String> {
    Html(login_page(None))
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login<S: Backend>(State(app): State<AppState<S>>, body: Body) -> PageResult {
    let bytes = read_body(body, app.config.body_limit).await?;
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid form: {e}")))?;
    let token = form.token.trim();
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(header::AUTHORIZATION, v);
    }
    if auth::authenticate(&app.store, &headers).await?.is_none() {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Html(login_page(Some("This token is not valid."))),
        )
            .into_response());
    }
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=43200"
    );
    let mut response = Redirect::to("/").into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            response.headers_mut().insert(header::SET_COOKIE, v);
            Ok(response)
        }
        Err(_) => {
            Err(ApiError::BadRequest("the token has characters a cookie cannot hold".into()).into())
        }
    }
}

async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "palisade_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

async fn overview<S: Backend>(State(app): State<AppState<S>>, headers: HeaderMap) -> PageResult {
    let who = session(&app, &headers).await?;
    let o = views::overview(&app.store).await?;
    let order: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
    let bars = |m: &views::BySeverity| -> Vec<(&str, u64)> {
        order
            .iter()
            .map(|s| (*s, m.get(s).copied().unwrap_or(0)))
            .collect()
    };
    let total = |m: &views::BySeverity| m.values().sum::<u64>();
    let body = format!(
        "<div class=\"tiles\">\
         <section class=\"tile\" aria-labelledby=\"t-alerts\"><h2 id=\"t-alerts\"><a href=\"/alerts?status=active\">Active alerts</a></h2>\
         <p class=\"big\">{}</p>{}</section>\
         <section class=\"tile\" aria-labelledby=\"t-recs\"><h2 id=\"t-recs\"><a href=\"/recommendations\">Recommendations</a></h2>\
         <p class=\"big\">{}</p>{}</section>\
         <section class=\"tile\" aria-labelledby=\"t-images\"><h2 id=\"t-images\"><a href=\"/images\">Vulnerable images</a></h2>\
         <p class=\"big\">{}</p><p>of {} scanned images</p></section>\
         <section class=\"tile\" aria-labelledby=\"t-cov\"><h2 id=\"t-cov\"><a href=\"/coverage\">Coverage</a></h2>\
         <p class=\"big\">{} / {}</p><p>components healthy</p></section>\
         <section class=\"tile\" aria-labelledby=\"t-inv\"><h2 id=\"t-inv\"><a href=\"/inventory\">Inventory</a></h2>\
         <p class=\"big\">{}</p><p>resources in {} clusters</p></section>\
         </div>",
        total(&o.active_alerts),
        html::bar_chart(
            "chart-alerts",
            "Active alerts by severity",
            &bars(&o.active_alerts)
        ),
        total(&o.recommendations),
        html::bar_chart(
            "chart-recs",
            "Recommendations by severity",
            &bars(&o.recommendations)
        ),
        o.images.vulnerable,
        o.images.total,
        o.coverage.healthy,
        o.coverage.total,
        o.resources,
        o.clusters,
    );
    page("Overview", "/", &who, &body)
}

fn resource_text(r: Option<&palisade_model::ResourceRef>) -> String {
    r.map_or_else(|| "—".to_owned(), ToString::to_string)
}

async fn alerts<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let filter = query::parse::<AlertQuery>(q.as_deref())?.into_filter()?;
    let list = app.store.list_alerts(&filter).await?;
    let statuses: Vec<&str> = AlertStatus::ALL.iter().map(|s| s.as_str()).collect();
    let severities: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/alerts\">\
         <label for=\"f-status\">Status<select id=\"f-status\" name=\"status\">{}</select></label>\
         <label for=\"f-severity\">Severity<select id=\"f-severity\" name=\"severity\">{}</select></label>\
         <label for=\"f-type\">Alert type<input id=\"f-type\" name=\"type\" value=\"{}\"></label>\
         <label for=\"f-cluster\">Cluster<input id=\"f-cluster\" name=\"cluster\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        html::options(&statuses, filter.status.map(AlertStatus::as_str)),
        html::options(&severities, filter.severity.map(Severity::as_str)),
        esc(filter.alert_type.as_deref().unwrap_or("")),
        esc(filter.cluster.as_deref().unwrap_or("")),
    );
    if list.is_empty() {
        body.push_str("<p>No alert matches.</p>");
    } else {
        let _ = write!(
            body,
            "<table><caption>{} alerts, most recent first</caption><thead><tr>\
             <th scope=\"col\">Severity</th><th scope=\"col\">Alert</th><th scope=\"col\">Resource</th>\
             <th scope=\"col\">User</th><th scope=\"col\">Count</th><th scope=\"col\">Last seen</th>\
             <th scope=\"col\">Status</th></tr></thead><tbody>",
            list.len()
        );
        for a in &list {
            let _ = write!(
                body,
                "<tr><td>{}</td><th scope=\"row\"><a href=\"/alerts/{}\">{}</a><br><span class=\"muted\">{}</span></th>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html::severity(a.severity),
                a.id,
                esc(&a.alert_type),
                esc(&a.message),
                esc(&resource_text(a.resource.as_ref())),
                esc(a.user.as_deref().unwrap_or("—")),
                a.count,
                esc(&a.last_seen),
                html::status(a.status.as_str()),
            );
        }
        body.push_str("</tbody></table>");
    }
    page("Security alerts", "/alerts", &who, &body)
}

async fn alert<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let id = parse_alert_id(&id)?;
    let a = app
        .store
        .get_alert(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("There is no alert {id}.")))?;
    let mitre = |v: &Option<String>| esc(v.as_deref().unwrap_or("—"));
    let mut body = format!(
        "<dl class=\"detail\">\
         <dt>Alert type</dt><dd>{}</dd><dt>Rule</dt><dd>{}</dd><dt>Severity</dt><dd>{}</dd>\
         <dt>Status</dt><dd>{}</dd><dt>MITRE tactic</dt><dd>{}</dd><dt>MITRE technique</dt><dd>{}</dd>\
         <dt>Resource</dt><dd>{}</dd><dt>Cluster</dt><dd>{}</dd><dt>User</dt><dd>{}</dd>\
         <dt>Occurrences</dt><dd>{}</dd><dt>First seen</dt><dd>{}</dd><dt>Last seen</dt><dd>{}</dd>\
         <dt>Message</dt><dd>{}</dd></dl>",
        esc(&a.alert_type),
        esc(&a.rule),
        html::severity(a.severity),
        html::status(a.status.as_str()),
        mitre(&a.mitre.tactic),
        mitre(&a.mitre.technique),
        esc(&resource_text(a.resource.as_ref())),
        esc(a.cluster.as_deref().unwrap_or("—")),
        esc(a.user.as_deref().unwrap_or("—")),
        a.count,
        esc(&a.first_seen),
        esc(&a.last_seen),
        esc(&a.message),
    );
    if let Some(by) = &a.status_by {
        let _ = write!(
            body,
            "<p class=\"muted\">Status set by {} at {}{}</p>",
            esc(by),
            esc(a.status_changed_at.as_deref().unwrap_or("")),
            a.status_comment
                .as_deref()
                .map(|c| format!(": {}", esc(c)))
                .unwrap_or_default()
        );
    }
    if who.token.role == palisade_store::Role::Admin {
        body.push_str("<div class=\"actions\">");
        for (action, label, show) in [
            ("dismiss", "Dismiss", a.status == AlertStatus::Active),
            ("resolve", "Resolve", a.status != AlertStatus::Resolved),
        ] {
            if show {
                let _ = write!(
                    body,
                    "<form class=\"stack\" method=\"post\" action=\"/alerts/{id}/{action}\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <label for=\"c-{action}\">Comment (optional)</label>\
                     <input id=\"c-{action}\" name=\"comment\" maxlength=\"1000\">\
                     <button type=\"submit\">{label}</button></form>",
                    csrf = esc(&who.csrf)
                );
            }
        }
        body.push_str("</div>");
    } else {
        body.push_str("<p class=\"muted\">Only admins can dismiss or resolve alerts.</p>");
    }
    page(&format!("Alert {id}"), "/alerts", &who, &body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    comment: String,
}

async fn alert_action<S: Backend>(
    app: AppState<S>,
    headers: HeaderMap,
    id: String,
    body: Body,
    status: AlertStatus,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let id = parse_alert_id(&id)?;
    let bytes = read_body(body, app.config.body_limit).await?;
    let form: ActionForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid form: {e}")))?;
    if form.csrf != who.csrf {
        return Err(ApiError::Forbidden(
            "The form is stale or forged (CSRF token mismatch).".into(),
        )
        .into());
    }
    let comment = Some(form.comment.trim()).filter(|c| !c.is_empty());
    change_alert(&app, &who, id, status, comment).await?;
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

async fn dismiss<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> PageResult {
    alert_action(app, headers, id, body, AlertStatus::Dismissed).await
}

async fn resolve<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> PageResult {
    alert_action(app, headers, id, body, AlertStatus::Resolved).await
}

async fn recommendations<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let filter = query::parse::<RecommendationQuery>(q.as_deref())?.into_filter()?;
    let recs = views::recommendations(&app.store, &filter).await?;
    let severities: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/recommendations\">\
         <label for=\"f-resource\">Resource (Kind/namespace/name, any part)<input id=\"f-resource\" name=\"resource\" value=\"{}\"></label>\
         <label for=\"f-severity\">Severity<select id=\"f-severity\" name=\"severity\">{}</select></label>\
         <label for=\"f-namespace\">Namespace<input id=\"f-namespace\" name=\"namespace\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        esc(filter.resource.as_deref().unwrap_or("")),
        html::options(&severities, filter.severity.map(Severity::as_str)),
        esc(filter.namespace.as_deref().unwrap_or("")),
    );
    if recs.is_empty() {
        body.push_str("<p>No recommendation matches.</p>");
    }
    for r in &recs {
        let _ = write!(
            body,
            "<section aria-labelledby=\"rec-{id}\"><h2 id=\"rec-{id}\">{sev} {title}</h2>\
             <p class=\"muted\">Check <code>{cid}</code>{mitre} · {n} affected</p><p>{fix}</p>\
             <table><caption>Resources failing {title}</caption><thead><tr>\
             <th scope=\"col\">Resource</th><th scope=\"col\">Cluster</th><th scope=\"col\">Container</th>\
             <th scope=\"col\">Finding</th></tr></thead><tbody>",
            id = esc(&url_part(&r.check_id)),
            sev = html::severity(r.severity),
            title = esc(&r.title),
            cid = esc(&r.check_id),
            mitre = if r.mitre.is_empty() {
                String::new()
            } else {
                format!(" · MITRE {}", esc(&r.mitre.join(", ")))
            },
            n = r.affected_count,
            fix = esc(&r.remediation),
        );
        for a in &r.affected {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}<br><code>{}</code></td></tr>",
                esc(&a.resource.to_string()),
                esc(&a.cluster_name),
                esc(a.container.as_deref().unwrap_or("—")),
                esc(&a.message),
                esc(&a.evidence),
            );
        }
        body.push_str("</tbody></table></section>");
    }
    page("Recommendations", "/recommendations", &who, &body)
}

async fn inventory<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let filter = query::parse::<ResourceQuery>(q.as_deref())?.into_filter()?;
    let found = views::resources(&app.store, &filter).await?;
    let field = |id: &str, label: &str, v: Option<&str>| {
        format!(
            "<label for=\"f-{id}\">{label}<input id=\"f-{id}\" name=\"{id}\" value=\"{}\"></label>",
            esc(v.unwrap_or(""))
        )
    };
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/inventory\">{}{}{}{}{}\
         <button type=\"submit\">Filter</button></form>",
        field("cluster", "Cluster", filter.cluster.as_deref()),
        field("namespace", "Namespace", filter.namespace.as_deref()),
        field("kind", "Kind", filter.kind.as_deref()),
        field(
            "label",
            "Labels (app=web,tier!=db)",
            filter.label_text.as_deref()
        ),
        field("image", "Image contains", filter.image.as_deref()),
    );
    let _ = write!(
        body,
        "<table><caption>{} of {} resources</caption><thead><tr><th scope=\"col\">Kind</th>\
         <th scope=\"col\">Namespace</th><th scope=\"col\">Name</th><th scope=\"col\">Cluster</th>\
         <th scope=\"col\">Images</th><th scope=\"col\">Findings</th></tr></thead><tbody>",
        found.items.len(),
        found.total
    );
    for r in &found.items {
        let resource = format!(
            "{}/{}{}",
            r.kind,
            r.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            r.name
        );
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.kind),
            esc(r.namespace.as_deref().unwrap_or("—")),
            esc(&r.name),
            esc(&r.cluster_name),
            esc(&r.images.join(", ")),
            if r.findings > 0 {
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&link("/recommendations", &[("resource", Some(&resource))])),
                    r.findings
                )
            } else {
                "0".to_owned()
            },
        );
    }
    body.push_str("</tbody></table>");
    page("Inventory", "/inventory", &who, &body)
}

fn vuln_counts(v: &std::collections::BTreeMap<String, u64>) -> String {
    let mut parts = Vec::new();
    for s in Severity::ALL.iter().rev() {
        if let Some(n) = v.get(s.as_str()).filter(|n| **n > 0) {
            parts.push(format!("{} {n}", html::severity(*s)));
        }
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(" ")
    }
}

async fn images<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    query::parse::<NoQuery>(q.as_deref())?;
    let list = app.store.list_images().await?;
    let mut body = String::new();
    if list.is_empty() {
        body.push_str("<p>No image report is stored yet.</p>");
    } else {
        body.push_str(
            "<table><caption>Scanned images</caption><thead><tr><th scope=\"col\">Image</th>\
             <th scope=\"col\">Digest</th><th scope=\"col\">Vulnerabilities</th>\
             <th scope=\"col\">Scanned</th></tr></thead><tbody>",
        );
        for i in &list {
            let _ = write!(
                body,
                "<tr><th scope=\"row\"><a href=\"/images/{}\">{}</a></th><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&url_part(&i.digest)),
                esc(&i.reference),
                esc(&i.digest),
                vuln_counts(&i.vulnerabilities),
                esc(&i.scanned_at),
            );
        }
        body.push_str("</tbody></table>");
    }
    page("Images", "/images", &who, &body)
}

async fn image<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(digest): Path<String>,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let (rec, report) = app
        .store
        .image_report(&digest)
        .await?
        .ok_or_else(|| ApiError::NotFound("There is no such image.".into()))?;
    let pretty = serde_json::to_string_pretty(&report).unwrap_or_default();
    let sbom = if rec.has_sbom {
        format!(
            "<p><a href=\"/api/v1/images/{}/sbom\">Download the SBOM (JSON)</a></p>",
            esc(&url_part(&rec.digest))
        )
    } else {
        "<p class=\"muted\">No SBOM stored.</p>".to_owned()
    };
    let body = format!(
        "<dl class=\"detail\"><dt>Reference</dt><dd>{}</dd><dt>Digest</dt><dd><code>{}</code></dd>\
         <dt>Scanned</dt><dd>{}</dd><dt>Vulnerabilities</dt><dd>{}</dd></dl>{sbom}\
         <h2>Report</h2><pre>{}</pre>",
        esc(&rec.reference),
        esc(&rec.digest),
        esc(&rec.scanned_at),
        vuln_counts(&rec.vulnerabilities),
        esc(&pretty),
    );
    page(&rec.reference, "/images", &who, &body)
}

async fn coverage<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    query::parse::<NoQuery>(q.as_deref())?;
    let settings = views::settings(&app.store).await?;
    let items = views::coverage(&app.store, &settings).await?;
    let mut body = String::from(
        "<table><caption>Protection of every cluster</caption><thead><tr>\
         <th scope=\"col\">Item</th><th scope=\"col\">Status</th><th scope=\"col\">Last seen</th>\
         <th scope=\"col\">How to fix</th></tr></thead><tbody>",
    );
    for i in &items {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.item),
            html::status(&i.status),
            esc(i.last_seen.as_deref().unwrap_or("—")),
            esc(i.how_to_fix.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table>");
    page("Coverage", "/coverage", &who, &body)
}
