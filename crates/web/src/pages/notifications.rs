//! The signed-in user's e-mail notifications (`/account/notifications`):
//! a checkbox per kind ([`crate::notify_crm::KINDS`]), the address the
//! mail goes to, and a warning when none can arrive (no address, or no
//! mail server set). Every user may change their own, and only their own:
//! the page knows no other user. Saving is audited like every change (the
//! audit middleware records the form).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::auth::Identity;
use crate::form::{Form, QueryFields};
use crate::notify::EmailSettings;
use crate::notify_crm::{self, KINDS};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// The page, with `extra` (a flash, an error) and `status`.
async fn render(
    state: &AppState,
    ctx: &PageCtx,
    who: &Identity,
    status: StatusCode,
    extra: minijinja::Value,
) -> Response {
    let smtp_configured = match state.store().settings().await {
        Ok(m) => !EmailSettings::from_map(&m).host.trim().is_empty(),
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let off = notify_crm::switched_off(state.store(), who.user.id).await;
    // Labels translated here: the template then holds no computed keys.
    let kinds: Vec<minijinja::Value> = KINDS
        .iter()
        .map(|k| {
            context! {
                kind => k,
                label => ctx.lang.t(&format!("notifications.kind.{k}"), &[]),
                on => !off.iter().any(|o| o == k),
            }
        })
        .collect();
    let base = context! {
        kinds => kinds,
        email => who.user.email.trim(),
        smtp_configured => smtp_configured,
    };
    ctx.render_status(
        status,
        "account/notifications.html",
        minijinja::value::merge_maps([base, extra]),
    )
}

/// `GET /account/notifications`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let saved = q.text("done") == "saved";
    render(
        &state,
        &ctx,
        &who,
        StatusCode::OK,
        context! { saved => saved },
    )
    .await
}

/// `POST /account/notifications`: the checked kinds (`on`, repeated) are
/// on, every other kind off.
pub async fn save(
    State(state): State<AppState>,
    ctx: PageCtx,
    who: Identity,
    Form(f): Form,
) -> Response {
    let on = f.all("on");
    if on.iter().any(|k| !KINDS.contains(&k.as_str())) {
        // Not one of the page's checkboxes: a forged or stale form.
        return render(
            &state,
            &ctx,
            &who,
            StatusCode::BAD_REQUEST,
            context! { unknown_kind => true },
        )
        .await;
    }
    let off: Vec<String> = KINDS
        .iter()
        .filter(|k| !on.iter().any(|o| o == *k))
        .map(|k| k.to_string())
        .collect();
    if let Err(e) = notify_crm::set_switched_off(state.store(), who.user.id, &off).await {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    tracing::info!(
        username = who.user.username,
        off = off.join(","),
        "notification settings changed"
    );
    Redirect::to("/account/notifications?done=saved").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_kind_has_a_label_in_both_languages() {
        for k in KINDS {
            for lang in Lang::ALL {
                let key = format!("notifications.kind.{k}");
                assert_ne!(lang.t(&key, &[]), key, "{key} ({})", lang.code());
            }
        }
    }
}
