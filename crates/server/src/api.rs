//! The REST API: one table of routes ([`routes`]), from which the router is built and against
//! which the OpenAPI document is checked.
//!
//! Lists answer `{"items": [...]}` (with `total` where the server pages in memory). Errors
//! answer `{"error", "message", "request_id"}`. Path parameters are parsed here rather than by
//! axum's extractor so that a malformed id is a JSON 400 like every other client error.

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use palisade_store::{AlertCursor, AlertFilter, AlertStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::query::{self, AlertQuery, NoQuery, RecommendationQuery, ResourceQuery};
use crate::views::{self, Settings};
use crate::{AppState, Backend, OPENAPI_JSON, read_body};

/// One route of the API table.
pub(crate) struct RouteDef<S> {
    /// HTTP method (the handler knows it too; the OpenAPI agreement test reads it here).
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "read by the OpenAPI agreement test")
    )]
    pub(crate) method: Method,
    /// Path template (axum and OpenAPI share the `{param}` syntax).
    pub(crate) path: &'static str,
    /// Served without a token.
    pub(crate) public: bool,
    /// Handler.
    pub(crate) handler: MethodRouter<AppState<S>>,
}

fn route<S>(
    method: Method,
    path: &'static str,
    public: bool,
    handler: MethodRouter<AppState<S>>,
) -> RouteDef<S> {
    RouteDef {
        method,
        path,
        public,
        handler,
    }
}

/// Every API, health and metrics route.
pub(crate) fn routes<S: Backend>() -> Vec<RouteDef<S>> {
    vec![
        route(Method::GET, "/healthz", true, get(healthz)),
        route(Method::GET, "/readyz", true, get(readyz::<S>)),
        route(Method::GET, "/metrics", false, get(metrics::<S>)),
        route(Method::GET, "/api/v1/openapi.json", true, get(openapi)),
        route(Method::GET, "/api/v1/overview", false, get(overview::<S>)),
        route(
            Method::GET,
            "/api/v1/clusters",
            false,
            get(list_clusters::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/clusters/{id}",
            false,
            get(get_cluster::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/resources",
            false,
            get(list_resources::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/recommendations",
            false,
            get(list_recommendations::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/recommendations/{check_id}",
            false,
            get(get_recommendation::<S>),
        ),
        route(Method::GET, "/api/v1/alerts", false, get(list_alerts::<S>)),
        route(
            Method::GET,
            "/api/v1/alerts/{id}",
            false,
            get(get_alert::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/alerts/{id}/events",
            false,
            get(get_alert_events::<S>),
        ),
        route(
            Method::POST,
            "/api/v1/alerts/{id}/dismiss",
            false,
            post(dismiss_alert::<S>),
        ),
        route(
            Method::POST,
            "/api/v1/alerts/{id}/resolve",
            false,
            post(resolve_alert::<S>),
        ),
        route(Method::GET, "/api/v1/images", false, get(list_images::<S>)),
        route(
            Method::GET,
            "/api/v1/images/{digest}",
            false,
            get(get_image::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/images/{digest}/sbom",
            false,
            get(get_sbom::<S>),
        ),
        route(Method::GET, "/api/v1/coverage", false, get(coverage::<S>)),
        route(
            Method::POST,
            crate::AUDIT_WEBHOOK_PATH,
            false,
            post(audit_webhook::<S>),
        ),
        route(
            Method::GET,
            "/api/v1/settings",
            false,
            get(get_settings::<S>),
        ),
        route(
            Method::PUT,
            "/api/v1/settings",
            false,
            put(put_settings::<S>),
        ),
    ]
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl serde::Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

fn items(items: impl serde::Serialize) -> ApiResult {
    ok(json!({ "items": items }))
}

fn no_query(q: Option<String>) -> Result<(), ApiError> {
    query::parse::<NoQuery>(q.as_deref()).map(|_| ())
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz<S: Backend>(State(app): State<AppState<S>>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "Store not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn metrics<S: Backend>(State(app): State<AppState<S>>) -> ApiResult {
    let text = crate::metrics::render(&app).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn overview<S: Backend>(State(app): State<AppState<S>>, RawQuery(q): RawQuery) -> ApiResult {
    no_query(q)?;
    ok(views::overview(&app.store, &app.views).await?)
}

async fn list_clusters<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    no_query(q)?;
    items(views::clusters(&app.store).await?)
}

async fn get_cluster<S: Backend>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult {
    let found = views::clusters(&app.store)
        .await?
        .into_iter()
        .find(|c| c.id == id || c.name == id);
    match found {
        Some(c) => ok(c),
        None => Err(ApiError::NotFound(format!("no cluster {id:?}"))),
    }
}

async fn list_resources<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let filter = query::parse::<ResourceQuery>(q.as_deref())?.into_filter()?;
    ok(views::resources(&app.store, &app.views, &filter).await?)
}

async fn list_recommendations<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let filter = query::parse::<RecommendationQuery>(q.as_deref())?.into_filter()?;
    if filter.paged {
        return Err(ApiError::BadRequest(
            "limit and after page the affected resources of one recommendation: use \
             /api/v1/recommendations/{check_id}"
                .into(),
        ));
    }
    let (all, _) = views::recommendations(&app.store, &app.views, &filter).await?;
    let total = all.len();
    ok(json!({"items": all, "total": total}))
}

async fn get_recommendation<S: Backend>(
    State(app): State<AppState<S>>,
    Path(check_id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let mut filter = query::parse::<RecommendationQuery>(q.as_deref())?.into_filter()?;
    if filter.check.is_some() {
        return Err(ApiError::BadRequest(
            "check: the path names the check already".into(),
        ));
    }
    filter.check = Some(check_id.clone());
    let (found, views) = views::recommendations(&app.store, &app.views, &filter).await?;
    let Some(recommendation) = found.into_iter().next() else {
        return Err(ApiError::NotFound(format!(
            "no resource fails check {check_id:?}"
        )));
    };
    let (affected, next) = views::affected(
        &app.store,
        &views,
        &check_id,
        &filter,
        filter.after,
        filter.limit,
    )
    .await?;
    ok(views::RecommendationDetail {
        recommendation,
        affected,
        next: next.map(|c| c.to_string()),
    })
}

pub(crate) fn parse_alert_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("alert id {text:?} is not a positive integer")))
}

async fn list_alerts<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let filter: AlertFilter = query::parse::<AlertQuery>(q.as_deref())?.into_filter()?;
    let (items, next) = alert_page(&app.store, filter).await?;
    ok(json!({"items": items, "next": next.map(|c| c.to_string())}))
}

/// One page of alerts and the cursor of the next one (`None` on the last page): one more
/// alert than asked for is read to know.
pub(crate) async fn alert_page<S: Backend>(
    store: &S,
    mut filter: AlertFilter,
) -> Result<(Vec<palisade_store::Alert>, Option<AlertCursor>), ApiError> {
    let limit = filter.limit;
    filter.limit = limit.saturating_add(1);
    let mut items = store.list_alerts(&filter).await?;
    let more = limit > 0 && items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(AlertCursor::after)
    } else {
        None
    };
    Ok((items, next))
}

async fn get_alert<S: Backend>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_alert_id(&id)?;
    match app.store.get_alert(id).await? {
        Some(a) => ok(a),
        None => Err(ApiError::NotFound(format!("no alert {id}"))),
    }
}

async fn get_alert_events<S: Backend>(
    State(app): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_alert_id(&id)?;
    if app.store.get_alert(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no alert {id}")));
    }
    items(app.store.alert_events(id).await?)
}

/// Body of a dismiss or resolve request (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    comment: Option<String>,
}

