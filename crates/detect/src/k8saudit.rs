//! Kubernetes audit events (`audit.k8s.io/v1` and `v1beta1` `Event`) and the `k8s_audit`
//! source's fields: the `ka.*` fields of Falco's k8saudit plugin and the `jevt.*`/`json.*`
//! fields of its json plugin.
//!
//! [`K8sAuditEvent::parse`] deserialises the metadata every rule reads (verb, user, object
//! reference, response status, stage, ...) once, borrowing strings from the input. The
//! `requestObject` is parsed in the same pass (it is present on writes, and the rules for
//! writes inspect it: parsing it in place saves a second pass over it). The other large parts
//! (`responseObject`, annotations, the whole event for arbitrary `jevt.value[...]` pointers)
//! are kept as raw JSON and parsed at most once, on first use, so the common
//! `get`/`list`/`watch` event costs one metadata pass. They are parsed into a tree that
//! borrows its strings from the input (the `jsonv` module), and request and response objects
//! leave out `metadata` and `status`, which no `ka.*` field reads (a pointer to an object
//! itself or into those parts reads the whole event). `ka.resp.name` reads the name
//! out of the response object by a byte scan of its (already validated) text, without
//! building a tree or re-validating the rest of it.
//!
//! Events without request or response objects (reads, most of an API server's log) are read
//! by a byte scan of the common shape instead (plain strings, lists of plain strings, numbers;
//! anything else checked by serde on its own text); whatever the scan is unsure of (escapes
//! in the members read, duplicate members, values of an unexpected type, malformed text)
//! goes through serde as above, so both paths give the same members and reject the same
//! text. For a metadata-level event's few dozen short strings, serde's derived visitors
//! cost about as much as all the rules together; no JSON crate offers a validated, borrowing
//! read of a few known members that avoids that per-token work.
//! Metadata strings borrow from the input unless they hold escapes (serde would copy a `Cow`
//! inside an `Option`, so they go through a borrowing wrapper), and `user.groups` and
//! `sourceIPs`, which several rules read, are parsed once per event, on first use.
//!
//! Extraction follows the plugin's Go code (`pkg/k8saudit/extract.go`): values of non-string
//! JSON are rendered as compact JSON text, list fields walk every container/rule/volume, an
//! `[n]` argument picks the n-th, and a field with nothing to extract is missing. Deliberate
//! differences, where the plugin is plainly wrong or silent:
//!
//! - `ka.sourceips` reads the event's `sourceIPs` (the plugin reads a non-existent
//!   `requestObject.rules.sourceIPs`).
//! - `*.image.repository` strips the tag only after the last `/`, so `registry:5000/app:1`
//!   gives `registry:5000/app` (the plugin gives `registry`).
//! - `*.add_capabilities` lists each capability (the plugin gives each container's list as
//!   one JSON text, which `intersects` can never match); `*.command`/`*.args` give one value
//!   per container, its words joined by spaces.
//! - `*.eff_run_as_user`/`*.eff_run_as_group` read `securityContext` of the pod and of each
//!   container (the plugin looks one level too high and always sees nothing).
//! - `ka.req.pod.run_as_non_root` and `*.run_as_non_root` (each container's) are added: the
//!   plugin has no field for `runAsNonRoot`.
//! - `ka.sourceip.net` (not in the plugin) gives the same values as `ka.sourceips`, typed as
//!   IP addresses ([`FieldType::IpAddr`]): `ka.sourceip.net[0] in (10.0.0.0/8, fd00::/8)`
//!   holds when the first address lies in one of the networks, as Falco's `fd.net`/`fd.snet`
//!   do. `ka.sourceips` keeps the plugin's string semantics, so Falco's own rules read it as
//!   they do under Falco.
//! - `ka.cluster.name` comes from [`K8sAuditEvent::with_cluster_name`] (the plugin takes it
//!   from its configuration); `ka.target.pod.name` is the target name when the target is a pod.
//! - Objects rendered as text (`ka.req.role.rules`, `jevt.value[...]`) have their keys sorted;
//!   `jevt.obj` is the event as received.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::field::{
    ArgKind, Event, FieldArg, FieldDef, FieldRef, FieldRegistry, FieldType, FieldValue,
};
use crate::jsonv::{self, JVal};
use crate::util;

/// The source name of Kubernetes audit events.
pub const K8S_AUDIT_SOURCE: &str = "k8s_audit";

/// Why an input is not an audit event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditEventError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("invalid audit event JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Not UTF-8.
    #[error("audit event is not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// JSON without `auditID`: the k8saudit plugin ignores such input.
    #[error("not an audit event: no auditID")]
    NotAnEvent,
}

/// A string borrowed from the input unless it has escapes. Serde borrows a `Cow<str>` only
/// when it is a field's whole type: inside an `Option` it would always copy.
#[derive(Deserialize)]
struct BorrowedStr<'a>(#[serde(borrow)] Cow<'a, str>);

/// A JSON list of strings, each borrowed unless escaped; none when `raw` is missing or not
/// such a list.
fn str_list(raw: Option<Raw<'_>>) -> Option<Vec<Cow<'_, str>>> {
    let text = raw?.get();
    if memchr::memchr(b'\\', text.as_bytes()).is_none() {
        return plain_str_list(text);
    }
    let v: Vec<BorrowedStr<'_>> = serde_json::from_str(text).ok()?;
    Some(v.into_iter().map(|s| s.0).collect())
}

/// [`str_list`] of JSON text without escapes (already validated as JSON by the event's
/// parse): the strings are the text between quotes, so a byte scan finds them without the
/// deserialiser's machinery (these lists are read for most events).
fn plain_str_list(text: &str) -> Option<Vec<Cow<'_, str>>> {
    let b = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while b
            .get(i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::with_capacity(4);
    i = skip_ws(i + 1);
    if b.get(i) == Some(&b']') {
        return (skip_ws(i + 1) == b.len()).then_some(out);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        let len = memchr::memchr(b'"', b.get(start..)?)?;
        // Quotes are ASCII: both ends are character boundaries.
        out.push(Cow::Borrowed(text.get(start..start + len)?));
        i = skip_ws(start + len + 1);
        match b.get(i) {
            Some(b',') => i = skip_ws(i + 1),
            Some(b']') => return (skip_ws(i + 1) == b.len()).then_some(out),
            _ => return None,
        }
    }
}

/// `Option<Cow<str>>` fields: a string, borrowed unless it has escapes, or `null`. One
/// `deserialize_any` call instead of serde's `Option` and newtype layers (these fields are
/// read for every event).
fn opt_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// The JSON text of a member kept unparsed: a `RawValue`'s, or text the event scan checked.
#[derive(Debug, Clone, Copy)]
struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    fn get(self) -> &'a str {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&RawValue>::deserialize(d).map(|r| Raw(r.get()))
    }
}

#[derive(Debug, Deserialize)]
struct UserInfo<'a> {
    #[serde(borrow, default, deserialize_with = "opt_str")]
    username: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    groups: Option<Raw<'a>>,
}

#[derive(Debug, Deserialize)]
struct ObjectRef<'a> {
    #[serde(borrow, default, deserialize_with = "opt_str")]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    subresource: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct ResponseStatus<'a> {
    #[serde(borrow, default)]
    code: Option<Raw<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    reason: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct Top<'a> {
    #[serde(borrow, default, deserialize_with = "opt_str")]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "apiVersion", borrow, default, deserialize_with = "opt_str")]
    api_version: Option<Cow<'a, str>>,
    #[serde(rename = "auditID", borrow, default, deserialize_with = "opt_str")]
    audit_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_str")]
    verb: Option<Cow<'a, str>>,
    #[serde(rename = "requestURI", borrow, default, deserialize_with = "opt_str")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(rename = "userAgent", borrow, default, deserialize_with = "opt_str")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<UserInfo<'a>>,
    #[serde(rename = "impersonatedUser", borrow, default)]
    impersonated_user: Option<UserInfo<'a>>,
    #[serde(rename = "sourceIPs", borrow, default)]
    source_ips: Option<Raw<'a>>,
    #[serde(rename = "objectRef", borrow, default)]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(rename = "responseStatus", borrow, default)]
    response_status: Option<ResponseStatus<'a>>,
    /// Parsed with the event: it is present on writes, which rules inspect.
    #[serde(rename = "requestObject", borrow, default)]
    request_object: Option<jsonv::Pruned<'a>>,
    #[serde(rename = "responseObject", borrow, default)]
    response_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    annotations: Option<&'a RawValue>,
    #[serde(
        rename = "stageTimestamp",
        borrow,
        default,
        deserialize_with = "opt_str"
    )]
    stage_timestamp: Option<Cow<'a, str>>,
    #[serde(
        rename = "requestReceivedTimestamp",
        borrow,
        default,
        deserialize_with = "opt_str"
    )]
    request_received_timestamp: Option<Cow<'a, str>>,
}

/// The common shape of an event read without serde's derived visitors: members scanned by
/// bytes, string values without escapes borrowed as they are, the parts kept raw or parsed
/// into trees validated by serde on their own text. Anything else (escapes in the strings
/// read, duplicate known members, values of an unexpected type, malformed text) gives none,
/// and the event goes through `serde_json` as before, which decides and reports; so what is
/// accepted and what each member holds are the same either way (`fast_and_serde_paths_agree`
/// checks it). A metadata-level event is a few dozen short strings, where the derived
/// visitors' per-token work is most of the cost of reading it.
mod scan {
    use std::borrow::Cow;

    use serde_json::value::RawValue;

    use super::{ObjectRef, Raw, ResponseStatus, Top, UserInfo};
    use crate::jsonv::{self, skip_ws, string_end};

