//! Query-string filters shared by the API and the dashboard, parsed strictly: an unknown
//! parameter, a severity or status that does not exist, a malformed label selector or a
//! non-numeric limit is a 400 with a message naming the parameter, never silently ignored.

use palisade_model::Severity;
use palisade_store::{AlertCursor, AlertFilter, AlertStatus};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::views::ListCursor;

/// Largest page a list endpoint returns.
pub(crate) const MAX_LIMIT: u32 = 1000;

/// Parses a raw query string into `T` (unknown fields are rejected by `T`).
pub(crate) fn parse<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))
}

/// An empty string counts as absent (forms send empty fields).
fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn severity(v: Option<String>) -> Result<Option<Severity>, ApiError> {
    present(v)
        .map(|s| {
            s.parse::<Severity>()
                .map_err(|e| ApiError::BadRequest(format!("severity: {e}")))
        })
        .transpose()
}

fn limit(v: Option<u32>) -> Result<u32, ApiError> {
    match v {
        None => Ok(MAX_LIMIT),
        Some(0) => Err(ApiError::BadRequest("limit must be at least 1".into())),
        Some(n) if n > MAX_LIMIT => Err(ApiError::BadRequest(format!(
            "limit must be at most {MAX_LIMIT}"
        ))),
        Some(n) => Ok(n),
    }
}

/// `GET /alerts` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertQuery {
    status: Option<String>,
    severity: Option<String>,
    #[serde(rename = "type")]
    alert_type: Option<String>,
    cluster: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// A list cursor parameter (`after`), absent when empty.
fn cursor(v: Option<String>) -> Result<Option<ListCursor>, ApiError> {
    present(v).map(|c| c.parse::<ListCursor>()).transpose()
}

impl AlertQuery {
    pub(crate) fn into_filter(self) -> Result<AlertFilter, ApiError> {
        Ok(AlertFilter {
            status: present(self.status)
                .map(|s| {
                    s.parse::<AlertStatus>()
                        .map_err(|e| ApiError::BadRequest(format!("status: {e}")))
                })
                .transpose()?,
            severity: severity(self.severity)?,
            alert_type: present(self.alert_type),
            cluster: present(self.cluster),
            limit: limit(self.limit)?,
            after: present(self.after)
                .map(|c| {
                    c.parse::<AlertCursor>()
                        .map_err(|e| ApiError::BadRequest(format!("after: {e}")))
                })
                .transpose()?,
        })
    }
}

pub(crate) use palisade_store::LabelRequirement;

/// An equality-based label selector, as `kubectl -l` takes it: requirements joined by commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(pub(crate) Vec<LabelRequirement>);

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl LabelSelector {
    /// Parses `app=web,tier!=db,canary,!legacy`.
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim) {
            let req = if let Some(key) = part.strip_prefix('!') {
                LabelRequirement::Absent(key.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelRequirement::NotEquals(k.trim().to_owned(), v.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                LabelRequirement::Equals(k.trim().to_owned(), v.trim().to_owned())
            } else {
                LabelRequirement::Exists(part.to_owned())
            };
            let (key, value) = match &req {
                LabelRequirement::Equals(k, v) | LabelRequirement::NotEquals(k, v) => (k, Some(v)),
                LabelRequirement::Exists(k) | LabelRequirement::Absent(k) => (k, None),
            };
            if !valid_key(key) {
                return Err(format!(
                    "label selector {text:?}: invalid label key {key:?}"
                ));
            }
            if let Some(v) = value
                && !valid_value(v)
            {
                return Err(format!(
                    "label selector {text:?}: invalid label value {v:?}"
                ));
            }
            out.push(req);
        }
        Ok(LabelSelector(out))
    }
}

/// `GET /resources` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceQuery {
    cluster: Option<String>,
    namespace: Option<String>,
    kind: Option<String>,
    label: Option<String>,
    image: Option<String>,
    name: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// A validated inventory filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceFilter {
    /// Cluster id or name.
    pub(crate) cluster: Option<String>,
    /// Exact namespace.
    pub(crate) namespace: Option<String>,
    /// Kind, case-insensitive.
    pub(crate) kind: Option<String>,
    /// Label selector.
    pub(crate) labels: LabelSelector,
    /// Substring of a container image.
    pub(crate) image: Option<String>,
    /// Substring of the name.
    pub(crate) name: Option<String>,
    /// Page size.
    pub(crate) limit: u32,
    /// Where the page starts (the previous page's `next`).
    pub(crate) after: Option<ListCursor>,
    /// The label selector as given (for forms).
    pub(crate) label_text: Option<String>,
}

