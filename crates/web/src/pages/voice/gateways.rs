//! SIP gateways (3.2.6 SIP网关): the list, and the form with every setting
//! of [`Gateway`] (the IMS identities shown for mode IMS, the NNI addresses
//! for mode NNI; without JavaScript every field shows and the server reads
//! them all).
//!
//! Routes (view: `voice.gateways:view`, change: `voice.gateways:edit`):
//! - `GET /voice/gateways`: the list;
//! - `GET /voice/gateways/new`, `POST /voice/gateways`: add one;
//! - `GET|POST /voice/gateways/{name}`: edit one (the name stays);
//! - `POST /voice/gateways/{name}/delete`: remove one (refused while a
//!   routing rule sends calls through it).
//!
//! The password is write-only: never put in a page, and an edit that
//! leaves it empty keeps the stored one. Checks are the gateway model's
//! ([`Gateway::validate`]), shown next to their fields in the page's
//! language. Every change bumps the store's `gateways` counter, which the
//! running engine follows; the JSON API ([`crate::api`]) uses the same
//! functions.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use callcenter::gateway::config::{
    self, parse_codecs, parse_host_port, split_list, Gateway, IdentityHeader, Mode, Privacy,
    Problem, Transport, CODECS,
};
use minijinja::{context, Value};
use store::StoreError;

use super::cc_forms::{groups_view, opt, seg, Errs, FieldSpec};
use crate::auth::permissions::{GATEWAYS_EDIT, GATEWAYS_VIEW};
use crate::auth::{require, Identity};
use crate::form::{Fields, Form, QueryFields};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// This page group's routes, each behind its permission.
pub fn routes() -> Router<AppState> {
    let view_routes = Router::new()
        .route("/voice/gateways", get(list))
        .route("/voice/gateways/{name}", get(edit_form));
    let edit_routes = Router::new()
        .route("/voice/gateways/new", get(new_form))
        .route("/voice/gateways", post(create))
        .route("/voice/gateways/{name}", post(update))
        .route("/voice/gateways/{name}/delete", post(delete));
    require(GATEWAYS_VIEW, view_routes).merge(require(GATEWAYS_EDIT, edit_routes))
}

/// Select options of a choice type, labelled `voice.gw.<what>.<value>`.
fn choices(lang: Lang, what: &str, values: &[&str]) -> Vec<Value> {
    values
        .iter()
        .map(|v| opt(v, &lang.t(&format!("voice.gw.{what}.{v}"), &[])))
        .collect()
}

/// The form's fields, by group. `editing`: the name cannot change.
pub(crate) fn field_groups(lang: Lang, editing: bool) -> Vec<(&'static str, Vec<FieldSpec>)> {
    let modes = choices(
        lang,
        "mode",
        &Mode::ALL.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
    );
    let transports: Vec<Value> = Transport::ALL
        .iter()
        .map(|t| opt(t.as_str(), &t.as_str().to_uppercase()))
        .collect();
    let identities = choices(
        lang,
        "identity",
        &IdentityHeader::ALL
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
    );
    let privacies = choices(
        lang,
        "privacy",
        &Privacy::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    );
    vec![
        (
            "basic",
            vec![
                FieldSpec::new("name", "text").required().readonly(editing),
                FieldSpec::new("note", "text"),
                FieldSpec::new("mode", "select").options(modes),
                FieldSpec::new("enabled", "check"),
            ],
        ),
        (
            "server",
            vec![
                FieldSpec::new("proxy", "text").required(),
                FieldSpec::new("port", "number"),
                FieldSpec::new("transport", "select").options(transports),
                FieldSpec::new("register_proxy", "text"),
                FieldSpec::new("outbound_proxy", "text"),
            ],
        ),
        (
            "account",
            vec![
                FieldSpec::new("username", "text"),
                FieldSpec::new("password", "password"),
                FieldSpec::new("auth_username", "text"),
                FieldSpec::new("realm", "text"),
                FieldSpec::new("from_user", "text"),
                FieldSpec::new("from_domain", "text"),
            ],
        ),
        (
            "registration",
            vec![
                FieldSpec::new("expire_secs", "number"),
                FieldSpec::new("retry_secs", "number"),
                FieldSpec::new("ping_secs", "number"),
            ],
        ),
        (
            "calls",
            vec![
                FieldSpec::new("codecs", "text"),
                FieldSpec::new("max_calls", "number"),
                FieldSpec::new("strip_digits", "number"),
                FieldSpec::new("add_prefix", "text"),
                FieldSpec::new("caller_id", "text"),
                FieldSpec::new("caller_id_in_from", "check"),
                FieldSpec::new("identity", "select").options(identities),
                FieldSpec::new("privacy", "select").options(privacies),
                FieldSpec::new("srtp", "check"),
            ],
        ),
        (
            "ims",
            vec![
                FieldSpec::new("impu", "text").for_kind("ims"),
                FieldSpec::new("impi", "text").for_kind("ims"),
                FieldSpec::new("home_domain", "text").for_kind("ims"),
                FieldSpec::new("pcscf", "text").for_kind("ims"),
            ],
        ),
        (
            "nni",
            vec![FieldSpec::new("addresses", "textarea").for_kind("nni")],
        ),
    ]
}

