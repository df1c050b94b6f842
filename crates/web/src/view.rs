//! Server-rendered pages: the embedded templates (minijinja), the context
//! every page gets (language, user, menu, CSRF token), error pages and the
//! JSON error shape of the API.

use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{merge_maps, Kwargs};
use minijinja::{context, Environment, Error, State, Value};

use crate::auth::permissions::menu_for;
use crate::auth::Identity;
use crate::i18n::Lang;

/// The templates, embedded in the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("login.html", include_str!("../templates/login.html")),
    (
        "crm/import.html",
        include_str!("../templates/crm/import.html"),
    ),
    (
        "campaigns/batches.html",
        include_str!("../templates/campaigns/batches.html"),
    ),
    (
        "campaigns/batch.html",
        include_str!("../templates/campaigns/batch.html"),
    ),
    (
        "campaigns/field.html",
        include_str!("../templates/campaigns/field.html"),
    ),
    (
        "campaigns/row.html",
        include_str!("../templates/campaigns/row.html"),
    ),
    (
        "campaigns/filters.html",
        include_str!("../templates/campaigns/filters.html"),
    ),
    (
        "campaigns/filter.html",
        include_str!("../templates/campaigns/filter.html"),
    ),
    (
        "campaigns/imports.html",
        include_str!("../templates/campaigns/imports.html"),
    ),
    (
        "campaigns/filter_runs.html",
        include_str!("../templates/campaigns/filter_runs.html"),
    ),
    (
        "tickets/list.html",
        include_str!("../templates/tickets/list.html"),
    ),
    (
        "tickets/form.html",
        include_str!("../templates/tickets/form.html"),
    ),
    (
        "tickets/ticket.html",
        include_str!("../templates/tickets/ticket.html"),
    ),
    (
        "tickets/types.html",
        include_str!("../templates/tickets/types.html"),
    ),
    ("kb/index.html", include_str!("../templates/kb/index.html")),
    (
        "kb/article.html",
        include_str!("../templates/kb/article.html"),
    ),
    (
        "crm/contacts.html",
        include_str!("../templates/crm/contacts.html"),
    ),
    (
        "crm/contact_form.html",
        include_str!("../templates/crm/contact_form.html"),
    ),
    (
        "crm/customers.html",
        include_str!("../templates/crm/customers.html"),
    ),
    (
        "crm/customer_form.html",
        include_str!("../templates/crm/customer_form.html"),
    ),
    ("password.html", include_str!("../templates/password.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("desk.html", include_str!("../templates/desk.html")),
    (
        "desk_history.html",
        include_str!("../templates/desk_history.html"),
    ),
    ("users.html", include_str!("../templates/users.html")),
    (
        "user_form.html",
        include_str!("../templates/user_form.html"),
    ),
    ("roles.html", include_str!("../templates/roles.html")),
    (
        "role_form.html",
        include_str!("../templates/role_form.html"),
    ),
    (
        "departments.html",
        include_str!("../templates/departments.html"),
    ),
    (
        "department_form.html",
        include_str!("../templates/department_form.html"),
    ),
    ("tokens.html", include_str!("../templates/tokens.html")),
    (
        "account/notifications.html",
        include_str!("../templates/account/notifications.html"),
    ),
];

/// Templates of the voice-platform pages: status, extensions, lists,
/// media, registrations (`templates/voice/`).
const VOICE_TEMPLATES: &[(&str, &str)] = &[
    (
        "voice/macros.html",
        include_str!("../templates/voice/macros.html"),
    ),
    (
        "voice/status.html",
        include_str!("../templates/voice/status.html"),
    ),
    (
        "voice/status_live.html",
        include_str!("../templates/voice/status_live.html"),
    ),
    (
        "voice/gateway_status.html",
        include_str!("../templates/voice/gateway_status.html"),
    ),
    (
        "voice/gateway_status_live.html",
        include_str!("../templates/voice/gateway_status_live.html"),
    ),
    (
        "voice/registrations.html",
        include_str!("../templates/voice/registrations.html"),
    ),
    (
        "voice/registrations_live.html",
        include_str!("../templates/voice/registrations_live.html"),
    ),
    (
        "voice/list.html",
        include_str!("../templates/voice/list.html"),
    ),
    (
        "voice/extensions.html",
        include_str!("../templates/voice/extensions.html"),
    ),
    (
        "voice/extension_form.html",
        include_str!("../templates/voice/extension_form.html"),
    ),
    (
        "voice/media.html",
        include_str!("../templates/voice/media.html"),
    ),
    (
        "voice/gateways.html",
        include_str!("../templates/voice/gateways.html"),
    ),
    (
        "voice/gateway_form.html",
        include_str!("../templates/voice/gateway_form.html"),
    ),
];

/// Templates of the call-center pages: queues, routing rules, IVR menus
/// (`templates/callcenter/`).
const CALLCENTER_TEMPLATES: &[(&str, &str)] = &[
    (
        "callcenter/macros.html",
        include_str!("../templates/callcenter/macros.html"),
    ),
    (
        "callcenter/queues.html",
        include_str!("../templates/callcenter/queues.html"),
    ),
    (
        "callcenter/queue_form.html",
        include_str!("../templates/callcenter/queue_form.html"),
    ),
    (
        "callcenter/agent_form.html",
        include_str!("../templates/callcenter/agent_form.html"),
    ),
    (
        "callcenter/routes.html",
        include_str!("../templates/callcenter/routes.html"),
    ),
    (
        "callcenter/route_form.html",
        include_str!("../templates/callcenter/route_form.html"),
    ),
    (
        "callcenter/ivr.html",
        include_str!("../templates/callcenter/ivr.html"),
    ),
    (
        "callcenter/ivr_form.html",
        include_str!("../templates/callcenter/ivr_form.html"),
    ),
];

/// Templates of the system pages: audit log, settings (`templates/system/`),
/// and the call records (`templates/records/`).
const SYSTEM_TEMPLATES: &[(&str, &str)] = &[
    (
        "records/calls.html",
        include_str!("../templates/records/calls.html"),
    ),
    (
        "records/waiting.html",
        include_str!("../templates/records/waiting.html"),
    ),
    (
        "records/waiting_live.html",
        include_str!("../templates/records/waiting_live.html"),
    ),
    (
        "agents/agents.html",
        include_str!("../templates/agents/agents.html"),
    ),
    (
        "agents/agents_live.html",
        include_str!("../templates/agents/agents_live.html"),
    ),
    (
        "agents/traffic.html",
        include_str!("../templates/agents/traffic.html"),
    ),
    (
        "agents/traffic_live.html",
        include_str!("../templates/agents/traffic_live.html"),
    ),
    (
        "agents/wallboard.html",
        include_str!("../templates/agents/wallboard.html"),
    ),
    (
        "agents/wallboard_tv.html",
        include_str!("../templates/agents/wallboard_tv.html"),
    ),
    (
        "agents/wallboard_live.html",
        include_str!("../templates/agents/wallboard_live.html"),
    ),
    (
        "agents/missed.html",
        include_str!("../templates/agents/missed.html"),
    ),
    (
        "records/voicemail.html",
        include_str!("../templates/records/voicemail.html"),
    ),
    (
        "records/erlang_c.html",
        include_str!("../templates/records/erlang_c.html"),
    ),
    (
        "records/service_level.html",
        include_str!("../templates/records/service_level.html"),
    ),
    (
        "reports/report.html",
        include_str!("../templates/reports/report.html"),
    ),
    (
        "system/audit.html",
        include_str!("../templates/system/audit.html"),
    ),
    (
        "system/audit_summary.html",
        include_str!("../templates/system/audit_summary.html"),
    ),
    (
        "system/settings.html",
        include_str!("../templates/system/settings.html"),
    ),
    (
        "system/dictionaries.html",
        include_str!("../templates/system/dictionaries.html"),
    ),
];

/// Every template.
fn all_templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    TEMPLATES
        .iter()
        .chain(VOICE_TEMPLATES)
        .chain(CALLCENTER_TEMPLATES)
        .chain(SYSTEM_TEMPLATES)
}

