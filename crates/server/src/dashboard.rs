//! The dashboard: server-rendered HTML pages (no scripts) over the same views as the API.
//!
//! Sign-in takes an API token and keeps it in an HttpOnly, Secure, SameSite=Strict cookie.
//! Every form that changes something carries the session's CSRF token in a hidden field, checked
//! before anything else; readers see no write buttons and are refused (403) if they post anyway.
//! Filters are plain GET forms, so every filtered view has a URL.
//!
//! Overview, recommendations and coverage read the per-snapshot views the server keeps in its
//! state (`views::ViewCache`, shared with the API), so their cost does not grow with the
//! inventory. Long lists are cut and paged in the store with keyset cursors: recommendations
//! show the first 50 resources per check (1000 per page, with a next-page link, when one check
//! is asked for) and fold the lists unless a filter narrowed them; alerts and the inventory
//! have first/next page links. A sensor token signs in to nothing: the form refuses it and
//! every page answers 403.

use std::fmt::Write as _;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use palisade_model::Severity;
use palisade_store::{AlertStatus, Role};
use serde::Deserialize;

use crate::api::{alert_page, change_alert, parse_alert_id};
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
                    "<p class=\"error\" role=\"alert\">{}</p><p class=\"muted\">Request id: {}</p>\
                     <p><a href=\"/\">Back to the overview</a></p>",
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