/// Every field name of the form.
fn field_names() -> Vec<&'static str> {
    field_groups(Lang::En, false)
        .into_iter()
        .flat_map(|(_, fs)| fs.into_iter().map(|f| f.name))
        .collect()
}

/// A gateway as form values (the password never).
pub(crate) fn form_values(g: &Gateway) -> BTreeMap<String, String> {
    let flag = |b: bool| if b { "1" } else { "" }.to_string();
    [
        ("name", g.name.clone()),
        ("note", g.note.clone()),
        ("mode", g.mode.as_str().into()),
        ("enabled", flag(g.enabled)),
        ("proxy", g.proxy.clone()),
        ("port", g.port.to_string()),
        ("transport", g.transport.as_str().into()),
        ("register_proxy", g.register_proxy.clone()),
        ("outbound_proxy", g.outbound_proxy.clone()),
        ("username", g.username.clone()),
        ("auth_username", g.auth_username.clone()),
        ("realm", g.realm.clone()),
        ("from_user", g.from_user.clone()),
        ("from_domain", g.from_domain.clone()),
        ("expire_secs", g.expire_secs.to_string()),
        ("retry_secs", g.retry_secs.to_string()),
        ("ping_secs", g.ping_secs.to_string()),
        ("codecs", g.codecs.join(", ")),
        ("max_calls", g.max_calls.to_string()),
        ("strip_digits", g.strip_digits.to_string()),
        ("add_prefix", g.add_prefix.clone()),
        ("caller_id", g.caller_id.clone()),
        ("caller_id_in_from", flag(g.caller_id_in_from)),
        ("identity", g.identity.as_str().into()),
        ("privacy", g.privacy.as_str().into()),
        ("srtp", flag(g.srtp)),
        ("impu", g.impu.clone()),
        ("impi", g.impi.clone()),
        ("home_domain", g.home_domain.clone()),
        ("pcscf", g.pcscf.clone()),
        ("addresses", g.addresses.join("\n")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The values of a refused form, as sent (the password never).
fn sent_values(f: &Fields) -> BTreeMap<String, String> {
    field_names()
        .into_iter()
        .filter(|n| *n != "password")
        .map(|n| {
            let v = match n {
                "codecs" => f.all(n).join(", "),
                "addresses" => f.all(n).join("\n"),
                _ => f.text(n),
            };
            (n.to_string(), v)
        })
        .collect()
}

/// A number field: empty is `default`, anything but a whole number in
/// range of `T` an error next to it.
fn number<T: std::str::FromStr>(
    f: &Fields,
    name: &str,
    default: T,
    lang: Lang,
    errs: &mut Errs,
) -> T {
    let text = f.text(name);
    if text.is_empty() {
        return default;
    }
    match text.parse() {
        Ok(v) => v,
        Err(_) => {
            errs.entry(name.to_string())
                .or_insert_with(|| lang.t("voice.gw.not_a_number", &[]));
            default
        }
    }
}

/// A choice field: empty is the type's default, an unknown value an error.
fn choice<T: std::str::FromStr + Default>(
    f: &Fields,
    name: &str,
    lang: Lang,
    errs: &mut Errs,
) -> T {
    let text = f.text(name);
    if text.is_empty() {
        return T::default();
    }
    text.parse().unwrap_or_else(|_| {
        errs.entry(name.to_string())
            .or_insert_with(|| lang.t("voice.common.invalid_choice", &[]));
        T::default()
    })
}

/// Reads the form (or an API body read as one) into a gateway; messages
/// for what cannot even be read (a number that is none, an unknown mode)
/// go in `errs`. `name` is the gateway's when editing (the form's is ignored).
pub(crate) fn read_form(f: &Fields, name: Option<&str>, lang: Lang, errs: &mut Errs) -> Gateway {
    let mut port = number::<u16>(f, "port", config::DEFAULT_PORT, lang, errs);
    let proxy_text = f.text("proxy");
    // `HOST:PORT` in the proxy field is accepted; its port wins.
    let proxy = match parse_host_port(&proxy_text) {
        Ok((host, given)) => {
            if let Some(p) = given {
                port = p;
            }
            host
        }
        Err(_) => proxy_text,
    };
    // Lists: one value with commas (the form) or several (an API list).
    let list = |n: &str| f.all(n).join(",");
    Gateway {
        name: name.map_or_else(|| f.text("name"), str::to_string),
        note: f.text("note"),
        mode: choice::<Mode>(f, "mode", lang, errs),
        proxy,
        port,
        transport: choice::<Transport>(f, "transport", lang, errs),
        username: f.text("username"),
        auth_username: f.text("auth_username"),
        // Untrimmed: a password may begin or end with a blank.
        password: f.raw("password"),
        realm: f.text("realm"),
        from_user: f.text("from_user"),
        from_domain: f.text("from_domain"),
        register_proxy: f.text("register_proxy"),
        outbound_proxy: f.text("outbound_proxy"),
        expire_secs: number(f, "expire_secs", config::DEFAULT_EXPIRE_SECS, lang, errs),
        retry_secs: number(f, "retry_secs", config::DEFAULT_RETRY_SECS, lang, errs),
        ping_secs: number(f, "ping_secs", 0, lang, errs),
        caller_id_in_from: f.flag("caller_id_in_from"),
        srtp: f.flag("srtp"),
        codecs: parse_codecs(&list("codecs")),
        max_calls: number(f, "max_calls", 0, lang, errs),
        strip_digits: number(f, "strip_digits", 0, lang, errs),
        add_prefix: f.text("add_prefix"),
        caller_id: f.text("caller_id"),
        privacy: choice::<Privacy>(f, "privacy", lang, errs),
        identity: choice::<IdentityHeader>(f, "identity", lang, errs),
        enabled: f.flag("enabled"),
        impu: f.text("impu"),
        impi: f.text("impi"),
        home_domain: f.text("home_domain"),
        pcscf: f.text("pcscf"),
        addresses: split_list(&list("addresses")),
    }
}

/// A problem of the gateway model in the page's language.
pub(crate) fn problem_text(lang: Lang, p: &Problem) -> String {
    let n = |v: &usize| v.to_string();
    match p {
        Problem::Required => lang.t("voice.common.required", &[]),
        Problem::TooLong(max) => lang.t("voice.common.too_long", &[("max", &n(max))]),
        Problem::TooMany(max) => lang.t("voice.gw.problem.too_many", &[("max", &n(max))]),
        Problem::Name => lang.t("voice.gw.problem.name", &[]),
        Problem::Reserved => lang.t(
            "voice.gw.problem.reserved",
            &[("names", &config::RESERVED_NAMES.join(", "))],
        ),
        Problem::Chars => lang.t("voice.gw.problem.chars", &[]),
        Problem::Host(v) => lang.t("voice.gw.problem.host", &[("value", v)]),
        Problem::HostPort(v) => lang.t("voice.gw.problem.host_port", &[("value", v)]),
        Problem::Port => lang.t("voice.gw.problem.port", &[]),
        Problem::Range { min, max, off } => lang.t(
            if *off {
                "voice.gw.problem.range_off"
            } else {
                "voice.gw.problem.range"
            },
            &[("min", &min.to_string()), ("max", &max.to_string())],
        ),
        Problem::Codec(v) => lang.t(
            "voice.gw.problem.codec",
            &[("value", v), ("known", &CODECS.join(", "))],
        ),
        Problem::DuplicateCodec(v) => lang.t("voice.gw.problem.duplicate_codec", &[("value", v)]),
        Problem::Digits => lang.t("voice.gw.problem.digits", &[]),
        Problem::Address(v) => lang.t("voice.gw.problem.address", &[("value", v)]),
        Problem::Uri => lang.t("voice.gw.problem.uri", &[]),
    }
}

/// The routing rules that send calls through `name` (none without an engine).
pub(crate) fn rules_using(state: &AppState, name: &str) -> Vec<String> {
    let Some(engine) = state.engine() else {
        return Vec::new();
    };
    engine
        .ctx()
        .callcenter
        .get()
        .routes
        .rules()
        .filter(|r| r.gateways().iter().any(|g| g == name))
        .map(|r| r.name.clone())
        .collect()
}

/// What became of a create, an edit or a removal.
pub(crate) enum Outcome {
    /// Done: the gateway's name.
    Done(String),
    /// No such gateway.
    NotFound,
    /// Refused, nothing written: the values as sent (no password), the
    /// messages by field (`_form`: the whole form), and the status (400 bad
    /// input, 409 a name taken or a gateway in use).
    Refused(BTreeMap<String, String>, Errs, StatusCode),
}

/// Checks and saves the form: a new gateway when `editing` is None, else
/// the settings of `editing` (an empty password keeps the stored one).
pub(crate) async fn save(
    state: &AppState,
    lang: Lang,
    editing: Option<&str>,
    f: &Fields,
    by: &str,
) -> anyhow::Result<Outcome> {
    let stored = match editing {
        Some(name) => match load(state, name).await? {
            Some(g) => Some(g),
            None => return Ok(Outcome::NotFound),
        },
        None => None,
    };
    let mut errs = Errs::new();
    let g = read_form(f, editing, lang, &mut errs);
    let mut checked = g.clone();
    if let (true, Some(old)) = (checked.password.is_empty(), stored.as_ref()) {
        checked.password = old.password.clone();
    }
    if let Err(e) = checked.validate() {
        for fe in &e.errors {
            errs.entry(fe.field.to_string())
                .or_insert_with(|| problem_text(lang, &fe.problem));
        }
    }
    let refused = |errs: Errs, status| Ok(Outcome::Refused(sent_values(f), errs, status));
    if !errs.is_empty() {
        return refused(errs, StatusCode::BAD_REQUEST);
    }
    let written = match editing {
        Some(_) => state.store().update_gateway(&g).await,
        None => state.store().add_gateway(&g).await,
    };
    match written {
        Ok(()) => {
            tracing::info!(
                by,
                gateway = g.name,
                created = editing.is_none(),
                "gateway saved"
            );
            Ok(Outcome::Done(g.name))
        }
        Err(StoreError::GatewayExists(name)) => {
            errs.insert("name".into(), lang.t("voice.gw.exists", &[("name", &name)]));
            refused(errs, StatusCode::CONFLICT)
        }
        Err(StoreError::GatewayNotFound(_)) => Ok(Outcome::NotFound),
        Err(StoreError::InvalidGateway(e)) => {
            for fe in &e.errors {
                errs.insert(fe.field.to_string(), problem_text(lang, &fe.problem));
            }
            refused(errs, StatusCode::BAD_REQUEST)
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the gateway `name`, unless a routing rule uses it.
pub(crate) async fn remove(
    state: &AppState,
    lang: Lang,
    name: &str,
    by: &str,
) -> anyhow::Result<Outcome> {
    if load(state, name).await?.is_none() {
        return Ok(Outcome::NotFound);
    }
    let users = rules_using(state, name);
    if !users.is_empty() {
        let mut errs = Errs::new();
        errs.insert(
            "_form".into(),
            lang.t(
                "voice.gw.in_use",
                &[("name", name), ("rules", &users.join(", "))],
            ),
        );
        return Ok(Outcome::Refused(
            BTreeMap::new(),
            errs,
            StatusCode::CONFLICT,
        ));
    }
    if !state.store().remove_gateway(name).await? {
        return Ok(Outcome::NotFound);
    }
    tracing::info!(by, gateway = name, "gateway removed");
    Ok(Outcome::Done(name.to_string()))
}

/// The gateway `name`, if it exists (a name no gateway can have is none).
pub(crate) async fn load(state: &AppState, name: &str) -> anyhow::Result<Option<Gateway>> {
    if config::check_name(name).is_err() {
        return Ok(None);
    }
    Ok(state.store().get_gateway(name).await?)
}

/// A gateway as the list shows it.
fn row(lang: Lang, g: &Gateway) -> Value {
    context! {
        name => g.name.clone(), note => g.note.clone(),
        mode => g.mode.as_str(), mode_label => lang.t(&format!("voice.gw.mode.{}", g.mode.as_str()), &[]),
        proxy => g.proxy_target(), transport => g.transport.as_str().to_uppercase(),
        username => g.username.clone(), enabled => g.enabled,
        max_calls => g.max_calls, registers => g.mode.registers(),
    }
}

/// `GET /voice/gateways`.
async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    QueryFields(q): QueryFields,
) -> Response {
    render_list(
        &state,
        &ctx,
        &identity,
        &q.text("done"),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_list(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    done: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let all = match state.store().list_gateways().await {
        Ok(a) => a,
        Err(e) => return view::internal_error(false, ctx.lang, &e.into()),
    };
    let flash = match done {
        "deleted" => Some(ctx.t("voice.gw.deleted")),
        _ => None,
    };
    let rows: Vec<Value> = all.iter().map(|g| row(ctx.lang, g)).collect();
    ctx.render_status(
        status,
        "voice/gateways.html",
        context! {
            rows => rows, flash => flash, error => error,
            can_edit => identity.allows(GATEWAYS_EDIT),
        },
    )
}

async fn render_form(
    ctx: &PageCtx,
    identity: &Identity,
    editing: Option<&str>,
    values: BTreeMap<String, String>,
    errs: Errs,
    flash: Option<String>,
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let groups = field_groups(lang, editing.is_some());
    let chosen = values.get("mode").cloned().unwrap_or_else(|| "nni".into());
    ctx.render_status(
        status,
        "voice/gateway_form.html",
        context! {
            editing => editing.is_some(), name => editing,
            action => editing.map(|n| format!("/voice/gateways/{}", seg(n))).unwrap_or_else(|| "/voice/gateways".into()),
            groups => groups_view(lang, "voice.gw", &groups, &values, &errs),
            chosen => chosen, form_error => errs.get("_form").cloned(), flash => flash,
            can_edit => identity.allows(GATEWAYS_EDIT),
        },
    )
}

/// `GET /voice/gateways/new`: a new gateway's defaults (mod_sofia's).
async fn new_form(ctx: PageCtx, identity: Identity) -> Response {
    let values = form_values(&Gateway::default());
    render_form(
        &ctx,
        &identity,
        None,
        values,
        Errs::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// `GET /voice/gateways/{name}`.
async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    QueryFields(q): QueryFields,
) -> Response {
    let g = match load(&state, &name).await {
        Ok(Some(g)) => g,
        Ok(None) => return super::cc_forms::not_found(&ctx),
        Err(e) => return view::internal_error(false, ctx.lang, &e),
    };
    let flash = match q.text("done").as_str() {
        "created" => Some(ctx.t("voice.gw.created")),
        "saved" => Some(ctx.t("voice.gw.saved")),
        _ => None,
    };
    let values = form_values(&g);
    render_form(
        &ctx,
        &identity,
        Some(&g.name),
        values,
        Errs::new(),
        flash,
        StatusCode::OK,
    )
    .await
}

/// Saves the form and answers with the redirect or the form again.
async fn submit(
    state: &AppState,
    ctx: &PageCtx,
    identity: &Identity,
    editing: Option<&str>,
    f: &Fields,
) -> Response {
    match save(state, ctx.lang, editing, f, &identity.user.username).await {
        Ok(Outcome::Done(name)) => {
            let done = if editing.is_some() {
                "saved"
            } else {
                "created"
            };
            Redirect::to(&format!("/voice/gateways/{}?done={done}", seg(&name))).into_response()
        }
        Ok(Outcome::NotFound) => super::cc_forms::not_found(ctx),
        Ok(Outcome::Refused(values, errs, status)) => {
            render_form(ctx, identity, editing, values, errs, None, status).await
        }
        Err(e) => view::internal_error(false, ctx.lang, &e),
    }
}

/// `POST /voice/gateways`: adds a gateway.
async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Form(f): Form,
) -> Response {
    submit(&state, &ctx, &identity, None, &f).await
}

/// `POST /voice/gateways/{name}`: saves a gateway.
async fn update(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
    Form(f): Form,
) -> Response {
    submit(&state, &ctx, &identity, Some(&name), &f).await
}

/// `POST /voice/gateways/{name}/delete`.
async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    identity: Identity,
    Path(name): Path<String>,
) -> Response {
    match remove(&state, ctx.lang, &name, &identity.user.username).await {
        Ok(Outcome::Done(_)) => Redirect::to("/voice/gateways?done=deleted").into_response(),
        Ok(Outcome::NotFound) => super::cc_forms::not_found(&ctx),
        Ok(Outcome::Refused(_, errs, status)) => {
            let msg = errs.get("_form").cloned();
            render_list(&state, &ctx, &identity, "", msg, status).await
        }
        Err(e) => view::internal_error(false, ctx.lang, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Fields {
        Fields::parse(s.as_bytes())
    }

    #[test]
    fn a_gateway_round_trips_through_the_form_but_its_password() {
        let g = Gateway {
            note: "中继".into(),
            username: "+8651200000000".into(),
            password: "secret".into(),
            expire_secs: 600,
            ping_secs: 20,
            codecs: vec!["PCMA".into(), "telephone-event".into()],
            caller_id_in_from: true,
            srtp: true,
            identity: IdentityHeader::Pai,
            privacy: Privacy::Id,
            impu: "sip:+8651200000000@ims.example.net".into(),
            impi: "+8651200000000@ims.example.net".into(),
            home_domain: "ims.example.net".into(),
            pcscf: "198.51.100.7:5060".into(),
            addresses: vec!["198.51.100.0/24".into(), "198.51.101.1".into()],
            ..Gateway::new("ims1", Mode::Ims, "ims.example.net")
        };
        let values = form_values(&g);
        assert!(!values.contains_key("password"));
        let body: Vec<String> = values
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::form::encode(v)))
            .collect();
        let mut errs = Errs::new();
        let back = read_form(&fields(&body.join("&")), None, Lang::En, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            back,
            Gateway {
                password: String::new(),
                ..g
            }
        );
    }

    #[test]
    fn unreadable_values_are_named_and_a_proxy_port_wins() {
        let mut errs = Errs::new();
        let g = read_form(
            &fields(
                "name=x&mode=sip&proxy=h.example:5070&port=5060&expire_secs=soon&transport=udp",
            ),
            None,
            Lang::Zh,
            &mut errs,
        );
        assert_eq!((g.proxy.as_str(), g.port), ("h.example", 5070));
        assert!(
            errs.contains_key("mode") && errs.contains_key("expire_secs"),
            "{errs:?}"
        );
        assert!(!errs.contains_key("transport"));
    }

    #[test]
    fn every_field_problem_and_choice_has_both_languages() {
        for lang in Lang::ALL {
            for (g, fields) in field_groups(lang, false) {
                let key = format!("voice.gw.group.{g}");
                assert_ne!(lang.t(&key, &[]), key);
                for f in fields {
                    let key = format!("voice.gw.f.{}", f.name);
                    assert_ne!(lang.t(&key, &[]), key, "{}", lang.code());
                }
            }
            for p in [
                Problem::TooMany(1),
                Problem::Name,
                Problem::Reserved,
                Problem::Chars,
                Problem::Host("h".into()),
                Problem::HostPort("h".into()),
                Problem::Port,
                Problem::Range {
                    min: 1,
                    max: 2,
                    off: true,
                },
                Problem::Range {
                    min: 1,
                    max: 2,
                    off: false,
                },
                Problem::Codec("GSM".into()),
                Problem::DuplicateCodec("PCMU".into()),
                Problem::Digits,
                Problem::Address("x".into()),
                Problem::Uri,
            ] {
                let text = problem_text(lang, &p);
                assert!(!text.starts_with("voice.gw."), "{text}");
                assert!(!text.contains('{'), "{text}");
            }
        }
    }
}