    /// How deep the parts checked on their own may nest: serde's recursion limit counts from
    /// the whole event, so deeper parts go through serde with it (real objects nest far less).
    const MAX_DEPTH: usize = 100;

    fn value_end(b: &[u8], i: usize) -> Option<usize> {
        jsonv::value_end_within(b, i, MAX_DEPTH)
    }

    /// The members of the object at `*i`, each given to `member` with its key and the
    /// position of its value, which `member` moves past; false when the text is not such an
    /// object or `member` declines.
    fn members<'a>(
        text: &'a str,
        i: &mut usize,
        mut member: impl FnMut(&'a str, &mut usize) -> Option<()>,
    ) -> Option<()> {
        let b = text.as_bytes();
        if b.get(*i) != Some(&b'{') {
            return None;
        }
        *i = skip_ws(b, *i + 1);
        if b.get(*i) == Some(&b'}') {
            *i += 1;
            return Some(());
        }
        loop {
            let key = plain_str(text, i)?;
            *i = skip_ws(b, *i);
            if b.get(*i) != Some(&b':') {
                return None;
            }
            *i = skip_ws(b, *i + 1);
            member(key, i)?;
            *i = skip_ws(b, *i);
            match b.get(*i) {
                Some(b',') => *i = skip_ws(b, *i + 1),
                Some(b'}') => {
                    *i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string without escapes or control characters at `*i`.
    fn plain_str<'a>(text: &'a str, i: &mut usize) -> Option<&'a str> {
        let b = text.as_bytes();
        if b.get(*i) != Some(&b'"') {
            return None;
        }
        let start = *i + 1;
        let end = special(b, start)?;
        if b.get(end) != Some(&b'"') {
            return None;
        }
        *i = end + 1;
        text.get(start..end)
    }

    /// The first `"`, `\` or control character at or after `i`, eight bytes at a time (the
    /// strings are short: a vector search's setup would cost more than it saves).
    fn special(b: &[u8], mut i: usize) -> Option<usize> {
        const ONES: u64 = u64::MAX / 255;
        while let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().ok()?);
            // A byte's high bit is set where it is below 0x20, `"` or `\`; the lowest such
            // byte is exact (a false mark only follows a true one).
            let ctl = x.wrapping_sub(ONES * 0x20) & !x;
            let q = x ^ (ONES * u64::from(b'"'));
            let q = q.wrapping_sub(ONES) & !q;
            let bs = x ^ (ONES * u64::from(b'\\'));
            let bs = bs.wrapping_sub(ONES) & !bs;
            let marks = (ctl | q | bs) & (ONES << 7);
            if marks != 0 {
                return Some(i + marks.trailing_zeros() as usize / 8);
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// An `opt_str` member: a string (borrowed unless it has escapes) or `null`.
    fn opt_str<'a>(
        text: &'a str,
        i: &mut usize,
        seen: &mut u32,
        bit: u32,
    ) -> Option<Option<Cow<'a, str>>> {
        once(seen, bit)?;
        match text.as_bytes().get(*i) {
            Some(b'n') => null(text, i).then_some(None),
            Some(b'"') => match plain_str(text, i) {
                Some(s) => Some(Some(Cow::Borrowed(s))),
                None => {
                    let end = string_end(text.as_bytes(), *i)?;
                    let s: String = serde_json::from_str(text.get(*i..end)?).ok()?;
                    *i = end;
                    Some(Some(Cow::Owned(s)))
                }
            },
            _ => None,
        }
    }

    fn null(text: &str, i: &mut usize) -> bool {
        let is_null = text.get(*i..*i + 4) == Some("null");
        if is_null {
            *i += 4;
        }
        is_null
    }

    /// Marks a known member as seen; none for a second one (serde rejects duplicates).
    fn once(seen: &mut u32, bit: u32) -> Option<()> {
        let mask = 1u32 << bit;
        if *seen & mask != 0 {
            return None;
        }
        *seen |= mask;
        Some(())
    }

    /// The text of the value at `*i`, validated as JSON.
    fn raw<'a>(text: &'a str, i: &mut usize) -> Option<&'a RawValue> {
        let end = value_end(text.as_bytes(), *i)?;
        let v = serde_json::from_str::<&RawValue>(text.get(*i..end)?).ok()?;
        *i = end;
        Some(v)
    }

    /// An `Option<&RawValue>` member: `null` is none.
    fn opt_raw<'a>(
        text: &'a str,
        i: &mut usize,
        seen: &mut u32,
        bit: u32,
    ) -> Option<Option<&'a RawValue>> {
        once(seen, bit)?;
        if null(text, i) {
            return Some(None);
        }
        raw(text, i).map(Some)
    }

    /// A [`Raw`] member (`sourceIPs`, `user.groups`, `responseStatus.code`): a list of
    /// plain strings or a number is checked here, anything else by serde.
    fn opt_small<'a>(
        text: &'a str,
        i: &mut usize,
        seen: &mut u32,
        bit: u32,
    ) -> Option<Option<Raw<'a>>> {
        once(seen, bit)?;
        if null(text, i) {
            return Some(None);
        }
        let b = text.as_bytes();
        let start = *i;
        let plain_list = || {
            let mut j = skip_ws(b, start + 1);
            if b.get(j) != Some(&b']') {
                loop {
                    plain_str(text, &mut j)?;
                    j = skip_ws(b, j);
                    match b.get(j) {
                        Some(b',') => j = skip_ws(b, j + 1),
                        Some(b']') => break,
                        _ => return None,
                    }
                }
            }
            Some(j + 1)
        };
        let end = match b.get(start)? {
            b'[' => match plain_list() {
                Some(end) => end,
                None => return raw(text, i).map(|r| Some(Raw(r.get()))),
            },
            b'-' | b'0'..=b'9' => start + number_len(b.get(start..)?)?,
            _ => return raw(text, i).map(|r| Some(Raw(r.get()))),
        };
        *i = end;
        Some(Some(Raw(text.get(start..end)?)))
    }

    /// The length of the JSON number at the start of `b` (`-?(0|[1-9][0-9]*)(.[0-9]+)?
    /// ([eE][+-]?[0-9]+)?`), if it is one and is followed by a delimiter.
    fn number_len(b: &[u8]) -> Option<usize> {
        let digits = |mut j: usize| {
            let from = j;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            (j > from).then_some(j)
        };
        let mut j = usize::from(b.first() == Some(&b'-'));
        j = match b.get(j)? {
            b'0' => j + 1,
            b'1'..=b'9' => digits(j)?,
            _ => return None,
        };
        if b.get(j) == Some(&b'.') {
            j = digits(j + 1)?;
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            j += 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            j = digits(j)?;
        }
        matches!(
            b.get(j),
            None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
        )
        .then_some(j)
    }

    /// A member no field reads: validated and passed over.
    fn skip(text: &str, i: &mut usize) -> Option<()> {
        if text.as_bytes().get(*i) == Some(&b'"') && plain_str(text, i).is_some() {
            return Some(());
        }
        let end = value_end(text.as_bytes(), *i)?;
        serde_json::from_str::<serde::de::IgnoredAny>(text.get(*i..end)?).ok()?;
        *i = end;
        Some(())
    }

    /// An optional nested object: `null` is none.
    fn opt_obj<'a, T>(
        text: &'a str,
        i: &mut usize,
        seen: &mut u32,
        bit: u32,
        read: impl FnOnce(&'a str, &mut usize) -> Option<T>,
    ) -> Option<Option<T>> {
        once(seen, bit)?;
        if null(text, i) {
            return Some(None);
        }
        read(text, i).map(Some)
    }

    fn user<'a>(text: &'a str, i: &mut usize) -> Option<UserInfo<'a>> {
        let mut u = UserInfo {
            username: None,
            groups: None,
        };
        let mut seen = 0;
        members(text, i, |key, i| {
            match key {
                "username" => u.username = opt_str(text, i, &mut seen, 0)?,
                "groups" => u.groups = opt_small(text, i, &mut seen, 1)?,
                _ => skip(text, i)?,
            }
            Some(())
        })?;
        Some(u)
    }

    fn object_ref<'a>(text: &'a str, i: &mut usize) -> Option<ObjectRef<'a>> {
        let mut o = ObjectRef {
            resource: None,
            namespace: None,
            name: None,
            subresource: None,
        };
        let mut seen = 0;
        members(text, i, |key, i| {
            match key {
                "resource" => o.resource = opt_str(text, i, &mut seen, 0)?,
                "namespace" => o.namespace = opt_str(text, i, &mut seen, 1)?,
                "name" => o.name = opt_str(text, i, &mut seen, 2)?,
                "subresource" => o.subresource = opt_str(text, i, &mut seen, 3)?,
                _ => skip(text, i)?,
            }
            Some(())
        })?;
        Some(o)
    }

    fn response_status<'a>(text: &'a str, i: &mut usize) -> Option<ResponseStatus<'a>> {
        let mut r = ResponseStatus {
            code: None,
            reason: None,
        };
        let mut seen = 0;
        members(text, i, |key, i| {
            match key {
                "code" => r.code = opt_small(text, i, &mut seen, 0)?,
                "reason" => r.reason = opt_str(text, i, &mut seen, 1)?,
                _ => skip(text, i)?,
            }
            Some(())
        })?;
        Some(r)
    }

    /// The event's members as [`Top`]'s derived deserialiser reads them; none when unsure.
    pub(super) fn top(text: &str) -> Option<Top<'_>> {
        let mut t = Top {
            kind: None,
            api_version: None,
            audit_id: None,
            stage: None,
            verb: None,
            request_uri: None,
            user_agent: None,
            user: None,
            impersonated_user: None,
            source_ips: None,
            object_ref: None,
            response_status: None,
            request_object: None,
            response_object: None,
            annotations: None,
            stage_timestamp: None,
            request_received_timestamp: None,
        };
        let mut seen = 0u32;
        let s = &mut seen;
        let mut i = skip_ws(text.as_bytes(), 0);
        members(text, &mut i, |key, i| {
            match key {
                "kind" => t.kind = opt_str(text, i, s, 0)?,
                "apiVersion" => t.api_version = opt_str(text, i, s, 1)?,
                "auditID" => t.audit_id = opt_str(text, i, s, 2)?,
                "stage" => t.stage = opt_str(text, i, s, 3)?,
                "verb" => t.verb = opt_str(text, i, s, 4)?,
                "requestURI" => t.request_uri = opt_str(text, i, s, 5)?,
                "userAgent" => t.user_agent = opt_str(text, i, s, 6)?,
                "user" => t.user = opt_obj(text, i, s, 7, user)?,
                "impersonatedUser" => t.impersonated_user = opt_obj(text, i, s, 8, user)?,
                "sourceIPs" => t.source_ips = opt_small(text, i, s, 9)?,
                "objectRef" => t.object_ref = opt_obj(text, i, s, 10, object_ref)?,
                "responseStatus" => {
                    t.response_status = opt_obj(text, i, s, 11, response_status)?;
                }
                // Request and response objects are read in place by serde's pass (checking
                // them on their own would cost a second pass over most of the event).
                "requestObject" => {
                    once(s, 12)?;
                    null(text, i).then_some(())?;
                }
                "responseObject" => {
                    once(s, 13)?;
                    null(text, i).then_some(())?;
                }
                "annotations" => t.annotations = opt_raw(text, i, s, 14)?,
                "stageTimestamp" => t.stage_timestamp = opt_str(text, i, s, 15)?,
                "requestReceivedTimestamp" => {
                    t.request_received_timestamp = opt_str(text, i, s, 16)?;
                }
                _ => skip(text, i)?,
            }
            Some(())
        })?;
        (skip_ws(text.as_bytes(), i) == text.len()).then_some(t)
    }
}