/// The signed-in principal; a sensor token (which only posts events) sees no page.
async fn session<S: Backend>(
    app: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Principal, PageError> {
    let who = auth::authenticate(&app.store, headers)
        .await?
        .ok_or(PageError::SignIn)?;
    if who.token.role == Role::Sensor {
        return Err(ApiError::Forbidden(SENSOR_REFUSED.into()).into());
    }
    Ok(who)
}

/// Why a sensor token cannot use the dashboard.
const SENSOR_REFUSED: &str = "A sensor token only posts events and cannot use the dashboard: \
     sign in with a reader or admin token.";

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
    match auth::authenticate(&app.store, &headers).await? {
        None => {
            return Ok((
                StatusCode::UNAUTHORIZED,
                Html(login_page(Some("This token is not valid."))),
            )
                .into_response());
        }
        Some(who) if who.token.role == Role::Sensor => {
            return Ok((
                StatusCode::FORBIDDEN,
                Html(login_page(Some(SENSOR_REFUSED))),
            )
                .into_response());
        }
        Some(_) => {}
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
    let o = views::overview(&app.store, &app.views).await?;
    let order: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
    let bars = |m: &views::BySeverity| -> Vec<(&str, u64)> {
        order
            .iter()
            .map(|s| (*s, m.get(s).copied().unwrap_or(0)))
            .collect()
    };
    let total = |m: &views::BySeverity| m.values().sum::<u64>();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let body = format!(
        "<div class=\"tiles\">\
         <section class=\"tile wide\" aria-labelledby=\"t-alerts\"><h2 id=\"t-alerts\"><a href=\"/alerts?status=active\">Active alerts</a></h2>\
         <p class=\"big\">{}</p>{}</section>\
         <section class=\"tile wide\" aria-labelledby=\"t-recs\"><h2 id=\"t-recs\"><a href=\"/recommendations\">Recommendations</a></h2>\
         <p class=\"big\">{}</p><p class=\"muted\">failing checks, by severity</p>{}</section>\
         <section class=\"tile\" aria-labelledby=\"t-images\"><h2 id=\"t-images\"><a href=\"/images\">Vulnerable images</a></h2>\
         <p class=\"big\">{}</p><p>of {}</p></section>\
         <section class=\"tile\" aria-labelledby=\"t-cov\"><h2 id=\"t-cov\"><a href=\"/coverage\">Coverage</a></h2>\
         <p class=\"big\">{} / {}</p><p>components healthy</p></section>\
         <section class=\"tile\" aria-labelledby=\"t-inv\"><h2 id=\"t-inv\"><a href=\"/inventory\">Inventory</a></h2>\
         <p class=\"big\">{}</p><p>resources in {}</p></section>\
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
        plural(o.images.total, "scanned image", "scanned images"),
        o.coverage.healthy,
        o.coverage.total,
        o.resources,
        plural(o.clusters, "cluster", "clusters"),
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
    let (list, next) = alert_page(&app.store, filter.clone()).await?;
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
        body.push_str("<p class=\"empty\">No alert matches these filters.</p>");
    } else {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><caption>{} alerts, most recent first{}</caption><thead><tr>\
             <th scope=\"col\">Severity</th><th scope=\"col\">Alert</th><th scope=\"col\">Resource</th>\
             <th scope=\"col\">User</th><th scope=\"col\">Count</th><th scope=\"col\">Last seen</th>\
             <th scope=\"col\">Status</th></tr></thead><tbody>",
            list.len(),
            if filter.after.is_some() {
                " (continued)"
            } else {
                ""
            }
        );
        for a in &list {
            // The catalogue's title when the type is a built-in one, its id beneath.
            let (title, id_line) = match palisade_detect::builtin::alert_type(&a.alert_type) {
                Some(t) => (esc(t.title), format!("{}<br>", esc(&a.alert_type))),
                None => (esc(&a.alert_type), String::new()),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><th scope=\"row\" class=\"name\"><a href=\"/alerts/{}\">{}</a><br><span class=\"muted\">{}{}</span></th>\
                 <td class=\"name\">{}</td><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"ts\">{}</td><td>{}</td></tr>",
                html::severity(a.severity),
                a.id,
                title,
                id_line,
                esc(&a.message),
                esc(&resource_text(a.resource.as_ref())),
                esc(a.user.as_deref().unwrap_or("—")),
                a.count,
                esc(&a.last_seen),
                html::status(a.status.as_str()),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let limit = filter.limit.to_string();
    let pager = |after: Option<&str>| {
        link(
            "/alerts",
            &[
                ("status", filter.status.map(AlertStatus::as_str)),
                ("severity", filter.severity.map(Severity::as_str)),
                ("type", filter.alert_type.as_deref()),
                ("cluster", filter.cluster.as_deref()),
                ("limit", Some(limit.as_str()).filter(|l| *l != "1000")),
                ("after", after),
            ],
        )
    };
    pages_nav(
        &mut body,
        filter.after.is_some().then(|| pager(None)),
        next.map(|c| pager(Some(&c.to_string()))),
    );
    page("Security alerts", "/alerts", &who, &body)
}

/// The fields of a Kubernetes audit event a reviewer reads first, in reading order; the ones
/// the event lacks are left out.
fn evidence(event: &serde_json::Value) -> Vec<(&'static str, String)> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let list = |v: &serde_json::Value| {
        v.as_array().map(|items| {
            items
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let mut rows = Vec::new();
    let mut push = |name: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            rows.push((name, v));
        }
    };
    push("Verb", text(&event["verb"]));
    push("Request", text(&event["requestURI"]));
    let o = &event["objectRef"];
    if o.is_object() {
        let parts: Vec<String> = [
            o["apiGroup"].as_str().map(|g| format!("{g}/")),
            o["resource"].as_str().map(str::to_owned),
            o["namespace"].as_str().map(|n| format!(" in {n}")),
            o["name"].as_str().map(|n| format!(" named {n}")),
            o["subresource"].as_str().map(|s| format!(" ({s})")),
        ]
        .into_iter()
        .flatten()
        .collect();
        push("Object", Some(parts.concat()));
    }
    push("User", text(&event["user"]["username"]));
    push("Groups", list(&event["user"]["groups"]));
    push(
        "Impersonated user",
        text(&event["impersonatedUser"]["username"]),
    );
    push("Source addresses", list(&event["sourceIPs"]));
    push("User agent", text(&event["userAgent"]));
    let status = &event["responseStatus"];
    push(
        "Response",
        status["code"].as_i64().map(|code| {
            match status["reason"].as_str().or(status["message"].as_str()) {
                Some(reason) => format!("{code} {reason}"),
                None => code.to_string(),
            }
        }),
    );
    let annotations = &event["annotations"];
    push(
        "Authorization",
        text(&annotations["authorization.k8s.io/decision"]).map(|d| {
            match annotations["authorization.k8s.io/reason"].as_str() {
                Some(r) if !r.is_empty() => format!("{d}: {r}"),
                _ => d,
            }
        }),
    );
    push("Stage", text(&event["stage"]));
    push("Audit id", text(&event["auditID"]));
    rows
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
    let tactic = match a.mitre.tactic.as_deref() {
        None => "—".to_owned(),
        Some(id) => match palisade_model::mitre::tactic_name(id) {
            Some(name) => format!("{} <span class=\"muted\">{}</span>", esc(name), esc(id)),
            None => esc(id),
        },
    };
    let technique = match a.mitre.technique.as_deref() {
        None => "—".to_owned(),
        Some(id) => match palisade_model::mitre::technique(id) {
            Some(t) => format!("{} <span class=\"muted\">{}</span>", esc(t.name), esc(id)),
            None => esc(id),
        },
    };
    let cluster = match &a.cluster {
        None => "—".to_owned(),
        Some(id) => {
            let known = app.store.list_clusters().await?;
            match known.iter().find(|c| &c.id == id) {
                Some(c) if c.name != *id => format!("{} ({})", esc(&c.name), esc(id)),
                _ => esc(id),
            }
        }
    };
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
        tactic,
        technique,
        esc(&resource_text(a.resource.as_ref())),
        cluster,
        esc(a.user.as_deref().unwrap_or("—")),
        a.count,
        esc(&a.first_seen),
        esc(&a.last_seen),
        esc(&a.message),
    );
    if let Some(t) = palisade_detect::builtin::alert_type(&a.alert_type) {
        let _ = write!(
            body,
            "<section aria-labelledby=\"h-about\"><h2 id=\"h-about\">{}</h2>\
             <p>{}</p><h3>What to do</h3><p>{}</p></section>",
            esc(t.title),
            esc(t.description),
            esc(t.remediation),
        );
    }
    let events = app.store.alert_events(id).await?;
    body.push_str("<section aria-labelledby=\"h-evidence\"><h2 id=\"h-evidence\">Evidence</h2>");
    match events.first() {
        None => body.push_str(
            "<p class=\"empty\">No raw event is stored for this alert (alerts recorded by \
             hand or before evidence was kept have none).</p>",
        ),
        Some(latest) => {
            body.push_str("<dl class=\"detail\">");
            for (name, value) in evidence(&latest.event) {
                let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(&value));
            }
            body.push_str("</dl>");
            let _ = write!(
                body,
                "<h3>Raw events</h3><p class=\"muted\">The latest {} occurrence{} with an event, \
                 newest first (also at <a href=\"/api/v1/alerts/{id}/events\">/api/v1/alerts/{id}/events</a>).</p>",
                events.len(),
                if events.len() == 1 { "" } else { "s" },
            );
            for (i, e) in events.iter().enumerate() {
                let text = match &e.event {
                    serde_json::Value::String(cut) => format!("{cut}\n(cut at the size limit)"),
                    v => serde_json::to_string_pretty(v).unwrap_or_default(),
                };
                let _ = write!(
                    body,
                    "<details{}><summary>Event at {}</summary><pre>{}</pre></details>",
                    if i == 0 { " open" } else { "" },
                    esc(&e.seen_at),
                    esc(&text),
                );
            }
        }
    }
    body.push_str("</section>");
    body.push_str("<section aria-labelledby=\"h-actions\"><h2 id=\"h-actions\">Status</h2>");
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
        for (action, label, note, show) in [
            (
                "dismiss",
                "Dismiss",
                "Reason for dismissing (optional)",
                a.status == AlertStatus::Active,
            ),
            (
                "resolve",
                "Resolve",
                "Resolution note (optional)",
                a.status != AlertStatus::Resolved,
            ),
        ] {
            if show {
                let _ = write!(
                    body,
                    "<form class=\"stack\" method=\"post\" action=\"/alerts/{id}/{action}\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <label for=\"c-{action}\">{note}</label>\
                     <input id=\"c-{action}\" name=\"comment\" maxlength=\"1000\">\
                     <button type=\"submit\">{label}</button></form>",
                    csrf = esc(&who.csrf)
                );
            }
        }
        if a.status == AlertStatus::Resolved {
            body.push_str("<p class=\"muted\">This alert is resolved.</p>");
        }
        body.push_str("</div>");
    } else {
        body.push_str("<p class=\"muted\">Only admins can dismiss or resolve alerts.</p>");
    }
    body.push_str("</section>");
    page(
        &format!("Alert {id}: {}", a.alert_type),
        "/alerts",
        &who,
        &body,
    )
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

/// Rows shown per recommendation before the list is cut (the filters narrow it down), and
/// when one check is asked for.
const AFFECTED_ROWS: u32 = 50;
const AFFECTED_ROWS_ONE_CHECK: u32 = 1000;

async fn recommendations<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let filter = query::parse::<RecommendationQuery>(q.as_deref())?.into_filter()?;
    if filter.paged && filter.check.is_none() {
        return Err(ApiError::BadRequest(
            "limit and after page the affected resources of one check: add check=<id>".into(),
        )
        .into());
    }
    let (recs, views) = views::recommendations(&app.store, &app.views, &filter).await?;
    let cap = if filter.check.is_some() {
        filter.limit.min(AFFECTED_ROWS_ONE_CHECK)
    } else {
        AFFECTED_ROWS
    };
    let severities: Vec<&str> = Severity::ALL.iter().rev().map(|s| s.as_str()).collect();
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/recommendations\">\
         <label for=\"f-resource\">Resource <span class=\"hint\">(Kind/namespace/name, any part)</span><input id=\"f-resource\" name=\"resource\" value=\"{}\"></label>\
         <label for=\"f-severity\">Severity<select id=\"f-severity\" name=\"severity\">{}</select></label>\
         <label for=\"f-namespace\">Namespace<input id=\"f-namespace\" name=\"namespace\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        esc(filter.resource.as_deref().unwrap_or("")),
        html::options(&severities, filter.severity.map(Severity::as_str)),
        esc(filter.namespace.as_deref().unwrap_or("")),
    );
    if recs.is_empty() {
        body.push_str(if views.is_empty() {
            "<p class=\"empty\">No cluster snapshot is stored yet: connect a cluster to see \
             recommendations.</p>"
        } else {
            "<p class=\"empty\">No recommendation matches.</p>"
        });
    } else {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><caption>{} failing checks, most severe first</caption><thead><tr>\
             <th scope=\"col\">Severity</th><th scope=\"col\">Check</th><th scope=\"col\">Affected</th>\
             </tr></thead><tbody>",
            recs.len(),
        );
        for r in &recs {
            let _ = write!(
                body,
                "<tr><td>{}</td><th scope=\"row\"><a href=\"#rec-{}\">{}</a></th><td class=\"num\">{}</td></tr>",
                html::severity(r.severity),
                esc(&url_part(&r.check_id)),
                esc(&r.title),
                r.affected_count
            );
        }
        body.push_str("</tbody></table></div>");
    }
    // Long lists stay folded unless the filters narrowed them down.
    let open = if filter.resource.is_some()
        || filter.namespace.is_some()
        || filter.check.is_some()
        || recs.len() <= 3
    {
        " open"
    } else {
        ""
    };
    for c in &recs {
        let n = c.affected_count;
        let (rows, next) =
            views::affected(&app.store, &views, &c.check_id, &filter, filter.after, cap).await?;
        let shown = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let _ = write!(
            body,
            "<section class=\"rec\" aria-labelledby=\"rec-{id}\"><h2 id=\"rec-{id}\">{sev} {title}</h2>\
             <p class=\"muted\">Check <code>{cid}</code>{mitre} · {n} affected</p><p>{fix}</p>\
             <details{open}><summary>Affected resources ({n})</summary>\
             <div class=\"scroll\"><table><caption>Resources failing {title}{part}</caption><thead><tr>\
             <th scope=\"col\">Resource</th><th scope=\"col\">Cluster</th><th scope=\"col\">Container</th>\
             <th scope=\"col\">Finding</th></tr></thead><tbody>",
            id = esc(&url_part(&c.check_id)),
            sev = html::severity(c.severity),
            title = esc(&c.title),
            cid = esc(&c.check_id),
            mitre = if c.mitre.is_empty() {
                String::new()
            } else {
                format!(" · MITRE {}", esc(&c.mitre.join(", ")))
            },
            fix = esc(&c.remediation),
            part = if filter.after.is_some() {
                format!(" (next {shown})")
            } else if shown < n {
                format!(" (first {shown} of {n})")
            } else {
                String::new()
            },
        );
        for a in &rows {
            let _ = write!(
                body,
                "<tr><th scope=\"row\" class=\"name\">{}</th><td>{}</td><td>{}</td><td>{}<br><code>{}</code></td></tr>",
                esc(&a.resource.to_string()),
                esc(&a.cluster_name),
                esc(a.container.as_deref().unwrap_or("—")),
                esc(&a.message),
                esc(&a.evidence),
            );
        }
        body.push_str("</tbody></table></div>");
        if let Some(next) = next {
            let next = next.to_string();
            let cap_text = cap.to_string();
            let params = [
                ("check", Some(c.check_id.as_str())),
                ("cluster", filter.cluster.as_deref()),
                ("resource", filter.resource.as_deref()),
                ("namespace", filter.namespace.as_deref()),
            ];
            if filter.check.is_none() {
                let _ = write!(
                    body,
                    "<p class=\"muted\">{} more resources fail this check: \
                     <a href=\"{}\">show this check alone</a> or narrow the filters.</p>",
                    n.saturating_sub(shown),
                    esc(&html::link("/recommendations", &params)),
                );
            } else {
                let mut more = params.to_vec();
                more.push(("limit", Some(cap_text.as_str())));
                more.push(("after", Some(next.as_str())));
                let _ = write!(
                    body,
                    "<nav class=\"pages\" aria-label=\"Pages\"><a href=\"{}\" rel=\"next\">Next {cap} resources</a></nav>",
                    esc(&html::link("/recommendations", &more)),
                );
            }
        }
        body.push_str("</details></section>");
    }
    page("Recommendations", "/recommendations", &who, &body)
}

