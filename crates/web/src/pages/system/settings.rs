//! System settings (FEATURES C3): general settings with explanations,
//! e-mail (SMTP) and SMS (HTTP gateway) notification with a "send a test"
//! that reports what the other side answered, and dictionaries (named
//! value lists the forms offer). Settings live in the database; the form
//! checks every value and changes nothing when one is wrong.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use crate::auth::permissions::{SETTINGS_EDIT, SETTINGS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Errors, Form, QueryFields};
use crate::notify::{self, EmailSettings, SmsSettings};
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/system/settings", get(page))
        .route("/system/dictionaries", get(dictionaries))
        .route("/system/dictionaries/{name}", get(dictionary));
    let edit_routes = Router::new()
        .route("/system/settings", post(save))
        .route("/system/settings/test-email", post(test_email))
        .route("/system/settings/test-sms", post(test_sms))
        .route("/system/dictionaries", post(save_dictionary));
    require(SETTINGS_VIEW, view_routes).merge(require(SETTINGS_EDIT, edit_routes))
}

/// Default name shown in the header and titles.
pub const DEFAULT_SITE_NAME: &str = "Switchboard";
/// Default days the audit log is kept.
pub const DEFAULT_AUDIT_DAYS: i64 = 180;

/// The keys of the settings form, in order.
pub(crate) const KEYS: [&str; 12] = [
    "system.name",
    "audit.retention_days",
    "smtp.host",
    "smtp.port",
    "smtp.security",
    "smtp.username",
    "smtp.password",
    "smtp.from",
    "sms.url",
    "sms.method",
    "sms.content_type",
    "sms.body",
];

/// The form's field name of a key (`smtp.host` -> `smtp_host`), so ids
/// stay valid CSS selectors.
pub(crate) fn field(key: &str) -> String {
    key.replace('.', "_")
}

/// The stored settings with defaults filled in; the password is never
/// sent back to the browser.
pub(crate) fn shown(stored: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let defaults = [
        ("system.name", DEFAULT_SITE_NAME.to_string()),
        ("audit.retention_days", DEFAULT_AUDIT_DAYS.to_string()),
        ("smtp.port", "25".into()),
        ("smtp.security", "starttls".into()),
        ("sms.method", "GET".into()),
        (
            "sms.content_type",
            "application/x-www-form-urlencoded".into(),
        ),
    ];
    let mut out: BTreeMap<String, String> = KEYS
        .iter()
        .map(|k| (field(k), stored.get(*k).cloned().unwrap_or_default()))
        .collect();
    for (k, v) in defaults {
        let f = field(k);
        if out.get(&f).is_none_or(|x| x.is_empty()) {
            out.insert(f, v);
        }
    }
    out.insert("smtp_password".into(), String::new());
    out
}

/// Checks the form; the values to store, or the errors by field.
pub(crate) fn check(f: &crate::form::Fields) -> Result<Vec<(String, String)>, Errors> {
    let mut e = Errors::default();
    let name = f.text("system_name");
    if name.is_empty() || name.chars().count() > 64 {
        e.add("system_name", "settings.err_name");
    }
    let days = f.text("audit_retention_days");
    if !days.parse::<i64>().is_ok_and(|d| (0..=3650).contains(&d)) {
        e.add("audit_retention_days", "settings.err_days");
    }
    let host = f.text("smtp_host");
    if host
        .chars()
        .any(|c| !(c.is_alphanumeric() || ".-:[]".contains(c)))
    {
        e.add("smtp_host", "settings.err_host");
    }
    if !f.text("smtp_port").parse::<u16>().is_ok_and(|p| p > 0) {
        e.add("smtp_port", "settings.err_port");
    }
    if !matches!(
        f.text("smtp_security").as_str(),
        "none" | "starttls" | "tls"
    ) {
        e.add("smtp_security", "form.invalid_choice");
    }
    let from = f.text("smtp_from");
    if !host.is_empty() && from.parse::<lettre::message::Mailbox>().is_err() {
        e.add("smtp_from", "settings.err_from");
    }
    let url = f.text("sms_url");
    if !url.is_empty()
        && (!(url.starts_with("http://") || url.starts_with("https://"))
            || !url.contains("{mobile}") && !f.text("sms_body").contains("{mobile}"))
    {
        e.add("sms_url", "settings.err_sms_url");
    }
    if !matches!(f.text("sms_method").as_str(), "GET" | "POST") {
        e.add("sms_method", "form.invalid_choice");
    }
    if !e.is_empty() {
        return Err(e);
    }
    let mut values: Vec<(String, String)> = KEYS
        .iter()
        .filter(|k| **k != "smtp.password")
        .map(|k| (k.to_string(), f.text(&field(k))))
        .collect();
    // A blank password keeps the stored one.
    let password = f.raw("smtp_password");
    if !password.is_empty() {
        values.push(("smtp.password".into(), password));
    }
    Ok(values)
}