/// One Kubernetes audit event, borrowing its input.
///
/// ```
/// use palisade_detect::{Event, K8sAuditEvent, k8s_audit_registry};
/// let ev = K8sAuditEvent::parse(r#"{"auditID":"1","verb":"create","stage":"ResponseComplete"}"#)?;
/// let verb = k8s_audit_registry().resolve("ka.verb", None)?;
/// assert_eq!(ev.field(&verb).to_string(), "create");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct K8sAuditEvent<'a> {
    raw: &'a str,
    top: Top<'a>,
    timestamp: i64,
    cluster: Option<String>,
    response_object: OnceCell<Option<JVal<'a>>>,
    annotations: OnceCell<Option<JVal<'a>>>,
    whole: OnceCell<Option<JVal<'a>>>,
    /// `responseObject.metadata.name`, read on first use without parsing the rest.
    resp_name: OnceCell<Option<JVal<'a>>>,
    /// `user.groups` and `sourceIPs`, parsed on first use (several rules read them).
    groups: OnceCell<Option<Vec<Cow<'a, str>>>>,
    source_ips: OnceCell<Option<Vec<Cow<'a, str>>>>,
}

impl<'a> K8sAuditEvent<'a> {
    /// Parses one event from JSON text.
    ///
    /// The event time (`jevt.rawtime`, `evt.time`) is `stageTimestamp`, else
    /// `requestReceivedTimestamp`, else the time of parsing, as Falco stamps every event it
    /// reads.
    pub fn parse(json: &'a str) -> Result<Self, AuditEventError> {
        Self::parse_with(json, false)
    }

    /// Parses one event from JSON text, also accepting events without `auditID` that are
    /// plainly audit events: they have a `verb`, or `kind: Event` with an `audit.k8s.io`
    /// (or no) `apiVersion`. Exports and hand-written samples often drop the id; the
    /// k8saudit plugin ignores such input, [`K8sAuditEvent::parse`] does too.
    ///
    /// Such exports also drop `stage`. A missing stage stays missing: the API server writes a
    /// stage on every event, and the plugin leaves events without one alone, so rules that
    /// wait for a stage (Falco's `kevt`) do not fire on them, while palisade's built-in rules,
    /// which only skip `RequestReceived`, still see them.
    pub fn parse_relaxed(json: &'a str) -> Result<Self, AuditEventError> {
        Self::parse_with(json, true)
    }

    fn parse_with(json: &'a str, relaxed: bool) -> Result<Self, AuditEventError> {
        let top: Top<'a> = match scan::top(json) {
            Some(top) => top,
            None => serde_json::from_str(json)?,
        };
        if top.audit_id.is_none() {
            let audit_kind = top.kind.as_deref() == Some("Event")
                && top
                    .api_version
                    .as_deref()
                    .is_none_or(|v| v.starts_with("audit.k8s.io/"));
            if !relaxed || !(top.verb.is_some() || audit_kind) {
                return Err(AuditEventError::NotAnEvent);
            }
        }
        let timestamp = top
            .stage_timestamp
            .as_deref()
            .and_then(util::parse_rfc3339_nanos)
            .or_else(|| {
                top.request_received_timestamp
                    .as_deref()
                    .and_then(util::parse_rfc3339_nanos)
            })
            .unwrap_or_else(now_nanos);
        Ok(Self {
            raw: json.trim(),
            top,
            timestamp,
            cluster: None,
            response_object: OnceCell::new(),
            annotations: OnceCell::new(),
            whole: OnceCell::new(),
            resp_name: OnceCell::new(),
            groups: OnceCell::new(),
            source_ips: OnceCell::new(),
        })
    }

    /// Parses one event from JSON bytes.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, AuditEventError> {
        Self::parse(std::str::from_utf8(json)?)
    }

    /// Sets the cluster name (`ka.cluster.name`).
    pub fn with_cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster = Some(name.into());
        self
    }

    /// Overrides the event time, in nanoseconds since the Unix epoch.
    pub fn with_timestamp(mut self, nanos: i64) -> Self {
        self.timestamp = nanos;
        self
    }

    /// The event time, in nanoseconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The raw JSON text of the event.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The `auditID`, if any.
    pub fn audit_id(&self) -> Option<&str> {
        self.top.audit_id.as_deref()
    }

    /// The `stage` (`ResponseComplete`, ...), if any.
    pub fn stage(&self) -> Option<&str> {
        self.top.stage.as_deref()
    }

    /// The `verb`, if any.
    pub fn verb(&self) -> Option<&str> {
        self.top.verb.as_deref()
    }

    /// The requesting user's name, if any.
    pub fn user_name(&self) -> Option<&str> {
        self.top.user.as_ref().and_then(|u| u.username.as_deref())
    }

    /// The impersonated user's name, if any.
    pub fn impersonated_user_name(&self) -> Option<&str> {
        self.top
            .impersonated_user
            .as_ref()
            .and_then(|u| u.username.as_deref())
    }

    /// The target object's namespace, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.top
            .object_ref
            .as_ref()
            .and_then(|o| o.namespace.as_deref())
    }

    /// The target resource (`pods`, `clusterrolebindings`), if any.
    pub fn resource(&self) -> Option<&str> {
        self.top
            .object_ref
            .as_ref()
            .and_then(|o| o.resource.as_deref())
    }

    /// The target subresource (`exec`, `token`), if any.
    pub fn subresource(&self) -> Option<&str> {
        self.top
            .object_ref
            .as_ref()
            .and_then(|o| o.subresource.as_deref())
    }

    /// The target object's name, if any.
    pub fn name(&self) -> Option<&str> {
        self.top.object_ref.as_ref().and_then(|o| o.name.as_deref())
    }

    /// The request URI, if any.
    pub fn request_uri(&self) -> Option<&str> {
        self.top.request_uri.as_deref()
    }

    /// The client's user agent, if any.
    pub fn user_agent(&self) -> Option<&str> {
        self.top.user_agent.as_deref()
    }

    /// The client addresses (`sourceIPs`), in order.
    pub fn source_ips(&self) -> Vec<Cow<'_, str>> {
        self.source_ip_list()
            .map(|v| v.iter().map(|s| Cow::Borrowed(&**s)).collect())
            .unwrap_or_default()
    }

    /// `sourceIPs`, parsed once; none when missing or not a list of strings.
    fn source_ip_list(&self) -> Option<&[Cow<'a, str>]> {
        self.source_ips
            .get_or_init(|| str_list(self.top.source_ips))
            .as_deref()
    }

    /// `user.groups`, parsed once; none when missing or not a list of strings.
    fn group_list(&self) -> Option<&[Cow<'a, str>]> {
        self.groups
            .get_or_init(|| str_list(self.top.user.as_ref().and_then(|u| u.groups)))
            .as_deref()
    }

    /// The HTTP response code, if any.
    pub fn response_code(&self) -> Option<i64> {
        let raw = self.top.response_status.as_ref()?.code?;
        raw.get().trim().parse().ok()
    }

    /// The cluster name set with [`K8sAuditEvent::with_cluster_name`].
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    fn request_object(&self) -> Option<&JVal<'a>> {
        self.top.request_object.as_ref().and_then(|p| p.0.as_ref())
    }

    fn response_object(&self) -> Option<&JVal<'a>> {
        self.response_object
            .get_or_init(|| parse_object(self.top.response_object))
            .as_ref()
    }

    fn annotation(&self, key: &str) -> FieldValue<'_> {
        let a = self.annotations.get_or_init(|| {
            self.top
                .annotations
                .and_then(|r| jsonv::parse(r.get()))
                .filter(|v| !v.is_null())
        });
        match a.as_ref().and_then(|a| a.get(key)) {
            Some(v) => json_value(v),
            None => FieldValue::Missing,
        }
    }

    fn whole(&self) -> Option<&JVal<'a>> {
        self.whole.get_or_init(|| jsonv::parse(self.raw)).as_ref()
    }

    fn pointer(&self, tokens: &[Box<str>]) -> FieldValue<'_> {
        let Some((first, rest)) = tokens.split_first() else {
            return FieldValue::Missing;
        };
        let t = &self.top;
        if rest.is_empty() {
            match &**first {
                "stage" => return opt(&t.stage),
                "verb" => return opt(&t.verb),
                "auditID" => return opt(&t.audit_id),
                "requestURI" => return opt(&t.request_uri),
                "userAgent" => return opt(&t.user_agent),
                _ => {}
            }
        }
        let pruned = matches!(&**first, "requestObject" | "responseObject")
            && match rest.first().map(|t| &**t) {
                None | Some("status" | "metadata") => true,
                Some(_) => false,
            };
        let base = match &**first {
            // The cached objects lack metadata and status: read those (and the objects
            // themselves) from the whole event.
            _ if pruned => self.whole().and_then(|w| w.get(first)),
            "requestObject" => self.request_object(),
            "responseObject" => self.response_object(),
            _ => self.whole().and_then(|w| w.get(first)),
        };
        let mut v = base;
        for tok in rest {
            v = v.and_then(|v| match v {
                JVal::Array(a) => tok.parse::<usize>().ok().and_then(|i| a.get(i)),
                other => other.get(tok),
            });
        }
        v.map_or(FieldValue::Missing, json_value)
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A request or response object, without `metadata` and `status`; JSON `null` is none.
fn parse_object(raw: Option<&RawValue>) -> Option<JVal<'_>> {
    raw.and_then(|r| jsonv::parse_pruned(r.get()))
        .filter(|v| !v.is_null())
}