/// The navigation between pages of a keyset-paged list: back to the first page (when not on
/// it) and on to the next (when there is one).
fn pages_nav(body: &mut String, first: Option<String>, next: Option<String>) {
    let mut pages = Vec::new();
    if let Some(href) = first {
        pages.push(format!(
            "<a href=\"{}\" rel=\"first\">First page</a>",
            esc(&href)
        ));
    }
    if let Some(href) = next {
        pages.push(format!(
            "<a href=\"{}\" rel=\"next\">Next page</a>",
            esc(&href)
        ));
    }
    if !pages.is_empty() {
        let _ = write!(
            body,
            "<nav class=\"pages\" aria-label=\"Pages\">{}</nav>",
            pages.join(" ")
        );
    }
}

async fn inventory<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    let filter = query::parse::<ResourceQuery>(q.as_deref())?.into_filter()?;
    let found = views::resources(&app.store, &app.views, &filter).await?;
    let field = |id: &str, label: &str, v: Option<&str>| {
        format!(
            "<label for=\"f-{id}\">{label}<input id=\"f-{id}\" name=\"{id}\" value=\"{}\"></label>",
            esc(v.unwrap_or(""))
        )
    };
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/inventory\">{}{}{}{}{}{}\
         <button type=\"submit\">Filter</button></form>",
        field("cluster", "Cluster", filter.cluster.as_deref()),
        field("namespace", "Namespace", filter.namespace.as_deref()),
        field("kind", "Kind", filter.kind.as_deref()),
        field("name", "Name contains", filter.name.as_deref()),
        field(
            "label",
            "Labels (app=web,tier!=db)",
            filter.label_text.as_deref()
        ),
        field("image", "Image contains", filter.image.as_deref()),
    );
    if found.items.is_empty() {
        let filtered = filter.cluster.is_some()
            || filter.namespace.is_some()
            || filter.kind.is_some()
            || filter.name.is_some()
            || filter.label_text.is_some()
            || filter.image.is_some();
        body.push_str(if filtered || found.total > 0 {
            "<p class=\"empty\">No resource matches these filters.</p>"
        } else {
            "<p class=\"empty\">No cluster snapshot is stored yet: connect a cluster to see its \
             resources.</p>"
        });
        return page("Inventory", "/inventory", &who, &body);
    }
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><caption>{} of {} resources{}</caption><thead><tr><th scope=\"col\">Kind</th>\
         <th scope=\"col\">Namespace</th><th scope=\"col\">Name</th><th scope=\"col\">Cluster</th>\
         <th scope=\"col\">Images</th><th scope=\"col\">Findings</th></tr></thead><tbody>",
        found.items.len(),
        found.total,
        if filter.after.is_some() {
            " (continued)"
        } else {
            ""
        }
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
        let images: Vec<String> = r.images.iter().map(|i| esc(i)).collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"name\">{}</td><th scope=\"row\" class=\"name\">{}</th><td class=\"nowrap\">{}</td><td class=\"name\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&r.kind),
            esc(r.namespace.as_deref().unwrap_or("—")),
            esc(&r.name),
            esc(&r.cluster_name),
            if images.is_empty() {
                "—".to_owned()
            } else {
                images.join("<br>")
            },
            if r.findings > 0 {
                format!(
                    "<a href=\"{}\" aria-label=\"{} findings of {}\">{}</a>",
                    esc(&link("/recommendations", &[("resource", Some(&resource))])),
                    r.findings,
                    esc(&resource),
                    r.findings
                )
            } else {
                "0".to_owned()
            },
        );
    }
    body.push_str("</tbody></table></div>");
    let limit = filter.limit.to_string();
    let pager = |after: Option<&str>| {
        link(
            "/inventory",
            &[
                ("cluster", filter.cluster.as_deref()),
                ("namespace", filter.namespace.as_deref()),
                ("kind", filter.kind.as_deref()),
                ("name", filter.name.as_deref()),
                ("label", filter.label_text.as_deref()),
                ("image", filter.image.as_deref()),
                ("limit", Some(limit.as_str())),
                ("after", after),
            ],
        )
    };
    pages_nav(
        &mut body,
        filter.after.is_some().then(|| pager(None)),
        found.next.as_deref().map(|c| pager(Some(c))),
    );
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
        body.push_str(
            "<p class=\"empty\">No image report is stored yet: scan an image with \
             <code>palisade image scan</code>.</p>",
        );
    } else {
        body.push_str(
            "<div class=\"scroll\"><table><caption>Scanned images</caption><thead><tr><th scope=\"col\">Image</th>\
             <th scope=\"col\">Digest</th><th scope=\"col\">Vulnerabilities</th>\
             <th scope=\"col\">Scanned</th></tr></thead><tbody>",
        );
        for i in &list {
            let _ = write!(
                body,
                "<tr><th scope=\"row\" class=\"name\"><a href=\"/images/{}\">{}</a></th><td class=\"name\"><code>{}</code></td><td>{}</td><td class=\"ts\">{}</td></tr>",
                esc(&url_part(&i.digest)),
                esc(&i.reference),
                esc(&i.digest),
                vuln_counts(&i.vulnerabilities),
                esc(&i.scanned_at),
            );
        }
        body.push_str("</tbody></table></div>");
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
    let distro = report["artifact"]["distro"]
        .as_str()
        .map(|d| format!("<dt>Distribution</dt><dd>{}</dd>", esc(d)))
        .unwrap_or_default();
    let mut body = format!(
        "<dl class=\"detail\"><dt>Reference</dt><dd>{}</dd><dt>Digest</dt><dd><code class=\"name\">{}</code></dd>\
         {distro}<dt>Scanned</dt><dd>{}</dd><dt>Vulnerabilities</dt><dd>{}</dd></dl>{sbom}",
        esc(&rec.reference),
        esc(&rec.digest),
        esc(&rec.scanned_at),
        vuln_counts(&rec.vulnerabilities),
    );
    image_vulnerabilities(&mut body, &report);
    image_packages(&mut body, &report);
    let _ = write!(
        body,
        "<details><summary>Raw report (JSON)</summary><pre>{}</pre></details>",
        esc(&pretty)
    );
    page(&rec.reference, "/images", &who, &body)
}

