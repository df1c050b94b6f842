//! Languages: the message catalogs (one TOML file per language, embedded),
//! choosing the language of a request, and locale-aware formatting of
//! numbers, dates and durations.
//!
//! A request's language is the `lang` cookie when it names a supported
//! language (set by the switch in the page header), otherwise the best match
//! of `Accept-Language`, otherwise English.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;

/// Name of the cookie that keeps the chosen language.
pub const LANG_COOKIE: &str = "lang";

/// A supported language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese (zh-CN).
    Zh,
}

impl Lang {
    /// Every supported language, in the order the switch shows them.
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The BCP 47 tag, used in `<html lang>`, the cookie and URLs.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "中文",
        }
    }

    /// The language a tag such as `zh`, `zh-CN`, `zh-Hans`, `en-US` names.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` value (highest
    /// q first, then the order given); `None` if none is supported.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(u32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let mut q = 1000u32;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    // q is 0..1 with up to three decimals; anything else counts as 0.
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0) as u32)
                        .unwrap_or(0);
                }
            }
            if q == 0 {
                continue;
            }
            if let Some(lang) = Lang::from_tag(tag) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, lang));
                }
            }
        }
        best.map(|(_, l)| l)
    }

    /// The language of a request: cookie, then `Accept-Language`, then English.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(lang) =
            crate::auth::cookie(headers, LANG_COOKIE).and_then(|v| Lang::from_tag(&v))
        {
            return lang;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
            .unwrap_or(Lang::En)
    }

    /// The message `key` in this language, `{name}` placeholders replaced by
    /// `args`. An unknown key yields the key itself (the catalog tests make
    /// sure templates only use known keys).
    pub fn t(self, key: &str, args: &[(&str, &str)]) -> String {
        let text = catalog(self).get(key).map(String::as_str).unwrap_or(key);
        if args.is_empty() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// `n` with thousands separators (both locales group by three with ",").
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            out.push('-');
        }
        // The first group holds 1-3 digits, every later one exactly 3.
        let head = match digits.len() % 3 {
            0 => 3.min(digits.len()),
            r => r,
        };
        out.push_str(&digits[..head]);
        for group in digits.as_bytes()[head..].chunks(3) {
            out.push(',');
            out.push_str(std::str::from_utf8(group).unwrap_or_default());
        }
        out
    }

    /// A unix-millisecond time in the server's local time zone:
    /// `2026-11-25 10:03` in English, `2026年11月25日 10:03` in Chinese.
    /// Times at or before the epoch (e.g. the seeded admin's creation,
    /// unknown) are shown as `—`.
    pub fn datetime(self, unix_ms: i64) -> String {
        use chrono::TimeZone;
        if unix_ms <= 0 {
            return "—".to_string();
        }
        let Some(t) = chrono::Local.timestamp_millis_opt(unix_ms).single() else {
            return String::new();
        };
        match self {
            Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
            Lang::Zh => t.format("%Y年%-m月%-d日 %H:%M").to_string(),
        }
    }

    /// A duration in seconds, coarsely: `3 d 4 h 5 min` / `3天4小时5分钟`
    /// (seconds shown only under a minute).
    pub fn duration(self, secs: u64) -> String {
        let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
        let units: [(u64, &str, &str); 3] =
            [(d, " d", "天"), (h, " h", "小时"), (m, " min", "分钟")];
        let parts: Vec<String> = units
            .iter()
            .filter(|(v, _, _)| *v > 0)
            .map(|(v, en, zh)| match self {
                Lang::En => format!("{v}{en}"),
                Lang::Zh => format!("{v}{zh}"),
            })
            .collect();
        if parts.is_empty() {
            return match self {
                Lang::En => format!("{secs} s"),
                Lang::Zh => format!("{secs}秒"),
            };
        }
        match self {
            Lang::En => parts.join(" "),
            Lang::Zh => parts.concat(),
        }
    }
}

/// The English catalog's files: the core (layout, sign-in, users, roles,
/// departments) and one per area of pages.
const EN_FILES: &[&str] = &[
    include_str!("en.toml"),
    include_str!("en/voice.toml"),
    include_str!("en/callcenter.toml"),
    include_str!("en/system.toml"),
    include_str!("en/desk.toml"),
    include_str!("en/crm.toml"),
    include_str!("en/tickets.toml"),
    include_str!("en/account.toml"),
    include_str!("en/import.toml"),
    include_str!("en/records.toml"),
    include_str!("en/agents.toml"),
    include_str!("en/reports.toml"),
    include_str!("en/campaigns.toml"),
];