/// A JSON value as the plugin renders it: strings as they are, anything else as compact JSON
/// with object keys sorted (Go's `encoding/json` sorts map keys).
fn json_text<'v>(v: &'v JVal<'_>) -> Cow<'v, str> {
    match v {
        JVal::String(s) => Cow::Borrowed(s),
        JVal::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        JVal::Null => Cow::Borrowed("null"),
        other => {
            let mut out = String::new();
            other.write_sorted(&mut out);
            Cow::Owned(out)
        }
    }
}

fn json_value<'v>(v: &'v JVal<'_>) -> FieldValue<'v> {
    match v {
        JVal::Null => FieldValue::Missing,
        other => FieldValue::Str(json_text(other)),
    }
}

/// The plugin's `getValuesRecursive`: walks `keys`, fanning out over arrays (or taking the
/// `index`-th element), and records `None` where an element lacks the path.
fn values_recursive<'v, 'a>(
    v: &'v JVal<'a>,
    index: Option<usize>,
    keys: &[&str],
    out: &mut Vec<Option<&'v JVal<'a>>>,
) -> bool {
    let mut cur = v;
    for (i, k) in keys.iter().enumerate() {
        if let JVal::Array(arr) = cur {
            match index {
                None => {
                    for e in arr {
                        let mut sub = Vec::new();
                        if values_recursive(e, index, &keys[i..], &mut sub) {
                            out.extend(sub);
                        } else {
                            out.push(None);
                        }
                    }
                    return true;
                }
                Some(n) => match arr.get(n) {
                    Some(e) => cur = e,
                    None => return false,
                },
            }
        }
        match cur.get(k) {
            Some(next) if !next.is_null() => cur = next,
            _ => return false,
        }
    }
    out.push(Some(cur));
    true
}

fn collect<'v, 'a>(
    v: Option<&'v JVal<'a>>,
    index: Option<usize>,
    keys: &[&str],
) -> Option<Vec<Option<&'v JVal<'a>>>> {
    let mut out = Vec::new();
    if values_recursive(v?, index, keys, &mut out) {
        Some(out)
    } else {
        None
    }
}

fn list_skip_nil<'v>(vals: Option<Vec<Option<&'v JVal<'_>>>>) -> FieldValue<'v> {
    match vals {
        Some(v) => FieldValue::List(v.into_iter().flatten().map(json_text).collect()),
        None => FieldValue::Missing,
    }
}

/// Flattens array values (each element one value); scalars count as one value.
fn list_flatten<'v>(vals: Option<Vec<Option<&'v JVal<'_>>>>) -> FieldValue<'v> {
    let Some(vals) = vals else {
        return FieldValue::Missing;
    };
    let mut out = Vec::new();
    for v in vals.into_iter().flatten() {
        match v {
            JVal::Array(a) => out.extend(a.iter().filter(|x| !x.is_null()).map(json_text)),
            other => out.push(json_text(other)),
        }
    }
    FieldValue::List(out)
}

fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[slash..].find(':') {
        Some(c) => &no_digest[..slash + c],
        None => no_digest,
    }
}

/// Which container list of a pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CList {
    Containers,
    Init,
    Ephemeral,
}