/// Renders the settings page.
async fn render(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    status: StatusCode,
    values: BTreeMap<String, String>,
    errors: Errors,
    result: Option<(bool, String)>,
) -> Response {
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    ctx.render_status(
        status,
        "system/settings.html",
        context! {
            v => values, errors => errors,
            password_set => stored.get("smtp.password").is_some_and(|p| !p.is_empty()),
            can_edit => identity.allows(SETTINGS_EDIT),
            result_ok => result.as_ref().map(|r| r.0), result_text => result.map(|r| r.1),
        },
    )
}

/// `GET /system/settings`.
async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let saved = q.text("done") == "saved";
    let result = saved.then(|| (true, ctx.t("settings.saved")));
    render(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        shown(&stored),
        Errors::default(),
        result,
    )
    .await
}

/// `POST /system/settings`.
async fn save(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    match check(&f) {
        Ok(values) => {
            if let Err(e) = state.store().put_settings(&values).await {
                return view::internal_error(false, ctx.lang, &e.into());
            }
            state.set_site_name(&f.text("system_name"));
            Redirect::to("/system/settings?done=saved").into_response()
        }
        Err(errors) => {
            let mut values: BTreeMap<String, String> =
                KEYS.iter().map(|k| (field(k), f.text(&field(k)))).collect();
            values.insert("smtp_password".into(), String::new());
            render(
                &state,
                &ctx,
                &identity,
                StatusCode::BAD_REQUEST,
                values,
                errors,
                None,
            )
            .await
        }
    }
}

/// `POST /system/settings/test-email`: sends a test message to `to` with
/// the saved settings and shows the server's answer.
async fn test_email(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let to = f.text("test_to");
    let mut errors = Errors::default();
    if to.parse::<lettre::message::Mailbox>().is_err() {
        errors.add("test_to", "settings.err_to");
        return render(
            &state,
            &ctx,
            &identity,
            StatusCode::BAD_REQUEST,
            shown(&stored),
            errors,
            None,
        )
        .await;
    }
    let site = state.site_name();
    let outcome = notify::send_email(
        &EmailSettings::from_map(&stored),
        &to,
        &ctx.lang.t("settings.test_subject", &[("site", &site)]),
        &ctx.lang.t("settings.test_body", &[("site", &site)]),
    )
    .await;
    let result = match outcome {
        Ok(answer) => (
            true,
            ctx.lang.t("settings.email_sent", &[("answer", &answer)]),
        ),
        Err(why) => (false, ctx.lang.t("settings.email_failed", &[("why", &why)])),
    };
    render(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        shown(&stored),
        errors,
        Some(result),
    )
    .await
}

/// A mobile number a test SMS may go to: digits and `+`, 1-20.
pub(crate) fn valid_test_mobile(mobile: &str) -> bool {
    !mobile.is_empty()
        && mobile.len() <= 20
        && mobile.chars().all(|c| c.is_ascii_digit() || c == '+')
}

/// `POST /system/settings/test-sms`: calls the gateway for `test_mobile`
/// and shows its status code (not its body: see [`notify::send_sms`]).
async fn test_sms(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let stored = match state.store().settings().await {
        Ok(s) => s,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let mobile = f.text("test_mobile");
    let mut errors = Errors::default();
    if !valid_test_mobile(&mobile) {
        errors.add("test_mobile", "settings.err_mobile");
        return render(
            &state,
            &ctx,
            &identity,
            StatusCode::BAD_REQUEST,
            shown(&stored),
            errors,
            None,
        )
        .await;
    }
    let text = ctx
        .lang
        .t("settings.test_sms_text", &[("site", &state.site_name())]);
    let allow_private = state.settings().sms_allow_private_targets;
    let sms = SmsSettings::from_map(&stored);
    let sent = notify::send_sms(&sms, &mobile, &text, allow_private);
    let result = match sent.await {
        Ok(status) => (
            (200..300).contains(&status),
            ctx.lang
                .t("settings.sms_answer", &[("status", &status.to_string())]),
        ),
        Err(why) => (false, ctx.lang.t("settings.sms_failed", &[("why", &why)])),
    };
    render(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        shown(&stored),
        errors,
        Some(result),
    )
    .await
}

/// Dictionary names: letters, digits, `_`, `-`, `.`; 1-64 characters.
pub(crate) fn valid_dictionary_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Parses the items textarea: one `value=label` (or `value`) per line.
pub(crate) fn parse_items(text: &str) -> Result<Vec<store::DictionaryItem>, String> {
    let mut items = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let (value, label) = match line.split_once('=') {
            Some((v, l)) => (v.trim(), l.trim()),
            None => (line, line),
        };
        if value.is_empty() || value.chars().count() > 64 {
            return Err(line.to_string());
        }
        if !seen.insert(value.to_string()) {
            return Err(line.to_string());
        }
        items.push(store::DictionaryItem {
            value: value.to_string(),
            label: label.to_string(),
            position: i32::try_from(i).unwrap_or(i32::MAX),
        });
    }
    Ok(items)
}

/// `GET /system/dictionaries`: the list and a form for a new one.
async fn dictionaries(State(state): State<AppState>, ctx: PageCtx, identity: Identity) -> Response {
    dictionary_page(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        "",
        "",
        Errors::default(),
    )
    .await
}