/// The template environment, built once. A template that does not compile
/// is logged and then fails to render (500), it never panics the server;
/// the unit tests compile them all.
fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in all_templates() {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!("template {name}: {e:#}");
            }
        }
        env.add_function("t", t);
        env.add_filter("number", |state: &State, n: i64| lang_of(state).number(n));
        env.add_filter("datetime", |state: &State, ms: i64| {
            lang_of(state).datetime(ms)
        });
        env.add_filter("duration", |state: &State, secs: u64| {
            lang_of(state).duration(secs)
        });
        env
    })
}

/// The language of the page being rendered (`lang_code` in the context).
fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang_code")
        .and_then(|v| v.as_str().and_then(Lang::from_tag))
        .unwrap_or(Lang::En)
}

/// Template function `t("key", name=value, ...)`: the message in the
/// page's language with placeholders filled.
fn t(state: &State, key: &str, kwargs: Kwargs) -> Result<String, Error> {
    let mut args = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        args.push((name.to_string(), value.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = args.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    Ok(lang_of(state).t(key, &borrowed))
}

/// What every page needs to render: language, user, current path.
/// An extractor; pages outside sign-in get `identity: None`.
#[derive(Clone, Debug)]
pub struct PageCtx {
    /// The page's language.
    pub lang: Lang,
    /// The signed-in user, if any.
    pub identity: Option<Identity>,
    /// Path and query of the request (for the language switch's return).
    pub path: String,
    /// The system's name (a setting), for the header and titles.
    pub site_name: String,
}

/// The system's name, put in each request by the router for [`PageCtx`].
#[derive(Clone, Debug)]
pub struct SiteName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageCtx {
            lang: Lang::from_headers(&parts.headers),
            identity: parts.extensions.get::<Identity>().cloned(),
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
            site_name: parts
                .extensions
                .get::<SiteName>()
                .map(|s| s.0.clone())
                .unwrap_or_else(|| "Switchboard".into()),
        })
    }
}

