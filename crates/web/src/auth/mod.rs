//! Who is asking, and may they: sessions, API tokens, CSRF and permission
//! checks, as middleware that every protected route goes through.
//!
//! Order of the layers on protected routes (outermost first):
//! 1. [`authenticate`]: a session cookie (pages and API) or an
//!    `Authorization: Bearer` token (API only) becomes an [`Identity`] in
//!    the request's extensions; without one, pages redirect to the sign-in
//!    page (`?next=` the page asked for) and the API answers 401. A session
//!    whose user must change their password is sent to `/password`.
//! 2. [`csrf`]: state-changing requests of a session must carry its
//!    synchronizer token (form field `csrf` or header `X-CSRF-Token`;
//!    a `multipart/form-data` upload carries it as `?csrf=` in its URL).
//! 3. [`require`]: the route's permission (per route group), else 403.

pub mod password;
pub mod permissions;
pub mod throttle;
pub mod token;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

use crate::i18n::Lang;
use crate::state::AppState;
use crate::view;
use permissions::{Grants, Permission};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
/// Form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Header carrying the CSRF token (for scripts using a session).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Sessions are marked as used at most this often (milliseconds), so
/// reading pages does not write to the database on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How a request proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A browser session.
    Session {
        /// The session's id (digest of the cookie).
        id: String,
        /// The synchronizer token of its forms.
        csrf: String,
    },
    /// An API token.
    Token {
        /// The token's id.
        id: i64,
    },
}

/// The signed-in user of a request.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The user.
    pub user: store::User,
    /// What the user may do.
    pub grants: Grants,
    /// Session or token.
    pub via: Via,
}

impl Identity {
    /// Whether the user holds `p`.
    pub fn allows(&self, p: Permission) -> bool {
        self.grants.allows(p)
    }

    /// The CSRF token of a session (`None` for API tokens).
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            Via::Token { .. } => None,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Identity>().cloned().ok_or_else(|| {
            // Only reachable for a handler mounted outside `authenticate`.
            StatusCode::UNAUTHORIZED.into_response()
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// The client's address, or `unknown` when the server was not given
/// connection info (router tests).
pub fn client_ip(req_extensions: &axum::http::Extensions) -> String {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether `path` is an API path (JSON errors, bearer tokens).
pub fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// `next` if it is a local path (`/...`, not `//host` or `/\host`, no
/// control characters), else `/`. Guards the sign-in redirect against
/// sending users to another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\')
                && n.len() <= 2000 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Current time, unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Starts a session for `user_id`; returns the `Set-Cookie` value.
pub async fn start_session(
    state: &AppState,
    user_id: i64,
    ip: &str,
    user_agent: &str,
) -> anyhow::Result<(String, store::Session)> {
    let secret = token::random_hex()?;
    let now = now_ms();
    let absolute = state.settings().session_absolute;
    let session = store::Session {
        id: token::digest(&secret),
        user_id,
        csrf_token: token::random_hex()?,
        created_at: now,
        last_seen_at: now,
        expires_at: now.saturating_add(i64::try_from(absolute.as_millis()).unwrap_or(i64::MAX)),
        ip: ip.to_string(),
        user_agent: user_agent.chars().take(300).collect(),
    };
    state.store().create_session(&session).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        absolute.as_secs()
    );
    Ok((cookie, session))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The user of a live session cookie, if any. Expired sessions are deleted.
pub async fn session_identity(
    state: &AppState,
    headers: &HeaderMap,
) -> anyhow::Result<Option<Identity>> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if secret.is_empty() || secret.len() > 128 {
        return Ok(None);
    }
    let id = token::digest(&secret);
    let store = state.store();
    let Some(session) = store.get_session(&id).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let idle_ms = i64::try_from(state.settings().session_idle.as_millis()).unwrap_or(i64::MAX);
    if now >= session.expires_at || now.saturating_sub(session.last_seen_at) > idle_ms {
        store.delete_session(&id).await?;
        return Ok(None);
    }
    let Some(user) = store.get_user(session.user_id).await? else {
        return Ok(None);
    };
    if !user.enabled {
        return Ok(None);
    }
    if now - session.last_seen_at > TOUCH_EVERY_MS {
        store.touch_session(&id, now).await?;
    }
    let grants = grants_of(state, &user).await?;
    Ok(Some(Identity {
        user,
        grants,
        via: Via::Session {
            id,
            csrf: session.csrf_token,
        },
    }))
}

/// The user of an `Authorization: Bearer` token. `Err(message)` for a
/// header that is present but not a valid token.
async fn token_identity(
    state: &AppState,
    headers: &HeaderMap,
) -> anyhow::Result<Result<Option<Identity>, &'static str>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Ok(None));
    };
    let Some(secret) = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
    else {
        return Ok(Err("the Authorization header must be 'Bearer <token>'"));
    };
    let store = state.store();
    let Some(tok) = store.find_api_token(&token::digest(secret)).await? else {
        return Ok(Err("unknown or revoked API token"));
    };
    let Some(user) = store.get_user(tok.user_id).await? else {
        return Ok(Err("unknown or revoked API token"));
    };
    if !user.enabled {
        return Ok(Err("the token's user is disabled"));
    }
    let now = now_ms();
    if tok.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
        store.touch_api_token(tok.id, now).await?;
    }
    let grants = grants_of(state, &user).await?;
    Ok(Ok(Some(Identity {
        user,
        grants,
        via: Via::Token { id: tok.id },
    })))
}