/// The Chinese catalog's files, in the same order as [`EN_FILES`].
const ZH_FILES: &[&str] = &[
    include_str!("zh.toml"),
    include_str!("zh/voice.toml"),
    include_str!("zh/callcenter.toml"),
    include_str!("zh/system.toml"),
    include_str!("zh/desk.toml"),
    include_str!("zh/crm.toml"),
    include_str!("zh/tickets.toml"),
    include_str!("zh/account.toml"),
    include_str!("zh/import.toml"),
    include_str!("zh/records.toml"),
    include_str!("zh/agents.toml"),
    include_str!("zh/reports.toml"),
    include_str!("zh/campaigns.toml"),
];

/// The catalog of `lang`, parsed once from its embedded TOML files.
fn catalog(lang: Lang) -> &'static HashMap<String, String> {
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    static ZH: OnceLock<HashMap<String, String>> = OnceLock::new();
    match lang {
        Lang::En => EN.get_or_init(|| parse_files(EN_FILES)),
        Lang::Zh => ZH.get_or_init(|| parse_files(ZH_FILES)),
    }
}

/// The keys of several catalog files together.
fn parse_files(files: &[&str]) -> HashMap<String, String> {
    files.iter().flat_map(|f| parse_catalog(f)).collect()
}

/// Flattens a TOML catalog (`[users] title = "..."`) into `users.title`
/// keys. A catalog that does not parse yields an empty map (and the unit
/// tests fail), never a panic at run time.
fn parse_catalog(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    match text.parse::<toml::Table>() {
        Ok(table) => flatten("", &table, &mut out),
        Err(e) => tracing::error!("message catalog does not parse: {e}"),
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            // Catalogs hold strings only; anything else is a mistake the
            // catalog test reports (the key is then missing).
            _ => tracing::error!("message catalog: {key} is not a string"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_parse_and_have_the_same_keys() {
        let en = parse_files(EN_FILES);
        let zh = parse_files(ZH_FILES);
        assert!(en.len() > 50, "English catalog too small: {}", en.len());
        let mut only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        let mut only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        only_en.sort();
        only_zh.sort();
        assert!(only_en.is_empty(), "keys missing in zh.toml: {only_en:?}");
        assert!(only_zh.is_empty(), "keys missing in en.toml: {only_zh:?}");
        // Same placeholders on both sides.
        for (k, v) in &en {
            let names = |s: &str| {
                let mut n: Vec<String> = s
                    .split('{')
                    .skip(1)
                    .filter_map(|p| p.split_once('}').map(|(a, _)| a.to_string()))
                    .collect();
                n.sort();
                n
            };
            assert_eq!(names(v), names(&zh[k]), "placeholders of {k}");
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, zh;q=0.7"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept_language("de, fr;q=0.8"), None);
        assert_eq!(
            Lang::from_accept_language("zh;q=0, en;q=0.1"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language(";;;q=abc,,"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn cookie_wins_over_accept_language() {
        let mut h = HeaderMap::new();
        h.insert("accept-language", "zh-CN".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Zh);
        h.insert("cookie", "a=b; lang=en".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert("cookie", "lang=klingon".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Zh);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn formats_per_locale() {
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::Zh.number(-1000), "-1,000");
        assert_eq!(Lang::En.number(999), "999");
        assert_eq!(
            Lang::En.duration(3 * 86_400 + 4 * 3600 + 5 * 60 + 7),
            "3 d 4 h 5 min"
        );
        assert_eq!(Lang::Zh.duration(3 * 86_400 + 5 * 60), "3天5分钟");
        assert_eq!(Lang::En.duration(42), "42 s");
        assert_eq!(Lang::Zh.duration(42), "42秒");
        let en = Lang::En.datetime(1_700_000_000_000);
        let zh = Lang::Zh.datetime(1_700_000_000_000);
        assert!(en.starts_with("2023-11-1"), "{en}");
        assert!(zh.starts_with("2023年11月1"), "{zh}");
        assert_eq!(Lang::En.datetime(0), "—");
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            Lang::En.t("login.throttled", &[("minutes", "15")]),
            "Too many failed sign-ins. Try again in 15 minutes."
        );
        assert_eq!(Lang::En.t("no.such.key", &[]), "no.such.key");
    }
}