impl CList {
    fn key(self) -> &'static str {
        match self {
            CList::Containers => "containers",
            CList::Init => "initContainers",
            CList::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A per-container attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CAttr {
    Name,
    Image,
    ImageRepository,
    Command,
    Args,
    Privileged,
    AllowPrivilegeEscalation,
    ReadOnlyFs,
    RunAsUser,
    RunAsNonRoot,
    EffRunAsUser,
    RunAsGroup,
    EffRunAsGroup,
    ProcMount,
    AddCapabilities,
    HostPort,
}

/// Every `k8s_audit` field, in registry order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ka {
    AuditId,
    Stage,
    AuthDecision,
    AuthReason,
    OpenshiftDecision,
    ValidationFailure,
    PodViolations,
    OpenshiftUsername,
    UserName,
    UserGroups,
    ImpUserName,
    Verb,
    Uri,
    UriParam,
    TargetName,
    TargetNamespace,
    TargetResource,
    TargetSubresource,
    TargetPodName,
    BindingSubjects,
    BindingUserNames,
    BindingSaNames,
    BindingSaNsNames,
    BindingGroupNames,
    BindingRole,
    BindingSubjectHasName,
    ConfigmapName,
    ConfigmapObj,
    ContainerImage,
    ContainerImageRepository,
    HostIpc,
    HostNetwork,
    ContainerHostNetwork,
    HostPid,
    ContainerPrivileged,
    PodRunAsUser,
    PodRunAsNonRoot,
    PodRunAsGroup,
    RoleRules,
    RoleRulesApiGroups,
    RoleRulesNonResourceUrls,
    RoleRulesVerbs,
    RoleRulesResources,
    FsGroup,
    SupplementalGroups,
    ServiceType,
    ServicePorts,
    VolumesHostpath,
    VolumeHostpath,
    VolumesFlexvolumeDriver,
    VolumesVolumeType,
    RespName,
    ResponseCode,
    ResponseReason,
    UserAgent,
    SourceIps,
    SourceIpNet,
    ClusterName,
    Container(CList, CAttr),
    JevtTime,
    JevtTimeIso,
    JevtRawtime,
    JevtValue,
    JevtObj,
    EvtTime,
    EvtTimeIso,
    EvtRawtime,
    EvtSource,
}

fn s(name: &'static str, desc: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Str).desc(desc)
}

fn l(name: &'static str, desc: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Str)
        .list()
        .arg(ArgKind::Index, false)
        .desc(desc)
}

fn table() -> Vec<(FieldDef, Ka)> {
    use Ka::*;
    let mut t = vec![
        (s("ka.auditid", "The unique id of the audit event"), AuditId),
        (
            s(
                "ka.stage",
                "Stage of the request (e.g. RequestReceived, ResponseComplete, etc.)",
            ),
            Stage,
        ),
        (
            s("ka.auth.decision", "The authorization decision"),
            AuthDecision,
        ),
        (s("ka.auth.reason", "The authorization reason"), AuthReason),
        (
            s(
                "ka.auth.openshift.decision",
                "The authentication decision of the OpenShift apiserver extension",
            ),
            OpenshiftDecision,
        ),
        (
            s(
                "ka.validations.admission.policy.failure",
                "The validation failure reason from a Validating Admission Policy",
            ),
            ValidationFailure,
        ),
        (
            s(
                "ka.security.pod.violations",
                "The violation reason for pod security",
            ),
            PodViolations,
        ),
        (
            s(
                "ka.auth.openshift.username",
                "The user name of the OpenShift authentication operation",
            ),
            OpenshiftUsername,
        ),
        (
            s("ka.user.name", "The user name performing the request"),
            UserName,
        ),
        (
            FieldDef::new("ka.user.groups", FieldType::Str)
                .list()
                .desc("The groups to which the user belongs"),
            UserGroups,
        ),
        (
            s("ka.impuser.name", "The impersonated user name"),
            ImpUserName,
        ),
        (s("ka.verb", "The action being performed"), Verb),
        (
            s("ka.uri", "The request URI as sent from client to server"),
            Uri,
        ),
        (
            s(
                "ka.uri.param",
                "The value of a given query parameter in the uri",
            )
            .arg(ArgKind::Key, true),
            UriParam,
        ),
        (s("ka.target.name", "The target object name"), TargetName),
        (
            s("ka.target.namespace", "The target object namespace"),
            TargetNamespace,
        ),
        (
            s("ka.target.resource", "The target object resource"),
            TargetResource,
        ),
        (
            s("ka.target.subresource", "The target object subresource"),
            TargetSubresource,
        ),
        (
            s("ka.target.pod.name", "The target pod name"),
            TargetPodName,
        ),
        (
            FieldDef::new("ka.req.binding.subjects", FieldType::Str)
                .list()
                .desc("The subjects linked by a (cluster) role binding"),
            BindingSubjects,
        ),
        (
            FieldDef::new("ka.req.binding.subjects.user_names", FieldType::Str)
                .list()
                .desc("The user names linked by a binding"),
            BindingUserNames,
        ),
        (
            FieldDef::new(
                "ka.req.binding.subjects.serviceaccount_names",
                FieldType::Str,
            )
            .list()
            .desc("The service account names linked by a binding"),
            BindingSaNames,
        ),
        (
            FieldDef::new(
                "ka.req.binding.subjects.serviceaccount_ns_names",
                FieldType::Str,
            )
            .list()
            .desc("The service accounts linked by a binding, as namespace:name"),
            BindingSaNsNames,
        ),
        (
            FieldDef::new("ka.req.binding.subjects.group_names", FieldType::Str)
                .list()
                .desc("The group names linked by a binding"),
            BindingGroupNames,
        ),
        (
            s(
                "ka.req.binding.role",
                "The role linked by a (cluster) role binding",
            ),
            BindingRole,
        ),
        (
            s("ka.req.binding.subject.has_name", "Deprecated, always true").arg(ArgKind::Key, true),
            BindingSubjectHasName,
        ),
        (
            s("ka.req.configmap.name", "The configmap name"),
            ConfigmapName,
        ),
        (
            s("ka.req.configmap.obj", "The configmap data, as JSON"),
            ConfigmapObj,
        ),
        (
            s(
                "ka.req.container.image",
                "Deprecated: the image of the first container",
            ),
            ContainerImage,
        ),
        (
            s(
                "ka.req.container.image.repository",
                "Deprecated: the repository of the first container's image",
            ),
            ContainerImageRepository,
        ),
        (s("ka.req.pod.host_ipc", "The pod's hostIPC flag"), HostIpc),
        (
            s("ka.req.pod.host_network", "The pod's hostNetwork flag"),
            HostNetwork,
        ),
        (
            s(
                "ka.req.container.host_network",
                "Deprecated alias for ka.req.pod.host_network",
            ),
            ContainerHostNetwork,
        ),
        (s("ka.req.pod.host_pid", "The pod's hostPID flag"), HostPid),
        (
            s(
                "ka.req.container.privileged",
                "Deprecated: true if any container is privileged",
            ),
            ContainerPrivileged,
        ),
        (
            s(
                "ka.req.pod.run_as_user",
                "The pod's securityContext runAsUser",
            ),
            PodRunAsUser,
        ),
        (
            s(
                "ka.req.pod.run_as_non_root",
                "The pod's securityContext runAsNonRoot",
            ),
            PodRunAsNonRoot,
        ),
        (
            s(
                "ka.req.pod.run_as_group",
                "The pod's securityContext runAsGroup",
            ),
            PodRunAsGroup,
        ),
        (
            FieldDef::new("ka.req.role.rules", FieldType::Str)
                .list()
                .desc("The rules of a (cluster) role"),
            RoleRules,
        ),
        (
            l(
                "ka.req.role.rules.apiGroups",
                "The api groups of a role's rules",
            ),
            RoleRulesApiGroups,
        ),
        (
            l(
                "ka.req.role.rules.nonResourceURLs",
                "The non resource urls of a role's rules",
            ),
            RoleRulesNonResourceUrls,
        ),
        (
            l("ka.req.role.rules.verbs", "The verbs of a role's rules"),
            RoleRulesVerbs,
        ),
        (
            l(
                "ka.req.role.rules.resources",
                "The resources of a role's rules",
            ),
            RoleRulesResources,
        ),
        (s("ka.req.pod.fs_group", "The pod's fsGroup"), FsGroup),
        (
            FieldDef::new("ka.req.pod.supplemental_groups", FieldType::Str)
                .list()
                .desc("The pod's supplementalGroups"),
            SupplementalGroups,
        ),
        (s("ka.req.service.type", "The service type"), ServiceType),
        (
            l("ka.req.service.ports", "The service's ports"),
            ServicePorts,
        ),
        (
            l(
                "ka.req.pod.volumes.hostpath",
                "The hostPath paths of all volumes",
            ),
            VolumesHostpath,
        ),
        (
            s(
                "ka.req.volume.hostpath",
                "Deprecated: true if a volume uses the given host path (trailing * for a prefix)",
            )
            .arg(ArgKind::Key, true),
            VolumeHostpath,
        ),
        (
            l(
                "ka.req.pod.volumes.flexvolume_driver",
                "The flexVolume drivers of all volumes",
            ),
            VolumesFlexvolumeDriver,
        ),
        (
            l("ka.req.pod.volumes.volume_type", "The types of all volumes"),
            VolumesVolumeType,
        ),
        (s("ka.resp.name", "The response object name"), RespName),
        (s("ka.response.code", "The response code"), ResponseCode),
        (
            s("ka.response.reason", "The response reason"),
            ResponseReason,
        ),
        (s("ka.useragent", "The user agent of the client"), UserAgent),
        (
            l("ka.sourceips", "The IP addresses of the client"),
            SourceIps,
        ),
        (
            FieldDef::new("ka.sourceip.net", FieldType::IpAddr)
                .list()
                .arg(ArgKind::Index, false)
                .desc(
                    "The IP addresses of the client, compared as addresses: `=`/`in` a CIDR \
                     network hold when the address lies in it",
                ),
            SourceIpNet,
        ),
        (s("ka.cluster.name", "The name of the cluster"), ClusterName),
    ];
    for (list, prefix) in [
        (CList::Containers, "ka.req.pod.containers"),
        (CList::Init, "ka.req.pod.initContainers"),
        (CList::Ephemeral, "ka.req.pod.ephemeralContainers"),
    ] {
        for (attr, suffix) in [
            (CAttr::Name, "name"),
            (CAttr::Image, "image"),
            (CAttr::ImageRepository, "image.repository"),
            (CAttr::Command, "command"),
            (CAttr::Args, "args"),
            (CAttr::Privileged, "privileged"),
            (
                CAttr::AllowPrivilegeEscalation,
                "allow_privilege_escalation",
            ),
            (CAttr::ReadOnlyFs, "read_only_fs"),
            (CAttr::RunAsUser, "run_as_user"),
            (CAttr::RunAsNonRoot, "run_as_non_root"),
            (CAttr::EffRunAsUser, "eff_run_as_user"),
            (CAttr::RunAsGroup, "run_as_group"),
            (CAttr::EffRunAsGroup, "eff_run_as_group"),
            (CAttr::ProcMount, "proc_mount"),
            (CAttr::AddCapabilities, "add_capabilities"),
            (CAttr::HostPort, "host_port"),
        ] {
            let name = format!("{prefix}.{suffix}");
            let def = FieldDef::new(name, FieldType::Str)
                .list()
                .arg(ArgKind::Index, false)
                .desc(format!(
                    "The {suffix} of each entry of the pod's {}",
                    list.key()
                ));
            t.push((def, Container(list, attr)));
        }
    }
    for p in ["jevt", "json"] {
        t.push((
            FieldDef::new(format!("{p}.time"), FieldType::Str).desc("The event time (UTC)"),
            JevtTime,
        ));
        t.push((
            FieldDef::new(format!("{p}.time.iso8601"), FieldType::Str)
                .desc("The event time, ISO 8601"),
            JevtTimeIso,
        ));
        t.push((
            FieldDef::new(format!("{p}.rawtime"), FieldType::Num)
                .desc("The event time in nanoseconds"),
            JevtRawtime,
        ));
        t.push((
            FieldDef::new(format!("{p}.value"), FieldType::Str)
                .arg(ArgKind::JsonPointer, true)
                .desc("The value at a JSON pointer into the event"),
            JevtValue,
        ));
        t.push((
            FieldDef::new(format!("{p}.obj"), FieldType::Str).desc("The whole event as JSON"),
            JevtObj,
        ));
    }
    t.push((s("evt.time", "The event time (UTC)"), EvtTime));
    t.push((
        s("evt.time.iso8601", "The event time, ISO 8601"),
        EvtTimeIso,
    ));
    t.push((
        FieldDef::new("evt.rawtime", FieldType::Num).desc("The event time in nanoseconds"),
        EvtRawtime,
    ));
    t.push((s("evt.source", "The event source"), EvtSource));
    t
}

struct K8sTable {
    registry: FieldRegistry,
    kinds: Vec<Ka>,
}

static TABLE: LazyLock<K8sTable> = LazyLock::new(|| {
    let (defs, kinds): (Vec<_>, Vec<_>) = table().into_iter().unzip();
    K8sTable {
        registry: FieldRegistry::new(K8S_AUDIT_SOURCE, defs).with_index_fields([
            "ka.target.resource",
            "ka.verb",
            "ka.target.subresource",
        ]),
        kinds,
    }
});

/// The fields of the `k8s_audit` source, as [`K8sAuditEvent`] answers them.
pub fn k8s_audit_registry() -> &'static FieldRegistry {
    &TABLE.registry
}

impl Event for K8sAuditEvent<'_> {
    fn event_source(&self) -> &str {
        K8S_AUDIT_SOURCE
    }

    fn field(&self, f: &FieldRef) -> FieldValue<'_> {
        let Some(kind) = TABLE.kinds.get(usize::from(f.id())) else {
            return FieldValue::Missing;
        };
        let index = match f.arg() {
            FieldArg::Index(i) => Some(*i),
            _ => None,
        };
        let key = match f.arg() {
            FieldArg::Key(k) => Some(&**k),
            _ => None,
        };
        self.extract(*kind, index, key, f.arg())
    }
}