/// What `user` may do.
async fn grants_of(state: &AppState, user: &store::User) -> anyhow::Result<Grants> {
    Ok(Grants {
        admin: user.is_admin,
        keys: if user.is_admin {
            Default::default()
        } else {
            state
                .store()
                .user_grants(user.id)
                .await?
                .into_iter()
                .collect()
        },
    })
}

/// Paths a user who must change their password may still use.
fn allowed_before_password_change(path: &str) -> bool {
    matches!(path, "/password" | "/logout")
}

/// Middleware: resolves the [`Identity`] of the request or refuses it.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let api = is_api(&path);
    let lang = Lang::from_headers(req.headers());
    let found = if api && req.headers().contains_key(header::AUTHORIZATION) {
        match token_identity(&state, req.headers()).await {
            Ok(Ok(found)) => found,
            Ok(Err(why)) => return view::api_error(StatusCode::UNAUTHORIZED, why, None),
            Err(e) => return view::internal_error(api, lang, &e),
        }
    } else {
        match session_identity(&state, req.headers()).await {
            Ok(found) => found,
            Err(e) => return view::internal_error(api, lang, &e),
        }
    };
    let Some(identity) = found else {
        if api {
            return view::api_error(
                StatusCode::UNAUTHORIZED,
                "sign in or send 'Authorization: Bearer <token>'",
                None,
            );
        }
        let wanted = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let next = if req.method() == Method::GET {
            wanted
        } else {
            "/".into()
        };
        let mut location = "/login".to_string();
        if next != "/" {
            location = format!("/login?next={}", crate::form::encode(&next));
        }
        return Redirect::to(&location).into_response();
    };
    if matches!(identity.via, Via::Session { .. })
        && identity.user.must_change_password
        && !allowed_before_password_change(&path)
    {
        if api {
            return view::api_error(
                StatusCode::FORBIDDEN,
                "you must change your password first (/password)",
                None,
            );
        }
        return Redirect::to("/password").into_response();
    }
    let username = identity.user.username.clone();
    req.extensions_mut().insert(identity);
    let mut resp = next.run(req).await;
    // For the audit log, which runs outside this layer.
    resp.extensions_mut()
        .insert(crate::audit::AuditUser(username));
    resp
}

