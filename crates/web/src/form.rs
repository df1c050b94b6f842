//! Form and query-string input: `application/x-www-form-urlencoded` parsed
//! into name/value pairs (repeated names kept, e.g. checkbox lists), with
//! lookups that never fail, so bad input becomes a validation message and
//! never a panic.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::i18n::Lang;
use crate::state::AppState;
use crate::view;

/// Parsed name/value pairs of a form body or a query string.
#[derive(Clone, Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses `a=1&b=2` (percent-decoding, `+` as space; invalid UTF-8 is
    /// replaced, never refused).
    pub fn parse(bytes: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The members of a JSON object as fields, so the API checks input with
    /// the same rules as the forms: strings, numbers and booleans become
    /// values (`true`/`false` as checkbox `1`/`0`), arrays repeated names,
    /// `null` nothing. Anything else is refused with the member's name.
    pub fn from_json(v: &serde_json::Value) -> Result<Fields, String> {
        use serde_json::Value;
        let Value::Object(map) = v else {
            return Err("the body must be a JSON object".into());
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
            _ => None,
        };
        let mut out = Vec::new();
        for (k, v) in map {
            match v {
                Value::Null => {}
                Value::Array(items) => {
                    for item in items {
                        let s = scalar(item).ok_or_else(|| k.clone())?;
                        out.push((k.clone(), s));
                    }
                }
                other => out.push((k.clone(), scalar(other).ok_or_else(|| k.clone())?)),
            }
        }
        Ok(Fields(out))
    }

    /// Adds `name=value` (e.g. a default the API does not ask for).
    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_string(), value.to_string()));
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn text(&self, name: &str) -> String {
        self.raw(name).trim().to_string()
    }

    /// The first value of `name`, untrimmed (passwords); `""` when absent.
    pub fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Whether a checkbox `name` was ticked (present with a value other
    /// than `0`, `false`, `off`).
    pub fn flag(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && !matches!(v.as_str(), "0" | "false" | "off" | ""))
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every value of `name` that is an integer id; `Err(value)` for the
    /// first one that is not.
    pub fn ids(&self, name: &str) -> Result<Vec<i64>, String> {
        self.all(name)
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(|v| v.trim().parse::<i64>().map_err(|_| v))
            .collect()
    }
}

/// A form body (extractor). Wrong content type or an oversized body gets
/// a 4xx, never a panic.
#[derive(Clone, Debug, Default)]
pub struct Form(pub Fields);

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let api = crate::auth::is_api(req.uri().path());
        let lang = Lang::from_headers(req.headers());
        let ok_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !ok_type {
            return Err(if api {
                view::api_error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send application/x-www-form-urlencoded",
                    None,
                )
            } else {
                view::error_page(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    lang,
                    None,
                    "error.bad_form",
                )
            });
        }
        let limit = state.settings().max_form_bytes;
        match axum::body::to_bytes(req.into_body(), limit).await {
            Ok(bytes) => Ok(Form(Fields::parse(&bytes))),
            Err(_) => Err(if api {
                view::api_error(StatusCode::PAYLOAD_TOO_LARGE, "form too large", None)
            } else {
                view::error_page(StatusCode::PAYLOAD_TOO_LARGE, lang, None, "error.too_large")
                    .into_response()
            }),
        }
    }
}

/// The query string (extractor); a missing query is empty.
#[derive(Clone, Debug, Default)]
pub struct QueryFields(pub Fields);

impl<S: Send + Sync> FromRequestParts<S> for QueryFields {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryFields(Fields::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
        )))
    }
}

/// Percent-encodes `s` for a query-string value.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Validation messages by field name (message keys of the catalog).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Errors(pub BTreeMap<String, String>);

impl Errors {
    /// Records message `key` for `field` (the first one wins).
    pub fn add(&mut self, field: &str, key: &str) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| key.to_string());
    }

    /// Whether no field has an error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_and_odd_input() {
        let f =
            Fields::parse(b"a=1&grant=x%3Ay&grant=z&b=+two+&flag=on&off=0&bad=%ZZ&%FF=v&id=3&id=x");
        assert_eq!(f.text("a"), "1");
        assert_eq!(f.text("b"), "two");
        assert_eq!(f.raw("b"), " two ");
        assert_eq!(f.all("grant"), ["x:y", "z"]);
        assert!(f.flag("flag"));
        assert!(!f.flag("off"));
        assert!(!f.flag("missing"));
        assert_eq!(f.text("missing"), "");
        assert_eq!(f.text("bad"), "%ZZ");
        assert_eq!(f.ids("id"), Err("x".to_string()));
        assert_eq!(Fields::parse(b"id=1&id=&id=2").ids("id"), Ok(vec![1, 2]));
        assert_eq!(encode("/users?q=a b&x=1"), "%2Fusers%3Fq%3Da+b%26x%3D1");
        let j = serde_json::json!({"name": " x ", "n": 3, "on": true, "off": false, "ids": [1, "2"], "gone": null});
        let f = Fields::from_json(&j).unwrap();
        assert_eq!((f.text("name"), f.text("n")), ("x".into(), "3".into()));
        assert!(f.flag("on") && !f.flag("off"));
        assert_eq!(f.ids("ids"), Ok(vec![1, 2]));
        assert_eq!(f.text("gone"), "");
        assert_eq!(
            Fields::from_json(&serde_json::json!({"bad": {"x": 1}})).unwrap_err(),
            "bad"
        );
        assert!(Fields::from_json(&serde_json::json!([1])).is_err());
    }
}
