//! Sign-in, sign-out, changing one's own password, and the language switch.

use std::time::{Duration, Instant};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::{self, password, Identity, Via};
use crate::form::{Errors, Form, QueryFields};
use crate::i18n::{Lang, LANG_COOKIE};
use crate::metrics::WebMetrics;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Longest username accepted anywhere.
pub const MAX_USERNAME: usize = 64;

/// `GET /login`: the sign-in form (a signed-in user goes straight on).
pub async fn form(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    QueryFields(q): QueryFields,
) -> Response {
    let next = auth::safe_next(
        Some(&q.text("next"))
            .filter(|n| !n.is_empty())
            .map(|s| s.as_str()),
    );
    if let Ok(Some(_)) = auth::session_identity(&state, &headers).await {
        return Redirect::to(&next).into_response();
    }
    login_page(
        &ctx,
        StatusCode::OK,
        context! { next => next, username => "", errors => Errors::default(), signed_out => q.flag("signed_out") },
    )
}

/// Name of the cookie holding the sign-in form's CSRF token. There is no
/// session yet, so the form is protected by double submission: the token
/// is in this cookie and in the form, and both must match.
pub const LOGIN_CSRF_COOKIE: &str = "sb_login";

/// Renders the sign-in page with a fresh CSRF token (cookie and field).
fn login_page(ctx: &PageCtx, status: StatusCode, extra: minijinja::Value) -> Response {
    let token = match auth::token::random_hex() {
        Ok(t) => t,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    let cookie = format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Lax");
    let page = ctx.render_status(
        status,
        "login.html",
        minijinja::value::merge_maps([extra, context! { csrf => token }]),
    );
    ([(header::SET_COOKIE, cookie)], page).into_response()
}

/// Minutes to show for a wait, rounded up (at least 1).
fn minutes(wait: Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

/// `POST /login`: checks the throttle, then the password; on success starts
/// a session and goes to `next` (or to the password page if it must change).
pub async fn submit(State(state): State<AppState>, ctx: PageCtx, req: Request) -> Response {
    let ip = auth::client_ip(req.extensions());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let login_cookie = auth::cookie(req.headers(), LOGIN_CSRF_COOKIE).unwrap_or_default();
    let Form(f) =
        match <Form as axum::extract::FromRequest<AppState>>::from_request(req, &state).await {
            Ok(f) => f,
            Err(resp) => return resp,
        };
    let username = f.text("username");
    let secret = f.raw("password");
    let next = auth::safe_next(Some(f.text("next").as_str()).filter(|n| !n.is_empty()));
    let again = |status: StatusCode, errors: Errors, failed: bool, throttled: Option<u64>| {
        login_page(
            &ctx,
            status,
            context! {
                next => next.clone(), username => username.clone(), errors => errors,
                failed => failed, throttled_minutes => throttled,
            },
        )
    };
    let mut errors = Errors::default();
    let sent = f.text(auth::CSRF_FIELD);
    if login_cookie.is_empty() || !auth::token::constant_time_eq(&sent, &login_cookie) {
        errors.add("_form", "login.form_expired");
        return again(StatusCode::FORBIDDEN, errors, false, None);
    }
    if username.is_empty() || username.chars().count() > MAX_USERNAME {
        errors.add("username", "form.required");
    }
    if secret.is_empty() || secret.len() > password::MAX_LENGTH {
        errors.add("password", "form.required");
    }
    if !errors.is_empty() {
        return again(StatusCode::BAD_REQUEST, errors, false, None);
    }
    let now = Instant::now();
    if let Err(wait) = state.throttle().check(&username, &ip, now) {
        WebMetrics::inc(&state.metrics().login_throttled);
        tracing::debug!(username, ip, "sign-in refused by the throttle");
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            errors,
            false,
            Some(minutes(wait)),
        );
    }
    let creds = match state.store().user_credentials(&username).await {
        Ok(c) => c,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let (user, hash) = match creds {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = password::verify_async(secret, hash).await;
    let user = match user {
        Some(u) if ok && u.enabled => u,
        _ => {
            let locked = state.throttle().failure(&username, &ip, Instant::now());
            WebMetrics::inc(&state.metrics().login_failures);
            tracing::info!(username, ip, "failed sign-in");
            return match locked {
                Err(wait) => again(
                    StatusCode::TOO_MANY_REQUESTS,
                    errors,
                    false,
                    Some(minutes(wait)),
                ),
                Ok(()) => again(StatusCode::UNAUTHORIZED, errors, true, None),
            };
        }
    };
    state.throttle().success(&username, &ip);
    purge_expired_sessions(&state).await;
    let cookie = match auth::start_session(&state, user.id, &ip, &user_agent).await {
        Ok((cookie, _)) => cookie,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    tracing::info!(username, ip, "signed in");
    let to = if user.must_change_password {
        "/password".to_string()
    } else {
        next
    };
    ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
}

/// Deletes sessions past their idle or absolute limit (abandoned ones are
/// never presented again, so they are swept here, at each sign-in).
async fn purge_expired_sessions(state: &AppState) {
    let now = auth::now_ms();
    let idle = i64::try_from(state.settings().session_idle.as_millis()).unwrap_or(i64::MAX);
    if let Err(e) = state
        .store()
        .purge_sessions(now.saturating_sub(idle), now)
        .await
    {
        tracing::warn!("deleting expired sessions: {e}");
    }
}

/// `POST /logout`: ends the session.
pub async fn logout(State(state): State<AppState>, identity: Identity) -> Response {
    if let Via::Session { id, .. } = &identity.via {
        if let Err(e) = state.store().delete_session(id).await {
            tracing::warn!("signing out: {e}");
        }
    }
    (
        [(header::SET_COOKIE, auth::clear_session_cookie())],
        Redirect::to("/login?signed_out=1"),
    )
        .into_response()
}

/// `GET /password`: the change-password form.
pub async fn password_form(
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    ctx.render(
        "password.html",
        context! {
            errors => Errors::default(),
            must_change => identity.user.must_change_password,
            saved => q.flag("saved"),
        },
    )
}

/// Checks a new password against the rules (length, not common, not like
/// `username`: [`password::weakness`]); adds errors under `field` and
/// `confirm_field`. Every place a web password is set calls this: the
/// forced and voluntary change, user creation (page and API) and an
/// administrator's reset.
pub fn check_new_password(
    errors: &mut Errors,
    new: &str,
    confirm: &str,
    username: &str,
    field: &str,
    confirm_field: &str,
) {
    let len = new.chars().count();
    if new.is_empty() {
        errors.add(field, "form.required");
    } else if len < password::MIN_LENGTH || new.len() > password::MAX_LENGTH {
        errors.add(field, "password.too_short");
    } else if let Some(why) = password::weakness(new, username) {
        errors.add(field, why);
    }
    if new != confirm {
        errors.add(confirm_field, "password.mismatch");
    }
}

/// `POST /password`: checks the current password, stores the new one,
/// ends the user's other sessions.
pub async fn password_submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let current = f.raw("current");
    let new = f.raw("new");
    let confirm = f.raw("confirm");
    let mut errors = Errors::default();
    if current.is_empty() {
        errors.add("current", "form.required");
    }
    check_new_password(
        &mut errors,
        &new,
        &confirm,
        &identity.user.username,
        "new",
        "confirm",
    );
    if errors.is_empty() {
        let hash = state.store().user_password_hash(identity.user.id).await;
        let hash = match hash {
            Ok(h) => h,
            Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
        };
        if !password::verify_async(current.clone(), hash).await {
            errors.add("current", "password.wrong_current");
        } else if current == new {
            errors.add("new", "password.same_as_current");
        }
    }
    if !errors.is_empty() {
        return ctx.render_status(
            StatusCode::BAD_REQUEST,
            "password.html",
            context! { errors => errors, must_change => identity.user.must_change_password },
        );
    }
    let hash = match password::hash_async(new).await {
        Ok(h) => h,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    let keep = match &identity.via {
        Via::Session { id, .. } => Some(id.as_str()),
        Via::Token { .. } => None,
    };
    if let Err(e) = state
        .store()
        .set_user_password(identity.user.id, &hash, false, keep)
        .await
    {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    tracing::info!(username = identity.user.username, "password changed");
    Redirect::to("/password?saved=1").into_response()
}

/// `GET /lang/{code}?next=`: remembers the language in a cookie (a year)
/// and goes back.
pub async fn switch_language(Path(code): Path<String>, QueryFields(q): QueryFields) -> Response {
    let next = auth::safe_next(Some(q.text("next").as_str()).filter(|n| !n.is_empty()));
    let Some(lang) = Lang::from_tag(&code) else {
        return Redirect::to(&next).into_response();
    };
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age={}",
        lang.code(),
        365 * 24 * 3600
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
}