/// Middleware: state-changing requests made with a session must carry the
/// session's CSRF token, in the `csrf` form field or the `X-CSRF-Token`
/// header (file uploads, whose body is not read here: `?csrf=` in the
/// URL). Requests authenticated by an API token carry no ambient
/// credentials and are exempt.
pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(expected) = req
        .extensions()
        .get::<Identity>()
        .and_then(|i| i.csrf().map(str::to_string))
    else {
        return next.run(req).await;
    };
    let api = is_api(req.uri().path());
    let lang = Lang::from_headers(req.headers());
    let refuse = |lang: Lang| {
        if api {
            view::api_error(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (send the X-CSRF-Token header)",
                None,
            )
        } else {
            view::error_page(StatusCode::FORBIDDEN, lang, None, "error.csrf")
        }
    };
    if let Some(sent) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if token::constant_time_eq(sent, &expected) {
            next.run(req).await
        } else {
            refuse(lang)
        };
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        // File uploads: the body is not read here (it may be large); the
        // form's action carries the token as `?csrf=`.
        let sent = form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned());
        return match sent {
            Some(sent) if token::constant_time_eq(&sent, &expected) => next.run(req).await,
            _ => refuse(lang),
        };
    }
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    if !is_form {
        return refuse(lang);
    }
    let (parts, body) = req.into_parts();
    let limit = state.settings().max_form_bytes;
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return if api {
                view::api_error(StatusCode::PAYLOAD_TOO_LARGE, "form too large", None)
            } else {
                view::error_page(StatusCode::PAYLOAD_TOO_LARGE, lang, None, "error.too_large")
            }
        }
    };
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    match sent {
        Some(sent) if token::constant_time_eq(&sent, &expected) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        _ => refuse(lang),
    }
}

/// `routes` guarded by permission `p`: a request whose [`Identity`] does
/// not hold it gets 403 (page or JSON). Every protected route is mounted
/// through this function, with the permission next to the route table.
pub fn require(p: Permission, routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(axum::middleware::from_fn(
        move |req: Request, next: Next| check(p, req, next),
    ))
}

/// `routes` for call-center agents (users with the agent flag) and
/// administrators only; others get 403 like [`require`].
pub fn require_agent(routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(axum::middleware::from_fn(
        |req: Request, next: Next| async {
            let allowed = req
                .extensions()
                .get::<Identity>()
                .map(|i| i.user.is_agent || i.user.is_admin);
            match allowed {
                Some(true) => next.run(req).await,
                Some(false) => {
                    let lang = Lang::from_headers(req.headers());
                    let identity = req.extensions().get::<Identity>().cloned();
                    view::error_page(
                        StatusCode::FORBIDDEN,
                        lang,
                        identity.as_ref(),
                        "error.forbidden",
                    )
                }
                None => Redirect::to("/login").into_response(),
            }
        },
    ))
}

pub(crate) async fn check(p: Permission, req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    let lang = Lang::from_headers(req.headers());
    let allowed = req.extensions().get::<Identity>().map(|i| i.allows(p));
    match allowed {
        Some(true) => next.run(req).await,
        Some(false) => {
            if api {
                view::api_error(
                    StatusCode::FORBIDDEN,
                    &format!("permission {} required", p.key()),
                    None,
                )
            } else {
                let identity = req.extensions().get::<Identity>().cloned();
                view::error_page(
                    StatusCode::FORBIDDEN,
                    lang,
                    identity.as_ref(),
                    "error.forbidden",
                )
            }
        }
        None => {
            if api {
                view::api_error(StatusCode::UNAUTHORIZED, "not signed in", None)
            } else {
                Redirect::to("/login").into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next(Some("/users?page=2")), "/users?page=2");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/a\r\nSet-Cookie: x")), "/");
        assert_eq!(safe_next(Some("")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; sb_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&h, "missing"), None);
        h.insert(header::COOKIE, "garbage;;=;x".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }
}
