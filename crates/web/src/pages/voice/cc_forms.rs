//! The shared parts of the call-center pages (queues, agents, routing
//! rules, IVR menus): the engine lookup, refusals placed next to fields,
//! number and text parsing, the field views of the forms, prompt choices
//! and the live agent/queue view.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use engine::callcenter_settings::SettingsError;
use engine::Engine;
use minijinja::{context, Value};

use crate::form::Fields;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::view::{self, PageCtx};

/// Messages shown next to form fields, already in the page's language, by
/// field name (`_form` for the whole form).
pub(crate) type Errs = BTreeMap<String, String>;

/// The running engine, or the "engine not running" page (503).
pub(crate) fn engine_or_503(state: &AppState, ctx: &PageCtx) -> Result<Arc<Engine>, Box<Response>> {
    match state.engine() {
        Some(e) => Ok(Arc::clone(e)),
        None => Err(Box::new(view::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            ctx.lang,
            ctx.identity.as_ref(),
            "cc.no_engine",
        ))),
    }
}

/// A 404 page.
pub(crate) fn not_found(ctx: &PageCtx) -> Response {
    view::error_page(
        StatusCode::NOT_FOUND,
        ctx.lang,
        ctx.identity.as_ref(),
        "error.not_found",
    )
}

/// Percent-encodes `s` for one path segment (names may hold any character).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A refusal of the engine, in the page's language around the engine's
/// own (English) explanation.
pub(crate) fn refusal(lang: Lang, e: &SettingsError) -> String {
    lang.t("cc.refused", &[("why", &e.to_string())])
}

/// Whether a refusal is a storage failure (a server problem, not bad input).
pub(crate) fn is_storage(e: &SettingsError) -> bool {
    e.thing == "database"
}

/// Why a change sent through a form (or the JSON API, which reads its body
/// as the form's fields) was not made. Nothing was changed.
pub(crate) enum Refused {
    /// No such queue, agent, menu or rule.
    NotFound,
    /// The database failed: a server problem, not bad input.
    Storage(SettingsError),
    /// Bad input: messages by form field, in the request's language.
    Input(Errs),
}

/// Parses the number field `name`; an empty or malformed value is recorded
/// in `errs` and None returned.
pub(crate) fn number<T: FromStr>(f: &Fields, name: &str, lang: Lang, errs: &mut Errs) -> Option<T> {
    let text = f.text(name);
    if text.is_empty() {
        errs.entry(name.to_string())
            .or_insert_with(|| lang.t("form.required", &[]));
        return None;
    }
    match text.parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            errs.entry(name.to_string())
                .or_insert_with(|| lang.t("cc.not_a_number", &[]));
            None
        }
    }
}

/// Like [`number`], but an empty field is `None` without an error.
pub(crate) fn optional_number<T: FromStr>(
    f: &Fields,
    name: &str,
    lang: Lang,
    errs: &mut Errs,
) -> Option<T> {
    if f.text(name).is_empty() {
        None
    } else {
        number(f, name, lang, errs)
    }
}

/// A trimmed text field, `None` when empty.
pub(crate) fn optional_text(f: &Fields, name: &str) -> Option<String> {
    Some(f.text(name)).filter(|s| !s.is_empty())
}

/// Whether `s` is a name made of `A-Z a-z 0-9 _ . -` (1-64 characters),
/// as the manual recommends for queue names and menu ids.
pub(crate) fn valid_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// One option of a select: value and label (label already translated).
pub(crate) fn opt(value: &str, label: &str) -> Value {
    context! { value => value, label => label }
}

/// A form field as the `callcenter/macros.html` `fields` macro draws it:
/// id `f-NAME`, data-test `input-NAME`, error `f-NAME-error` /
/// `error-NAME`. `kind` is `text`, `number`, `check`, `select`,
/// `textarea` or `prompt` (a select of sounds).
#[derive(Clone, Debug)]
pub(crate) struct FieldSpec {
    /// Form name (and the engine's field name where there is one).
    pub name: &'static str,
    /// How it is drawn.
    pub kind: &'static str,
    /// Shown only for this rule type (`data-kind`); empty: always.
    pub for_kind: &'static str,
    /// Marked with `*`.
    pub required: bool,
    /// Options of a select.
    pub options: Vec<Value>,
    /// Id of a `<datalist>` of suggestions for a text field.
    pub list: &'static str,
    /// Not editable (e.g. a queue's name once created).
    pub readonly: bool,
}

impl FieldSpec {
    /// A field named `name` drawn as `kind`.
    pub(crate) fn new(name: &'static str, kind: &'static str) -> FieldSpec {
        FieldSpec {
            name,
            kind,
            for_kind: "",
            required: false,
            options: Vec::new(),
            list: "",
            readonly: false,
        }
    }

    /// Marked required.
    pub(crate) fn required(mut self) -> FieldSpec {
        self.required = true;
        self
    }

    /// With these select options.
    pub(crate) fn options(mut self, options: Vec<Value>) -> FieldSpec {
        self.options = options;
        self
    }

    /// Shown only for one rule type.
    pub(crate) fn for_kind(mut self, kind: &'static str) -> FieldSpec {
        self.for_kind = kind;
        self
    }

    /// With a datalist of suggestions.
    pub(crate) fn list(mut self, list: &'static str) -> FieldSpec {
        self.list = list;
        self
    }