/// Text of a JSON string field ("" when absent).
fn text_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The vulnerability table of an image report (the scanner's `vulnerabilities` list: package,
/// fixed versions, severity, CVSS, CISA KEV and EPSS), most severe first.
fn image_vulnerabilities(body: &mut String, report: &serde_json::Value) {
    body.push_str("<h2 id=\"h-vulns\">Vulnerabilities</h2>");
    let Some(list) = report["vulnerabilities"]
        .as_array()
        .filter(|l| !l.is_empty())
    else {
        body.push_str("<p class=\"empty\">The report lists no vulnerability.</p>");
        return;
    };
    let severity_of = |v: &serde_json::Value| {
        v["severity"]
            .as_str()
            .and_then(|s| s.parse::<Severity>().ok())
    };
    let mut sorted: Vec<&serde_json::Value> = list.iter().collect();
    sorted.sort_by(|a, b| {
        severity_of(b)
            .cmp(&severity_of(a))
            .then_with(|| b["kev"].as_bool().cmp(&a["kev"].as_bool()))
    });
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><caption>{} vulnerabilities, most severe first</caption><thead><tr>\
         <th scope=\"col\">Vulnerability</th><th scope=\"col\">Package</th><th scope=\"col\">Installed</th>\
         <th scope=\"col\">Severity</th><th scope=\"col\">Fixed in</th><th scope=\"col\">Exploitability</th>\
         <th scope=\"col\">Remediation</th></tr></thead><tbody>",
        sorted.len()
    );
    for v in sorted {
        let aliases: Vec<String> = v["aliases"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(esc).collect())
            .unwrap_or_default();
        let severity = match severity_of(v) {
            Some(s) => html::severity(s),
            None => "<span class=\"muted\">unknown</span>".to_owned(),
        };
        let cvss = v["cvss"]["score"]
            .as_f64()
            .map(|s| format!("<br><span class=\"muted\">CVSS {s:.1}</span>"))
            .unwrap_or_default();
        let fixed: Vec<String> = v["fixed_versions"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(esc).collect())
            .unwrap_or_default();
        let mut exploit = Vec::new();
        if v["kev"].as_bool() == Some(true) {
            exploit.push("<span class=\"badge kev\">known exploited (CISA KEV)</span>".to_owned());
        }
        if let Some(score) = v["epss"]["score"].as_f64() {
            let pct = v["epss"]["percentile"].as_f64().unwrap_or(0.0);
            exploit.push(format!(
                "EPSS {:.1}% <span class=\"muted\">(percentile {:.0})</span>",
                score * 100.0,
                pct * 100.0
            ));
        }
        let summary = v["summary"]
            .as_str()
            .map(|s| format!("<br><span class=\"muted\">{}</span>", esc(s)))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><th scope=\"row\" class=\"name\">{}{}{summary}</th><td class=\"name\">{}</td><td class=\"name\">{}</td>\
             <td>{severity}{cvss}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(text_of(v, "id")),
            if aliases.is_empty() {
                String::new()
            } else {
                format!("<br><span class=\"muted\">{}</span>", aliases.join(", "))
            },
            esc(text_of(&v["package"], "name")),
            esc(text_of(&v["package"], "version")),
            if fixed.is_empty() {
                "<span class=\"muted\">no fix yet</span>".to_owned()
            } else {
                fixed.join(", ")
            },
            if exploit.is_empty() {
                "—".to_owned()
            } else {
                exploit.join("<br>")
            },
            esc(text_of(v, "remediation")),
        );
    }
    body.push_str("</tbody></table></div>");
}