/// Sets an alert's status for an admin; shared with the dashboard.
pub(crate) async fn change_alert<S: Backend>(
    app: &AppState<S>,
    principal: &Principal,
    id: i64,
    status: AlertStatus,
    comment: Option<&str>,
) -> Result<palisade_store::Alert, ApiError> {
    principal.require_admin(match status {
        AlertStatus::Dismissed => "dismissing an alert",
        AlertStatus::Resolved => "resolving an alert",
        AlertStatus::Active => "re-opening an alert",
    })?;
    if comment.is_some_and(|c| c.chars().count() > 1000) {
        return Err(ApiError::BadRequest(
            "comment is longer than 1000 characters".into(),
        ));
    }
    app.store
        .set_alert_status(id, status, &principal.actor(), comment)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))
}

async fn alert_transition<S: Backend>(
    app: AppState<S>,
    principal: Principal,
    id: String,
    body: Body,
    status: AlertStatus,
) -> ApiResult {
    let id = parse_alert_id(&id)?;
    principal.require_admin("changing an alert")?;
    let bytes = read_body(body, app.config.body_limit).await?;
    let change: StatusChange = if bytes.iter().all(u8::is_ascii_whitespace) {
        StatusChange::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    ok(change_alert(&app, &principal, id, status, change.comment.as_deref()).await?)
}

async fn dismiss_alert<S: Backend>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult {
    alert_transition(app, principal, id, body, AlertStatus::Dismissed).await
}

async fn resolve_alert<S: Backend>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult {
    alert_transition(app, principal, id, body, AlertStatus::Resolved).await
}

async fn list_images<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    no_query(q)?;
    items(app.store.list_images().await?)
}

