//! Our own CSS and JavaScript, embedded in the binary and served under
//! `/assets/` with an `ETag` and a cache lifetime. Pages link them with
//! `?v=<digest>`, so a new build is fetched at once despite the cache.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/app.js"),
    },
    Asset {
        name: "desk.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/desk.js"),
    },
    Asset {
        name: "phone.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/phone.js"),
    },
    // npm's JsSIP, bundled unmodified (tests/browser/jssip.rs checks it).
    Asset {
        name: "vendor-jssip.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/vendor/jssip.js"),
    },
];

/// A digest of all assets (16 hex digits): the `?v=` of their links and
/// their `ETag`.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let all: String = ASSETS.iter().map(|a| a.body).collect();
        crate::auth::token::digest(&all)[..16].to_string()
    })
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", version());
    let cache = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body,
    )
        .into_response()
}