fn opt<'s>(v: &'s Option<Cow<'_, str>>) -> FieldValue<'s> {
    match v {
        Some(s) => FieldValue::Str(Cow::Borrowed(s.as_ref())),
        None => FieldValue::Missing,
    }
}

impl<'a> K8sAuditEvent<'a> {
    fn spec(&self) -> Option<&JVal<'a>> {
        self.request_object().and_then(|r| r.get("spec"))
    }

    fn req_keys(&self, keys: &[&str]) -> FieldValue<'_> {
        let mut v = self.request_object();
        for k in keys {
            v = v.and_then(|v| v.get(k));
        }
        v.map_or(FieldValue::Missing, json_value)
    }

    fn req_list(&self, keys: &[&str]) -> FieldValue<'_> {
        let mut v = self.request_object();
        for k in keys {
            v = v.and_then(|v| v.get(k));
        }
        match v {
            Some(JVal::Array(a)) => FieldValue::List(a.iter().map(json_text).collect()),
            _ => FieldValue::Missing,
        }
    }

    fn subjects_of_kind(&self, kind: &str, with_ns: bool) -> FieldValue<'_> {
        let Some(JVal::Array(subjects)) = self.request_object().and_then(|r| r.get("subjects"))
        else {
            return FieldValue::Missing;
        };
        let out = subjects
            .iter()
            .filter(|s| s.get("kind").and_then(JVal::as_str) == Some(kind))
            .filter_map(|s| {
                let name = s.get("name").and_then(JVal::as_str)?;
                Some(if with_ns {
                    let ns = s.get("namespace").and_then(JVal::as_str).unwrap_or("");
                    Cow::Owned(format!("{ns}:{name}"))
                } else {
                    Cow::Borrowed(name)
                })
            })
            .collect();
        FieldValue::List(out)
    }

    fn rules_field(&self, index: Option<usize>, key: &str) -> FieldValue<'_> {
        list_flatten(collect(self.request_object(), index, &["rules", key]))
    }

    fn container(&self, list: CList, attr: CAttr, index: Option<usize>) -> FieldValue<'_> {
        let spec = self.spec();
        let k = list.key();
        let sc = |leaf: &'static str| -> [&str; 3] { [k, "securityContext", leaf] };
        match attr {
            CAttr::Name => list_skip_nil(collect(spec, index, &[k, "name"])),
            CAttr::Image | CAttr::ImageRepository => {
                let Some(vals) = collect(spec, index, &[k, "image"]) else {
                    return FieldValue::Missing;
                };
                // The plugin fails the whole extraction when a container has no image.
                let mut out = Vec::with_capacity(vals.len());
                for v in vals {
                    let Some(v) = v else {
                        return FieldValue::Missing;
                    };
                    let text = json_text(v);
                    out.push(if attr == CAttr::ImageRepository {
                        match text {
                            Cow::Borrowed(b) => Cow::Borrowed(image_repository(b)),
                            Cow::Owned(o) => Cow::Owned(image_repository(&o).to_string()),
                        }
                    } else {
                        text
                    });
                }
                FieldValue::List(out)
            }
            CAttr::Command | CAttr::Args => {
                let leaf = if attr == CAttr::Command {
                    "command"
                } else {
                    "args"
                };
                match collect(spec, index, &[k, leaf]) {
                    Some(vals) => FieldValue::List(
                        vals.into_iter()
                            .flatten()
                            .map(|v| match v {
                                JVal::Array(a) => Cow::Owned(
                                    a.iter().map(json_text).collect::<Vec<_>>().join(" "),
                                ),
                                other => json_text(other),
                            })
                            .collect(),
                    ),
                    None => FieldValue::Missing,
                }
            }
            CAttr::Privileged => list_skip_nil(collect(spec, index, &sc("privileged"))),
            CAttr::AllowPrivilegeEscalation => {
                list_skip_nil(collect(spec, index, &sc("allowPrivilegeEscalation")))
            }
            CAttr::ReadOnlyFs => list_skip_nil(collect(spec, index, &sc("readOnlyRootFilesystem"))),
            CAttr::RunAsUser => list_skip_nil(collect(spec, index, &sc("runAsUser"))),
            CAttr::RunAsNonRoot => list_skip_nil(collect(spec, index, &sc("runAsNonRoot"))),
            CAttr::RunAsGroup => list_skip_nil(collect(spec, index, &sc("runAsGroup"))),
            CAttr::ProcMount => list_skip_nil(collect(spec, index, &sc("procMount"))),
            CAttr::EffRunAsUser | CAttr::EffRunAsGroup => {
                let leaf = if attr == CAttr::EffRunAsUser {
                    "runAsUser"
                } else {
                    "runAsGroup"
                };
                let pod = spec
                    .and_then(|s| s.get("securityContext"))
                    .and_then(|s| s.get(leaf))
                    .map_or(Cow::Borrowed("0"), json_text);
                match collect(spec, index, &sc(leaf)) {
                    Some(vals) => FieldValue::List(
                        vals.into_iter()
                            .map(|v| v.map_or_else(|| pod.clone(), json_text))
                            .collect(),
                    ),
                    None => match collect(spec, index, &[k]) {
                        // Containers without a securityContext at all inherit the pod's.
                        Some(c) => FieldValue::List(c.iter().map(|_| pod.clone()).collect()),
                        None => FieldValue::Missing,
                    },
                }
            }
            CAttr::AddCapabilities => list_flatten(collect(
                spec,
                index,
                &[k, "securityContext", "capabilities", "add"],
            )),
            CAttr::HostPort => {
                let Some(vals) = collect(spec, index, &[k, "ports"]) else {
                    return FieldValue::Missing;
                };
                let mut out = Vec::new();
                for ports in vals.into_iter().flatten() {
                    let JVal::Array(ports) = ports else {
                        return FieldValue::Missing;
                    };
                    for p in ports {
                        if let Some(h) = p.get("hostPort") {
                            out.push(json_text(h));
                        } else if let Some(c) = p.get("containerPort") {
                            out.push(json_text(c));
                        }
                    }
                }
                FieldValue::List(out)
            }
        }
    }

    fn extract(
        &self,
        kind: Ka,
        index: Option<usize>,
        key: Option<&str>,
        arg: &FieldArg,
    ) -> FieldValue<'_> {
        let t = &self.top;
        let oref = t.object_ref.as_ref();
        match kind {
            Ka::AuditId => opt(&t.audit_id),
            Ka::Stage => opt(&t.stage),
            Ka::AuthDecision => self.annotation("authorization.k8s.io/decision"),
            Ka::AuthReason => self.annotation("authorization.k8s.io/reason"),
            Ka::OpenshiftDecision => self.annotation("authentication.openshift.io/decision"),
            Ka::OpenshiftUsername => self.annotation("authentication.openshift.io/username"),
            Ka::ValidationFailure => {
                self.annotation("validation.policy.admission.k8s.io/validation_failure")
            }
            Ka::PodViolations => self.annotation("pod-security.kubernetes.io/audit-violations"),
            Ka::UserName => t
                .user
                .as_ref()
                .map_or(FieldValue::Missing, |u| opt(&u.username)),
            Ka::UserGroups => match self.group_list() {
                Some(v) => FieldValue::List(v.iter().map(|s| Cow::Borrowed(&**s)).collect()),
                None => FieldValue::Missing,
            },
            Ka::ImpUserName => t
                .impersonated_user
                .as_ref()
                .map_or(FieldValue::Missing, |u| opt(&u.username)),
            Ka::Verb => opt(&t.verb),
            Ka::Uri => opt(&t.request_uri),
            Ka::UriParam => {
                let (Some(uri), Some(key)) = (t.request_uri.as_deref(), key) else {
                    return FieldValue::Missing;
                };
                let Some((_, query)) = uri.split_once('?') else {
                    return FieldValue::Missing;
                };
                let query = query.split('#').next().unwrap_or(query);
                form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == key)
                    .map_or(FieldValue::Missing, |(_, v)| {
                        FieldValue::Str(Cow::Owned(v.into_owned()))
                    })
            }
            Ka::TargetName | Ka::ConfigmapName => {
                oref.map_or(FieldValue::Missing, |o| opt(&o.name))
            }
            Ka::TargetNamespace => oref.map_or(FieldValue::Missing, |o| opt(&o.namespace)),
            Ka::TargetResource => oref.map_or(FieldValue::Missing, |o| opt(&o.resource)),
            Ka::TargetSubresource => oref.map_or(FieldValue::Missing, |o| opt(&o.subresource)),
            Ka::TargetPodName => match oref {
                Some(o) if o.resource.as_deref() == Some("pods") => opt(&o.name),
                _ => FieldValue::Missing,
            },
            Ka::BindingSubjects => self.req_list(&["subjects"]),
            Ka::BindingUserNames => self.subjects_of_kind("User", false),
            Ka::BindingSaNames => self.subjects_of_kind("ServiceAccount", false),
            Ka::BindingSaNsNames => self.subjects_of_kind("ServiceAccount", true),
            Ka::BindingGroupNames => self.subjects_of_kind("Group", false),
            Ka::BindingRole => self.req_keys(&["roleRef", "name"]),
            Ka::BindingSubjectHasName => FieldValue::Str(Cow::Borrowed("true")),
            Ka::ConfigmapObj => self.req_keys(&["data"]),
            Ka::ContainerImage | Ka::ContainerImageRepository => {
                let attr = if kind == Ka::ContainerImage {
                    CAttr::Image
                } else {
                    CAttr::ImageRepository
                };
                match self.container(CList::Containers, attr, Some(0)) {
                    FieldValue::List(mut v) if !v.is_empty() => FieldValue::Str(v.swap_remove(0)),
                    _ => FieldValue::Missing,
                }
            }
            Ka::HostIpc => self.req_keys(&["spec", "hostIPC"]),
            Ka::HostNetwork | Ka::ContainerHostNetwork => self.req_keys(&["spec", "hostNetwork"]),
            Ka::HostPid => self.req_keys(&["spec", "hostPID"]),
            Ka::ContainerPrivileged => {
                match collect(
                    self.spec(),
                    None,
                    &["containers", "securityContext", "privileged"],
                ) {
                    Some(v) => {
                        let any = v.iter().flatten().any(|p| p.as_bool() == Some(true));
                        FieldValue::Str(Cow::Borrowed(if any { "true" } else { "false" }))
                    }
                    None => FieldValue::Missing,
                }
            }
            Ka::PodRunAsUser => self.req_keys(&["spec", "securityContext", "runAsUser"]),
            Ka::PodRunAsNonRoot => self.req_keys(&["spec", "securityContext", "runAsNonRoot"]),
            Ka::PodRunAsGroup => self.req_keys(&["spec", "securityContext", "runAsGroup"]),
            Ka::FsGroup => self.req_keys(&["spec", "securityContext", "fsGroup"]),
            Ka::SupplementalGroups => {
                self.req_list(&["spec", "securityContext", "supplementalGroups"])
            }
            Ka::RoleRules => self.req_list(&["rules"]),
            Ka::RoleRulesApiGroups => self.rules_field(index, "apiGroups"),
            Ka::RoleRulesNonResourceUrls => self.rules_field(index, "nonResourceURLs"),
            Ka::RoleRulesVerbs => self.rules_field(index, "verbs"),
            Ka::RoleRulesResources => self.rules_field(index, "resources"),
            Ka::ServiceType => self.req_keys(&["spec", "type"]),
            Ka::ServicePorts => list_skip_nil(collect(self.spec(), index, &["ports"])),
            Ka::VolumesHostpath => list_skip_nil(collect(
                self.spec(),
                index,
                &["volumes", "hostPath", "path"],
            )),
            Ka::VolumeHostpath => {
                let Some(vals) = collect(self.spec(), None, &["volumes", "hostPath", "path"])
                else {
                    return FieldValue::Missing;
                };
                let arg = key.unwrap_or("");
                let prefix = arg.strip_suffix('*');
                let hit = vals.into_iter().flatten().any(|v| {
                    let p = json_text(v);
                    match prefix {
                        Some(pre) => p.starts_with(pre),
                        None => p == arg,
                    }
                });
                FieldValue::Str(Cow::Borrowed(if hit { "true" } else { "false" }))
            }
            Ka::VolumesFlexvolumeDriver => list_skip_nil(collect(
                self.spec(),
                index,
                &["volumes", "flexVolume", "driver"],
            )),
            Ka::VolumesVolumeType => {
                let Some(JVal::Array(vols)) = self.spec().and_then(|s| s.get("volumes")) else {
                    return FieldValue::Missing;
                };
                let picked: Vec<&JVal<'a>> = match index {
                    Some(i) => vols.get(i).into_iter().collect(),
                    None => vols.iter().collect(),
                };
                let mut out = Vec::new();
                for v in picked {
                    out.extend(
                        v.keys()
                            .into_iter()
                            .filter(|k| *k != "name")
                            .map(Cow::Borrowed),
                    );
                }
                FieldValue::List(out)
            }
            Ka::RespName => {
                let v = self.resp_name.get_or_init(|| {
                    self.top
                        .response_object
                        .and_then(|r| jsonv::member_of_valid(r.get(), &["metadata", "name"]))
                });
                v.as_ref().map_or(FieldValue::Missing, json_value)
            }
            Ka::ResponseCode => match t.response_status.as_ref().and_then(|r| r.code) {
                Some(raw) => match raw.get().trim().parse::<i64>() {
                    Ok(n) => FieldValue::Num(n),
                    Err(_) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
                        Ok(serde_json::Value::Null) | Err(_) => FieldValue::Missing,
                        Ok(serde_json::Value::String(s)) => FieldValue::Str(Cow::Owned(s)),
                        Ok(other) => FieldValue::Str(Cow::Owned(other.to_string())),
                    },
                },
                None => FieldValue::Missing,
            },
            Ka::ResponseReason => t
                .response_status
                .as_ref()
                .map_or(FieldValue::Missing, |r| opt(&r.reason)),
            Ka::UserAgent => opt(&t.user_agent),
            Ka::SourceIps | Ka::SourceIpNet => match (self.source_ip_list(), index) {
                (Some(v), Some(i)) => match v.get(i) {
                    Some(s) => FieldValue::List(vec![Cow::Borrowed(&**s)]),
                    None => FieldValue::Missing,
                },
                (Some(v), None) => {
                    FieldValue::List(v.iter().map(|s| Cow::Borrowed(&**s)).collect())
                }
                (None, _) => FieldValue::Missing,
            },
            Ka::ClusterName => match &self.cluster {
                Some(c) => FieldValue::Str(Cow::Borrowed(c)),
                None => FieldValue::Missing,
            },
            Ka::Container(list, attr) => self.container(list, attr, index),
            Ka::JevtTime | Ka::EvtTime => {
                FieldValue::Str(Cow::Owned(util::format_time(self.timestamp)))
            }
            Ka::JevtTimeIso | Ka::EvtTimeIso => {
                FieldValue::Str(Cow::Owned(util::format_iso8601(self.timestamp)))
            }
            Ka::JevtRawtime | Ka::EvtRawtime => FieldValue::Num(self.timestamp),
            Ka::JevtValue => match arg {
                FieldArg::Pointer(p) => self.pointer(p),
                _ => FieldValue::Missing,
            },
            Ka::JevtObj => FieldValue::Str(Cow::Borrowed(self.raw)),
            Ka::EvtSource => FieldValue::Str(Cow::Borrowed(K8S_AUDIT_SOURCE)),
        }
    }
}