async fn get_image<S: Backend>(
    State(app): State<AppState<S>>,
    Path(digest): Path<String>,
) -> ApiResult {
    match app.store.image_report(&digest).await? {
        Some((image, report)) => ok(json!({"image": image, "report": report})),
        None => Err(ApiError::NotFound(format!("no image {digest:?}"))),
    }
}

async fn get_sbom<S: Backend>(
    State(app): State<AppState<S>>,
    Path(digest): Path<String>,
) -> ApiResult {
    match app.store.image_sbom(&digest).await? {
        Some(Some(sbom)) => ok(sbom),
        Some(None) => Err(ApiError::NotFound(format!(
            "no SBOM is stored for image {digest:?}"
        ))),
        None => Err(ApiError::NotFound(format!("no image {digest:?}"))),
    }
}

async fn coverage<S: Backend>(State(app): State<AppState<S>>, RawQuery(q): RawQuery) -> ApiResult {
    no_query(q)?;
    let settings = views::settings(&app.store).await?;
    items(views::coverage(&app.store, &app.views, &settings).await?)
}

async fn get_settings<S: Backend>(
    State(app): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    no_query(q)?;
    ok(views::settings(&app.store).await?)
}

async fn put_settings<S: Backend>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    body: Body,
) -> ApiResult {
    principal.require_admin("changing settings")?;
    let bytes = read_body(body, app.config.body_limit).await?;
    let settings: Settings = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid settings: {e}")))?;
    settings.validate().map_err(ApiError::BadRequest)?;
    let value = serde_json::to_value(&settings)
        .map_err(|e| ApiError::Internal(format!("settings do not serialize: {e}")))?;
    app.store.put_setting(views::SETTINGS_KEY, &value).await?;
    tracing::info!(by = %principal.actor(), "Settings changed");
    ok(settings)
}

/// Records alerts from the audit receiver, each with its export items; failures are logged
/// (the analyzer has already moved on, so they cannot be retried from here).
pub(crate) async fn record_audit_alerts<S: Backend>(
    app: &AppState<S>,
    alerts: &[palisade_store::NewAlert],
) -> usize {
    let sinks: Vec<&str> = app
        .audit
        .as_ref()
        .map(|a| a.sinks().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut recorded = 0;
    for alert in alerts {
        match app.store.record_alert_with_exports(alert, &sinks).await {
            Ok(_) => recorded += 1,
            Err(e) => {
                tracing::error!(error = %e, alert_type = %alert.alert_type, "Cannot record an alert")
            }
        }
    }
    recorded
}

async fn audit_webhook<S: Backend>(
    State(app): State<AppState<S>>,
    Extension(principal): Extension<Principal>,
    body: Body,
) -> ApiResult {
    if !matches!(
        principal.token.role,
        palisade_store::Role::Admin | palisade_store::Role::Sensor
    ) {
        return Err(ApiError::Forbidden(
            "posting audit events needs a sensor or admin token".into(),
        ));
    }
    let Some(receiver) = app.audit.clone() else {
        return Err(ApiError::NotFound(
            "the audit webhook is not enabled on this server".into(),
        ));
    };
    let bytes = read_body(body, app.config.audit_body_limit).await?;
    let (alerts, mut outcome) =
        tokio::task::spawn_blocking(move || receiver.process(&bytes, "audit webhook"))
            .await
            .map_err(|e| ApiError::Internal(format!("audit analysis failed: {e}")))?;
    outcome.alerts = record_audit_alerts(&app, &alerts).await;
    app.metrics.audit_events(outcome.events);
    ok(outcome)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use std::collections::BTreeSet;

    use palisade_store::SqliteStore;

    use super::*;

    /// Every routed (method, path) is documented, and every documented one is routed.
    #[test]
    fn router_table_and_openapi_document_agree() {
        let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options"]
                    .contains(&method.as_str())
                {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = routes::<SqliteStore>()
            .iter()
            .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
        // public routes are exactly those documented without security
        for r in routes::<SqliteStore>() {
            let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
            let open = op["security"] == json!([]);
            assert_eq!(open, r.public, "{} {}: security mismatch", r.method, r.path);
        }
    }

    #[test]
    fn alert_ids_must_be_positive_integers() {
        assert_eq!(parse_alert_id("12").unwrap(), 12);
        for bad in ["0", "-1", "x", "1.5", ""] {
            match parse_alert_id(bad) {
                Err(ApiError::BadRequest(_)) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