    /// Read-only when `yes`.
    pub(crate) fn readonly(mut self, yes: bool) -> FieldSpec {
        self.readonly = yes;
        self
    }

    /// The field for the template: label `PREFIX.f.NAME`, hint
    /// `PREFIX.hint.NAME` when the catalog has one, value and error.
    pub(crate) fn view(
        &self,
        lang: Lang,
        prefix: &str,
        values: &BTreeMap<String, String>,
        errs: &Errs,
    ) -> Value {
        let label_key = format!("{prefix}.f.{}", self.name);
        let hint_key = format!("{prefix}.hint.{}", self.name);
        let hint = lang.t(&hint_key, &[]);
        let value = values.get(self.name).cloned().unwrap_or_default();
        let checked = !matches!(value.as_str(), "" | "0" | "false" | "off");
        let mut options = self.options.clone();
        // A current value that is not among the choices stays selectable.
        if (self.kind == "select" || self.kind == "prompt")
            && !value.is_empty()
            && !options.iter().any(|o| {
                o.get_attr("value")
                    .ok()
                    .and_then(|v| v.as_str().map(|s| s == value))
                    .unwrap_or(false)
            })
        {
            options.push(opt(&value, &value));
        }
        context! {
            name => self.name,
            kind => if self.kind == "prompt" { "select" } else { self.kind },
            for_kind => self.for_kind,
            required => self.required,
            readonly => self.readonly,
            list => self.list,
            label => lang.t(&label_key, &[]),
            hint => (hint != hint_key).then_some(hint),
            value => value,
            checked => checked,
            options => options,
            error => errs.get(self.name).cloned(),
        }
    }
}

/// Field groups for the template: `[{title, fields}]`.
pub(crate) fn groups_view(
    lang: Lang,
    prefix: &str,
    groups: &[(&str, Vec<FieldSpec>)],
    values: &BTreeMap<String, String>,
    errs: &Errs,
) -> Vec<Value> {
    groups
        .iter()
        .map(|(key, fields)| {
            context! {
                id => *key,
                title => lang.t(&format!("{prefix}.group.{key}"), &[]),
                fields => fields.iter().map(|f| f.view(lang, prefix, values, errs)).collect::<Vec<_>>(),
            }
        })
        .collect()
}

/// The sounds an admin can choose: built-in prompts (files of the sounds
/// directory in the configured language, by name) and uploaded media, as
/// select options with "none" first.
pub(crate) async fn prompt_options(engine: &Engine, lang: Lang) -> Vec<Value> {
    let mut out = vec![opt("", &lang.t("cc.none", &[]))];
    for name in builtin_prompts(engine).await {
        let label = lang.t("cc.builtin_prompt", &[("name", &name)]);
        out.push(opt(&name, &label));
    }
    match engine.ctx().store.list_media_files().await {
        Ok(files) => {
            for m in files {
                let label = lang.t("cc.media_prompt", &[("name", &m.name)]);
                out.push(opt(&m.name, &label));
            }
        }
        Err(e) => tracing::error!("listing media files for the prompt choices: {e}"),
    }
    out
}

/// Names of the built-in prompts (`<sounds_dir>/<language>/*.wav`).
pub(crate) async fn builtin_prompts(engine: &Engine) -> Vec<String> {
    let cfg = &engine.ctx().cfg;
    let dir = cfg.media.sounds_dir.join(&cfg.media.language);
    let mut names = BTreeSet::new();
    if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = entries.next_entry().await {
            let path = e.path();
            let is_wav = path
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("wav"));
            if is_wav {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    names.insert(stem.to_string());
                }
            }
        }
    }
    names.into_iter().collect()
}

/// The live view of the queue service: agents by id (status, state) and
/// the number of waiting callers by queue.
pub(crate) struct Live {
    /// `id -> (status, state)`.
    pub agents: BTreeMap<String, (String, String)>,
    /// `queue -> waiting callers` (number, waited ms).
    pub waiting: BTreeMap<String, Vec<(String, u64)>>,
}

/// Reads the live view.
pub(crate) async fn live(engine: &Engine) -> Live {
    let v = engine.queues().inspect().await;
    let agents = v["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let id = a["id"].as_str()?.to_string();
            let status = a["status"].as_str().unwrap_or_default().to_string();
            let state = a["state"].as_str().unwrap_or_default().to_string();
            Some((id, (status, state)))
        })
        .collect();
    let waiting = v["waiting"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(q, members)| {
            let list = members
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    (
                        m["caller_number"].as_str().unwrap_or_default().to_string(),
                        m["waited_ms"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            (q.clone(), list)
        })
        .collect();
    Live { agents, waiting }
}

/// What a form page shows: values, errors by field, a message.
pub(crate) struct FormPage {
    /// Field values.
    pub values: BTreeMap<String, String>,
    /// Errors by field (`_form`: the whole form).
    pub errs: Errs,
    /// A message after a change ("saved").
    pub flash: Option<String>,
}

/// Puts a refusal next to its field (when the form has that field) or on
/// the whole form.
pub(crate) fn place_error(errs: &mut Errs, fields: &[&str], lang: Lang, e: &SettingsError) {
    let msg = refusal(lang, e);
    match e.field.as_deref() {
        Some(f) if fields.contains(&f) => {
            errs.insert(f.to_string(), msg);
        }
        _ => {
            errs.insert("_form".into(), msg);
        }
    }
}