/// `GET /system/dictionaries/{name}`: one dictionary in the form.
async fn dictionary(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
) -> Response {
    let items = match state.store().dictionary(&name).await {
        Ok(items) => items,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    if items.is_empty() {
        return view::error_page(
            StatusCode::NOT_FOUND,
            ctx.lang,
            ctx.identity.as_ref(),
            "error.not_found",
        );
    }
    let text: Vec<String> = items
        .iter()
        .map(|i| format!("{}={}", i.value, i.label))
        .collect();
    dictionary_page(
        &state,
        &ctx,
        &identity,
        StatusCode::OK,
        &name,
        &text.join("\n"),
        Errors::default(),
    )
    .await
}

async fn dictionary_page(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    status: StatusCode,
    name: &str,
    items: &str,
    errors: Errors,
) -> Response {
    let names = match state.store().dictionaries().await {
        Ok(names) => names,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    ctx.render_status(
        status,
        "system/dictionaries.html",
        context! {
            names => names, name => name, items => items, errors => errors,
            can_edit => identity.allows(SETTINGS_EDIT),
        },
    )
}

/// `POST /system/dictionaries`: saves (or, with no items, removes) one.
async fn save_dictionary(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    let name = f.text("name");
    let text = f.raw("items");
    let mut errors = Errors::default();
    if !valid_dictionary_name(&name) {
        errors.add("name", "settings.err_dictionary_name");
    }
    let items = match parse_items(&text) {
        Ok(items) => items,
        Err(_) => {
            errors.add("items", "settings.err_items");
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return dictionary_page(
            &state,
            &ctx,
            &identity,
            StatusCode::BAD_REQUEST,
            &name,
            &text,
            errors,
        )
        .await;
    }
    if let Err(e) = state.store().put_dictionary(&name, &items).await {
        return view::internal_error(false, ctx.lang, &e.into());
    }
    let to = if items.is_empty() {
        "/system/dictionaries".to_string()
    } else {
        format!("/system/dictionaries/{}", crate::form::encode(&name))
    };
    Redirect::to(&to).into_response()
}

/// Deletes audit entries older than the retention setting, now and then
/// every six hours (0 days: keep everything).
pub async fn prune_audit_forever(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(6 * 3600));
    loop {
        tick.tick().await;
        let days = state
            .store()
            .settings()
            .await
            .ok()
            .and_then(|s| {
                s.get("audit.retention_days")
                    .and_then(|d| d.parse::<i64>().ok())
            })
            .unwrap_or(DEFAULT_AUDIT_DAYS);
        if days <= 0 {
            continue;
        }
        let before = crate::auth::now_ms() - days * 86_400_000;
        match state.store().prune_audit(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("audit log: {n} entries older than {days} days removed"),
            Err(e) => tracing::warn!("audit log not pruned: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> crate::form::Fields {
        crate::form::Fields::parse(s.as_bytes())
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let ok = "system_name=Hotline&audit_retention_days=30&smtp_host=mail.example.com&smtp_port=587\
                  &smtp_security=starttls&smtp_from=Desk+%3Cdesk%40example.com%3E&sms_url=&sms_method=GET";
        let values = check(&form(ok)).expect("valid");
        assert!(values.contains(&("smtp.port".into(), "587".into())));
        assert!(
            !values.iter().any(|(k, _)| k == "smtp.password"),
            "blank keeps it"
        );
        let bad = "system_name=&audit_retention_days=-1&smtp_host=bad%20host&smtp_port=0\
                   &smtp_security=ssl&smtp_from=nope&sms_url=ftp%3A%2F%2Fx&sms_method=PUT";
        let e = check(&form(bad)).unwrap_err();
        for f in [
            "system_name",
            "audit_retention_days",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "sms_url",
            "sms_method",
        ] {
            assert!(e.0.contains_key(f), "{f}: {:?}", e.0);
        }
        let no_mobile = "system_name=x&audit_retention_days=1&smtp_port=25&smtp_security=none\
                         &sms_url=https%3A%2F%2Fgw%2Fsend&sms_method=GET";
        assert!(check(&form(no_mobile))
            .unwrap_err()
            .0
            .contains_key("sms_url"));
    }

    #[test]
    fn dictionary_items_and_names() {
        let items = parse_items("low=Low\n\nhigh = High \nurgent").unwrap();
        let pairs: Vec<(&str, &str, i32)> = items
            .iter()
            .map(|i| (i.value.as_str(), i.label.as_str(), i.position))
            .collect();
        assert_eq!(
            pairs,
            [
                ("low", "Low", 0),
                ("high", "High", 1),
                ("urgent", "urgent", 2)
            ]
        );
        assert!(parse_items("a=1\na=2").is_err(), "repeated value");
        assert!(parse_items("=x").is_err());
        assert!(valid_dictionary_name("ticket_priority"));
        assert!(!valid_dictionary_name("bad name"));
        assert!(!valid_dictionary_name(""));
    }
}