/// The benchmark mix (shared with the benches), for the scan's agreement test.
#[cfg(test)]
#[path = "../benches/common/mix.rs"]
mod mix;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// What both readings of one text give: the scan's answer must be serde's whenever it
    /// gives one, and it must give none for text serde rejects.
    fn agree(text: &str) -> bool {
        let fast = scan::top(text).map(|t| format!("{t:?}"));
        let slow = serde_json::from_str::<Top<'_>>(text).map(|t| format!("{t:?}"));
        match (&fast, &slow) {
            (Some(f), Ok(s)) => assert_eq!(f, s, "{text}"),
            (Some(_), Err(e)) => panic!("scan accepted what serde rejects ({e}): {text}"),
            (None, _) => {}
        }
        fast.is_some()
    }

    #[test]
    fn fast_and_serde_paths_agree() {
        let mut texts: Vec<String> = vec![
            r#"{"auditID":"1","verb":"get","user":{"username":"a\"b","groups":["x"]},"stage":null}"#.into(),
            r#"{"auditID":"1","verb":"get","verb":"list"}"#.into(),
            r#"{"auditID":"1","objectRef":["pods"],"responseStatus":{"code":403,"message":"no \"x\""}}"#.into(),
            r#"{"auditID":"1","requestObject":null,"responseObject":{"metadata":{"name":"p"}},"annotations":{}}"#.into(),
            r#"{"auditID":"1","requestObject":{"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"image":"x"}]}}}"#.into(),
            r#" {"auditID" : "1" , "level":"Metadata", "n": -1.5e3, "t": true, "u\u0073er": {} } "#.into(),
            r#"{"auditID":"1","verb":5}"#.into(),
            r#"{"auditID":"1","sourceIPs":[],"user":{"groups":["a\"b", "c"]},"responseStatus":{"code":"200"}}"#.into(),
            r#"{"auditID":"1","sourceIPs":[ "10.0.0.1" , "::1" ],"responseStatus":{"code":-1.5E+3}}"#.into(),
            r#"{"auditID":"1","sourceIPs":["x",1,null],"responseStatus":{"code":01}}"#.into(),
            r#"{"auditID":"1","responseStatus":{"code":2.},"requestObject":null,"responseObject":null}"#.into(),
            r#"{"auditID":"1","requestObject":null,"requestObject":null}"#.into(),
            "{\"auditID\":\"1\",\"verb\":\"g\u{7}et\"}".into(),
            r#"{"auditID":"1","deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#.into(),
        ];
        let hand = texts.len();
        let corpus = palisade_testkit::corpus("runtime")
            .and_then(|r| r.parent().map(std::path::Path::to_path_buf));
        if let Some(root) = corpus {
            let m = mix::Mix::from_corpus(&root);
            for i in 0..400 {
                let mut b = Vec::new();
                m.write_event(i, &mut b);
                texts.push(String::from_utf8(b).unwrap().trim().to_string());
            }
        }
        for t in &texts[..hand] {
            agree(t);
        }
        // The generated events are the common shapes: all of those without request or
        // response objects (which serde reads in place) take the scan.
        let (mut fast, mut plain) = (0, 0);
        for t in &texts[hand..] {
            let objects = t.contains("\"requestObject\"") || t.contains("\"responseObject\"");
            plain += usize::from(!objects);
            fast += usize::from(agree(t) && !objects);
        }
        assert_eq!(fast, plain, "{fast} of {plain} read by the scan");
        // Damaged copies: cut short, or one byte replaced by a structural one.
        for t in texts.iter().step_by(7).take(40) {
            let b = t.as_bytes();
            for cut in (0..b.len()).step_by(3) {
                if let Some(prefix) = t.get(..cut) {
                    agree(prefix);
                }
            }
            for at in (0..b.len()).step_by(2) {
                for with in [b'"', b'\\', b'}', b']', b',', b':', 0x01, b'n', b'{', b' '] {
                    let mut d = b.to_vec();
                    d[at] = with;
                    if let Ok(d) = String::from_utf8(d) {
                        agree(&d);
                    }
                }
            }
        }
    }

    fn get(ev: &K8sAuditEvent<'_>, name: &str, arg: Option<&str>) -> String {
        let f = k8s_audit_registry().resolve(name, arg).unwrap();
        ev.field(&f).to_string()
    }

    #[test]
    fn metadata_strings_borrow_from_the_input_unless_escaped() {
        let ev = K8sAuditEvent::parse(
            r#"{"auditID":"1","verb":"get","requestURI":"/api/v1/pods?a=1\u0026b=2",
            "user":{"username":"alice"},"objectRef":{"resource":"pods","name":"p"}}"#,
        )
        .unwrap();
        assert!(matches!(ev.top.verb, Some(Cow::Borrowed("get"))));
        assert!(matches!(
            ev.top.user.as_ref().and_then(|u| u.username.as_ref()),
            Some(Cow::Borrowed("alice"))
        ));
        assert!(matches!(
            ev.top.object_ref.as_ref().and_then(|o| o.resource.as_ref()),
            Some(Cow::Borrowed("pods"))
        ));
        assert_eq!(ev.request_uri(), Some("/api/v1/pods?a=1&b=2"));
        assert_eq!(get(&ev, "ka.verb", None), "get");
    }

    #[test]
    fn repository_of_images() {
        assert_eq!(image_repository("nginx"), "nginx");
        assert_eq!(image_repository("nginx:1.25"), "nginx");
        assert_eq!(
            image_repository("docker.io/falcosecurity/falco:0.37"),
            "docker.io/falcosecurity/falco"
        );
        assert_eq!(image_repository("registry:5000/app:1"), "registry:5000/app");
        assert_eq!(image_repository("busybox@sha256:abc"), "busybox");
    }

    #[test]
    fn extracts_metadata_and_pod_fields() {
        let json = r#"{
          "kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse",
          "auditID":"a1","stage":"ResponseComplete","verb":"create",
          "requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh\u0026command=-c\u0026container=c",
          "user":{"username":"alice","groups":["dev","system:authenticated"]},
          "sourceIPs":["10.0.0.1","10.0.0.2"],"userAgent":"kubectl/v1.29",
          "objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1"},
          "responseStatus":{"metadata":{},"code":201},
          "requestObject":{"kind":"Pod","spec":{
             "hostNetwork":true,
             "securityContext":{"runAsUser":1000},
             "volumes":[{"name":"v","hostPath":{"path":"/etc","type":""}},{"name":"e","emptyDir":{}}],
             "containers":[
               {"name":"a","image":"nginx:1.25","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN","SYS_TIME"]}},
                "ports":[{"containerPort":80,"hostPort":8080}],"command":["sh","-c","sleep 1"]},
               {"name":"b","image":"registry:5000/app@sha256:x","securityContext":{"runAsUser":0}}],
             "initContainers":[{"name":"i","image":"busybox","securityContext":{"privileged":false}}]}},
          "annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC"},
          "stageTimestamp":"2024-05-01T10:00:00.5Z"
        }"#;
        let ev = K8sAuditEvent::parse(json)
            .unwrap()
            .with_cluster_name("prod");
        assert_eq!(get(&ev, "ka.verb", None), "create");
        assert_eq!(
            get(&ev, "ka.user.groups", None),
            "(dev,system:authenticated)"
        );
        assert_eq!(get(&ev, "ka.sourceips", None), "(10.0.0.1,10.0.0.2)");
        assert_eq!(get(&ev, "ka.sourceips", Some("1")), "(10.0.0.2)");
        assert_eq!(get(&ev, "ka.uri.param", Some("command")), "sh");
        assert_eq!(get(&ev, "ka.uri.param", Some("container")), "c");
        assert_eq!(get(&ev, "ka.response.code", None), "201");
        assert_eq!(get(&ev, "ka.auth.decision", None), "allow");
        assert_eq!(get(&ev, "ka.req.pod.host_network", None), "true");
        assert_eq!(get(&ev, "ka.req.pod.host_pid", None), "<NA>");
        assert_eq!(get(&ev, "ka.req.pod.containers.privileged", None), "(true)");
        assert_eq!(get(&ev, "ka.req.container.privileged", None), "true");
        assert_eq!(
            get(&ev, "ka.req.pod.initContainers.privileged", None),
            "(false)"
        );
        assert_eq!(
            get(&ev, "ka.req.pod.containers.image", Some("1")),
            "(registry:5000/app@sha256:x)"
        );
        assert_eq!(
            get(&ev, "ka.req.pod.containers.image.repository", None),
            "(nginx,registry:5000/app)"
        );
        assert_eq!(get(&ev, "ka.req.container.image", None), "nginx:1.25");
        assert_eq!(
            get(&ev, "ka.req.pod.containers.add_capabilities", None),
            "(NET_ADMIN,SYS_TIME)"
        );
        assert_eq!(get(&ev, "ka.req.pod.containers.host_port", None), "(8080)");
        assert_eq!(
            get(&ev, "ka.req.pod.containers.command", None),
            "(sh -c sleep 1)"
        );
        assert_eq!(
            get(&ev, "ka.req.pod.containers.eff_run_as_user", None),
            "(1000,0)"
        );
        assert_eq!(get(&ev, "ka.req.pod.volumes.hostpath", None), "(/etc)");
        assert_eq!(get(&ev, "ka.req.volume.hostpath", Some("/et*")), "true");
        assert_eq!(get(&ev, "ka.req.volume.hostpath", Some("/var")), "false");
        assert_eq!(
            get(&ev, "ka.req.pod.volumes.volume_type", None),
            "(hostPath,emptyDir)"
        );
        assert_eq!(get(&ev, "ka.target.pod.name", None), "p");
        assert_eq!(get(&ev, "ka.cluster.name", None), "prod");
        assert_eq!(get(&ev, "jevt.value", Some("/stage")), "ResponseComplete");
        assert_eq!(get(&ev, "jevt.value", Some("/level")), "RequestResponse");
        assert_eq!(
            get(
                &ev,
                "jevt.value",
                Some("/requestObject/spec/containers/0/name")
            ),
            "a"
        );
        assert_eq!(
            get(&ev, "jevt.value", Some("/objectRef")),
            r#"{"apiVersion":"v1","name":"p","namespace":"default","resource":"pods"}"#
        );
        assert_eq!(
            get(&ev, "jevt.time.iso8601", None),
            "2024-05-01T10:00:00.500000000Z"
        );
        assert_eq!(get(&ev, "evt.time", None), "10:00:00.500000000");
        assert!(get(&ev, "jevt.obj", None).starts_with('{'));
    }

    #[test]
    fn pruned_parts_are_read_from_the_whole_event() {
        let json = r#"{"auditID":"1","verb":"create","objectRef":{"resource":"pods"},
            "requestObject":{"metadata":{"name":"p","managedFields":[{"manager":"m"}]},
                "spec":{"hostNetwork":true},"status":{"phase":"Pending"}},
            "responseObject":{"status":{"phase":"Running"},"metadata":{"name":"p-resp"}}}"#;
        let ev = K8sAuditEvent::parse(json).unwrap();
        assert_eq!(get(&ev, "ka.req.pod.host_network", None), "true");
        assert_eq!(get(&ev, "ka.resp.name", None), "p-resp");
        assert_eq!(
            get(&ev, "jevt.value", Some("/requestObject/status/phase")),
            "Pending"
        );
        assert_eq!(
            get(&ev, "jevt.value", Some("/responseObject/status/phase")),
            "Running"
        );
        assert_eq!(
            get(
                &ev,
                "jevt.value",
                Some("/requestObject/metadata/managedFields/0/manager")
            ),
            "m"
        );
        assert_eq!(
            get(&ev, "jevt.value", Some("/requestObject")),
            r#"{"metadata":{"managedFields":[{"manager":"m"}],"name":"p"},"spec":{"hostNetwork":true},"status":{"phase":"Pending"}}"#
        );
        assert_eq!(
            get(&ev, "jevt.value", Some("/requestObject/spec/hostNetwork")),
            "true"
        );
        assert_eq!(
            get(&ev, "jevt.value", Some("/requestObject/metadata/name")),
            "p"
        );
        let none = K8sAuditEvent::parse(r#"{"auditID":"1","responseObject":null}"#).unwrap();
        assert_eq!(get(&none, "ka.resp.name", None), "<NA>");
    }

    #[test]
    fn string_lists_scan_like_serde() {
        for text in [
            r#"["10.0.0.1"]"#,
            r#"[ "a" , "b:c d",""]"#,
            "[]",
            " [ ] ",
            "[\n\"x\"\n]",
            r#"["a\"b","c"]"#,
            r#"["é\u0041"]"#,
            r#"["a",1]"#,
            r#"[null]"#,
            r#"{"a":"b"}"#,
            r#""a""#,
            "null",
        ] {
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            let serde: Option<Vec<String>> = serde_json::from_str(text).ok();
            let ours: Option<Vec<String>> = str_list(Some(Raw(raw.get())))
                .map(|v| v.into_iter().map(Cow::into_owned).collect());
            assert_eq!(ours, serde, "{text}");
        }
    }

    #[test]
    fn rejects_non_events() {
        assert!(matches!(
            K8sAuditEvent::parse("{}"),
            Err(AuditEventError::NotAnEvent)
        ));
        assert!(matches!(
            K8sAuditEvent::parse("[1"),
            Err(AuditEventError::Json(_))
        ));
    }
}