/// The package table of an image report.
fn image_packages(body: &mut String, report: &serde_json::Value) {
    body.push_str("<h2 id=\"h-packages\">Packages</h2>");
    let Some(list) = report["packages"].as_array().filter(|l| !l.is_empty()) else {
        body.push_str("<p class=\"empty\">The report lists no package.</p>");
        return;
    };
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><caption>{} packages</caption><thead><tr>\
         <th scope=\"col\">Package</th><th scope=\"col\">Version</th><th scope=\"col\">Type</th>\
         <th scope=\"col\">Found in</th></tr></thead><tbody>",
        list.len()
    );
    for p in list {
        let locations: Vec<String> = p["locations"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).map(esc).collect())
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><th scope=\"row\" class=\"name\">{}</th><td class=\"name\">{}</td><td>{}</td><td class=\"name\"><code>{}</code></td></tr>",
            esc(text_of(p, "name")),
            esc(text_of(p, "version")),
            esc(text_of(p, "type")),
            locations.join("<br>"),
        );
    }
    body.push_str("</tbody></table></div>");
}

async fn coverage<S: Backend>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> PageResult {
    let who = session(&app, &headers).await?;
    query::parse::<NoQuery>(q.as_deref())?;
    let settings = views::settings(&app.store).await?;
    let items = views::coverage(&app.store, &app.views, &settings).await?;
    let mut body = String::from(
        "<div class=\"scroll\"><table><caption>Protection of every cluster</caption><thead><tr>\
         <th scope=\"col\">Item</th><th scope=\"col\">Status</th><th scope=\"col\">Last seen</th>\
         <th scope=\"col\">How to fix</th></tr></thead><tbody>",
    );
    for i in &items {
        let _ = write!(
            body,
            "<tr><th scope=\"row\" class=\"name\">{}</th><td>{}</td><td class=\"ts\">{}</td><td>{}</td></tr>",
            esc(&i.item),
            html::status(&i.status),
            esc(i.last_seen.as_deref().unwrap_or("—")),
            esc(i.how_to_fix.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table></div>");
    page("Coverage", "/coverage", &who, &body)
}