impl ResourceQuery {
    pub(crate) fn into_filter(self) -> Result<ResourceFilter, ApiError> {
        let label_text = present(self.label);
        Ok(ResourceFilter {
            cluster: present(self.cluster),
            namespace: present(self.namespace),
            kind: present(self.kind),
            labels: match &label_text {
                Some(t) => LabelSelector::parse(t).map_err(ApiError::BadRequest)?,
                None => LabelSelector::default(),
            },
            image: present(self.image),
            name: present(self.name),
            limit: limit(self.limit)?,
            after: cursor(self.after)?,
            label_text,
        })
    }
}

/// `GET /recommendations` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecommendationQuery {
    severity: Option<String>,
    cluster: Option<String>,
    namespace: Option<String>,
    resource: Option<String>,
    check: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// A validated recommendation filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecommendationFilter {
    /// Only checks of this severity.
    pub(crate) severity: Option<Severity>,
    /// Cluster id or name.
    pub(crate) cluster: Option<String>,
    /// Exact namespace of the affected resource.
    pub(crate) namespace: Option<String>,
    /// Case-insensitive substring of `Kind/namespace/name` of the affected resource.
    pub(crate) resource: Option<String>,
    /// Exact check id.
    pub(crate) check: Option<String>,
    /// Affected resources per page.
    pub(crate) limit: u32,
    /// Where the page of affected resources starts (the previous page's `next`).
    pub(crate) after: Option<ListCursor>,
    /// Whether `limit` or `after` was given (they page one check's affected resources).
    pub(crate) paged: bool,
}

impl RecommendationQuery {
    pub(crate) fn into_filter(self) -> Result<RecommendationFilter, ApiError> {
        let resource = present(self.resource);
        if let Some(r) = &resource
            && r.len() > 512
        {
            return Err(ApiError::BadRequest(
                "resource filter is longer than 512 characters".into(),
            ));
        }
        Ok(RecommendationFilter {
            severity: severity(self.severity)?,
            cluster: present(self.cluster),
            namespace: present(self.namespace),
            resource,
            check: present(self.check),
            paged: self.limit.is_some() || present(self.after.clone()).is_some(),
            limit: limit(self.limit)?,
            after: cursor(self.after)?,
        })
    }
}

/// A query with no parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn label_selectors_parse_like_kubectl() {
        let s = LabelSelector::parse("app=web, tier!=db,canary,!legacy,x==y").unwrap();
        assert_eq!(
            s.0,
            vec![
                LabelRequirement::Equals("app".into(), "web".into()),
                LabelRequirement::NotEquals("tier".into(), "db".into()),
                LabelRequirement::Exists("canary".into()),
                LabelRequirement::Absent("legacy".into()),
                LabelRequirement::Equals("x".into(), "y".into()),
            ]
        );
        assert!(LabelSelector::parse("app=we b").is_err());
        assert!(LabelSelector::parse("=web").is_err());
        assert!(LabelSelector::parse("app=web,").is_err());
    }

    #[test]
    fn unknown_parameters_and_values_are_rejected() {
        assert!(parse::<AlertQuery>(Some("colour=red")).is_err());
        let q: AlertQuery = parse(Some("severity=urgent")).unwrap();
        assert!(q.into_filter().is_err());
        let q: AlertQuery = parse(Some("status=active&severity=high&limit=5")).unwrap();
        let f = q.into_filter().unwrap();
        assert_eq!(
            (f.status, f.severity, f.limit),
            (Some(AlertStatus::Active), Some(Severity::High), 5)
        );
        assert!(parse::<AlertQuery>(Some("limit=many")).is_err());
        let q: AlertQuery = parse(Some("after=nonsense")).unwrap();
        assert!(q.into_filter().is_err());
        let q: ResourceQuery = parse(Some("after=3.x")).unwrap();
        assert!(q.into_filter().is_err());
        let q: AlertQuery = parse(Some("limit=100000")).unwrap();
        assert!(q.into_filter().is_err());
        let q: ResourceQuery = parse(Some("label=a%3Db&kind=")).unwrap();
        let f = q.into_filter().unwrap();
        assert_eq!(f.kind, None);
        assert_eq!(
            f.labels.0,
            vec![LabelRequirement::Equals("a".into(), "b".into())]
        );
    }
}
