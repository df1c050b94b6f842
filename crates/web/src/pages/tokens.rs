//! The signed-in user's API tokens: list, create (shown once), revoke.
//! Every user may manage their own tokens; a token can do what its user can.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::{token, Identity};
use crate::form::{Errors, Form, QueryFields};
use crate::state::AppState;
use crate::view::{self, PageCtx};

const MAX_NAME: usize = 64;

async fn render(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    status: StatusCode,
    extra: minijinja::Value,
) -> Response {
    let tokens = match state.store().list_api_tokens(identity.user.id).await {
        Ok(t) => t,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let base = context! { tokens => tokens, errors => Errors::default(), name => "" };
    ctx.render_status(
        status,
        "tokens.html",
        minijinja::value::merge_maps([base, extra]),
    )
}

/// `GET /account/tokens`.
pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let flash = (q.text("done") == "revoked").then_some("tokens.revoked");
    render(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        context! { flash => flash },
    )
    .await
}

/// `POST /account/tokens`: creates a token and shows it, once.
pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let name = f.text("name");
    let mut errors = Errors::default();
    if name.is_empty() {
        errors.add("name", "form.required");
    } else if name.chars().count() > MAX_NAME {
        errors.add("name", "form.too_long");
    }
    if !errors.is_empty() {
        return render(
            &state,
            &ctx,
            &identity,
            StatusCode::BAD_REQUEST,
            context! { errors => errors, name => name },
        )
        .await;
    }
    let secret = match token::new_api_token() {
        Ok(s) => s,
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    if let Err(e) = state
        .store()
        .create_api_token(identity.user.id, &name, &token::digest(&secret))
        .await
    {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    tracing::info!(
        username = identity.user.username,
        token = name,
        "API token created"
    );
    render(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        context! { new_token => secret, flash => "tokens.created" },
    )
    .await
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        );
    };
    match state.store().revoke_api_token(identity.user.id, id).await {
        Ok(true) => {
            tracing::info!(
                username = identity.user.username,
                token = id,
                "API token revoked"
            );
            Redirect::to("/account/tokens?done=revoked").into_response()
        }
        Ok(false) => view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            Some(&identity),
            "error.not_found",
        ),
        Err(e) => view::internal_error(false, ctx.lang, &e.into()),
    }
}