impl PageCtx {
    /// Renders `template` with `extra` on top of the common context (200).
    pub fn render(&self, template: &str, extra: Value) -> Response {
        self.render_status(StatusCode::OK, template, extra)
    }

    /// Renders `template` with a status (e.g. 400 for a form with errors,
    /// which is shown again with the messages next to the fields).
    pub fn render_status(&self, status: StatusCode, template: &str, extra: Value) -> Response {
        let base = base_context(self.lang, self.identity.as_ref(), &self.path);
        let site = context! { site_name => self.site_name.clone() };
        render(status, template, merge_maps([base, site, extra]))
    }

    /// Renders `template` like [`PageCtx::render`], as text (for parts
    /// sent over a live stream).
    pub fn render_text(&self, template: &str, extra: Value) -> Result<String, minijinja::Error> {
        let base = base_context(self.lang, self.identity.as_ref(), &self.path);
        let site = context! { site_name => self.site_name.clone() };
        env()
            .get_template(template)
            .and_then(|tpl| tpl.render(merge_maps([base, site, extra])))
    }

    /// The message `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key, &[])
    }
}

/// The context shared by every page.
fn base_context(lang: Lang, identity: Option<&Identity>, path: &str) -> Value {
    let bare_path = path.split('?').next().unwrap_or("/");
    let menu: Vec<Value> = identity
        .map(|i| menu_for(&i.grants))
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let active = if m.href == "/" {
                bare_path == "/"
            } else {
                bare_path == m.href || bare_path.starts_with(&format!("{}/", m.href))
            };
            context! { id => m.id, label => m.label, href => m.href, group => m.group, active => active }
        })
        .collect();
    let langs: Vec<Value> = Lang::ALL
        .iter()
        .map(|l| context! { code => l.code(), name => l.native_name(), current => *l == lang })
        .collect();
    context! {
        lang_code => lang.code(),
        langs => langs,
        here => crate::form::encode(path),
        menu => menu,
        user => identity.map(|i| context! {
            id => i.user.id,
            username => i.user.username.clone(),
            name => i.user.name.clone(),
            is_admin => i.user.is_admin,
            is_agent => i.user.is_agent,
        }),
        csrf => identity.and_then(|i| i.csrf()).unwrap_or_default(),
        version => env!("CARGO_PKG_VERSION"),
        asset_v => crate::assets::version(),
    }
}

/// Renders a template into an HTML response.
fn render(status: StatusCode, template: &str, ctx: Value) -> Response {
    let result = env().get_template(template).and_then(|tpl| tpl.render(ctx));
    match result {
        Ok(html) => (status, html_headers(), Html(html)).into_response(),
        Err(e) => {
            tracing::error!("rendering {template}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while rendering the page",
            )
                .into_response()
        }
    }
}

/// Headers of every page: not cached (pages show private data).
fn html_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

/// An error page with message `key` (e.g. 403 "you may not").
pub fn error_page(
    status: StatusCode,
    lang: Lang,
    identity: Option<&Identity>,
    key: &str,
) -> Response {
    let ctx = PageCtx {
        lang,
        identity: identity.cloned(),
        path: "/".into(),
        site_name: String::new(),
    };
    ctx.render_status(
        status,
        "error.html",
        context! { status => status.as_u16(), message_key => key },
    )
}

/// The API's error response: `{"error": message, "field": field}`.
pub fn api_error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    json(
        status,
        &serde_json::json!({ "error": message, "field": field }),
    )
}

/// A JSON response.
pub fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"error\":\"serialising response: {e}\"}}"),
        )
            .into_response(),
    }
}

/// Logs `err` and answers 500 without details (page or JSON).
pub fn internal_error(api: bool, lang: Lang, err: &anyhow::Error) -> Response {
    tracing::error!("web request failed: {err:#}");
    if api {
        api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error, see the server log",
            None,
        )
    } else {
        error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            None,
            "error.internal",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in all_templates() {
            assert!(env().get_template(name).is_ok(), "template {name}");
        }
    }

    /// Every `t("key"` in the templates names a key of both catalogs.
    #[test]
    fn templates_use_only_known_keys() {
        let mut missing = Vec::new();
        for (name, source) in all_templates() {
            let pieces = source
                .split("t(\"")
                .skip(1)
                .filter_map(|p| p.split_once('"'))
                .chain(
                    source
                        .split("t('")
                        .skip(1)
                        .filter_map(|p| p.split_once('\'')),
                );
            for (key, _) in pieces {
                for lang in Lang::ALL {
                    if lang.t(key, &[]) == key {
                        missing.push(format!("{name}: {key} ({})", lang.code()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "unknown message keys: {missing:#?}");
    }
}
