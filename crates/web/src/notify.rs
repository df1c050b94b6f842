//! Notifications to the outside (FEATURES C3): e-mail through an SMTP
//! server (lettre, STARTTLS or TLS with rustls) and SMS through an HTTP
//! gateway whose URL (and body) are templates with `{mobile}` and `{text}`.
//! The settings pages use them for "send a test"; the other modules
//! (tickets, alerts) send through them too. Each returns what the other
//! side answered, or why nothing was sent.

use std::collections::BTreeMap;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long a test may take before it is reported as timed out.
const TIMEOUT: Duration = Duration::from_secs(15);

/// SMTP settings (`smtp.*` keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailSettings {
    /// Server name or address.
    pub host: String,
    /// Port (25, 465, 587...).
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    /// Sign-in name; empty: no authentication.
    pub username: String,
    /// Sign-in password.
    pub password: String,
    /// The sender address.
    pub from: String,
}

/// SMS gateway settings (`sms.*` keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmsSettings {
    /// URL template, e.g. `https://gw.example.com/send?to={mobile}&msg={text}`.
    pub url: String,
    /// `GET` or `POST`.
    pub method: String,
    /// Body template for POST (may be empty).
    pub body: String,
    /// Content type of the POST body.
    pub content_type: String,
}

impl EmailSettings {
    /// From the stored settings.
    pub fn from_map(m: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        EmailSettings {
            host: get("smtp.host"),
            port: get("smtp.port").parse().unwrap_or(25),
            security: m
                .get("smtp.security")
                .cloned()
                .unwrap_or_else(|| "starttls".into()),
            username: get("smtp.username"),
            password: get("smtp.password"),
            from: get("smtp.from"),
        }
    }
}

impl SmsSettings {
    /// From the stored settings.
    pub fn from_map(m: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        SmsSettings {
            url: get("sms.url"),
            method: m.get("sms.method").cloned().unwrap_or_else(|| "GET".into()),
            body: get("sms.body"),
            content_type: m
                .get("sms.content_type")
                .cloned()
                .unwrap_or_else(|| "application/x-www-form-urlencoded".into()),
        }
    }
}

/// Sends one plain-text e-mail; Ok with the server's final answer (code
/// and text), or the reason it was not sent.
pub async fn send_email(
    s: &EmailSettings,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<String, String> {
    if s.host.trim().is_empty() {
        return Err("no SMTP server is set".into());
    }
    let from: Mailbox = s
        .from
        .parse()
        .map_err(|e| format!("sender '{}': {e}", s.from))?;
    let to: Mailbox = to.parse().map_err(|e| format!("recipient '{to}': {e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| format!("message: {e}"))?;
    let builder = match s.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &s.host,
        )),
    }
    .map_err(|e| format!("server '{}': {e}", s.host))?;
    let mut builder = builder.port(s.port).timeout(Some(TIMEOUT));
    if !s.username.is_empty() {
        builder = builder.credentials(Credentials::new(s.username.clone(), s.password.clone()));
    }
    let transport = builder.build();
    match tokio::time::timeout(TIMEOUT, transport.send(message)).await {
        Ok(Ok(resp)) => Ok(format!(
            "{} {}",
            resp.code(),
            resp.message().collect::<Vec<_>>().join(" ")
        )),
        Ok(Err(e)) => Err(format!("{e}")),
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// `template` with `{mobile}` and `{text}` filled in, each percent-encoded
/// when `encode` (for URLs).
pub fn fill(template: &str, mobile: &str, text: &str, encode: bool) -> String {
    let e = |v: &str| {
        if encode {
            crate::form::encode(v)
        } else {
            v.to_string()
        }
    };
    template
        .replace("{mobile}", &e(mobile))
        .replace("{text}", &e(text))
}

/// Sends one SMS through the gateway; Ok with its HTTP status and the
/// start of its answer, or the reason it was not sent.
pub async fn send_sms(s: &SmsSettings, mobile: &str, text: &str) -> Result<(u16, String), String> {
    if s.url.trim().is_empty() {
        return Err("no SMS gateway URL is set".into());
    }
    let url = fill(&s.url, mobile, text, true);
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let req = if s.method.eq_ignore_ascii_case("POST") {
        let form = s.content_type.contains("x-www-form-urlencoded");
        client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, s.content_type.clone())
            .body(fill(&s.body, mobile, text, form))
    } else {
        client.get(&url)
    };
    let resp = req.send().await.map_err(|e| format!("{e}"))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Ok((status, body.chars().take(500).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_and_encoded_for_urls() {
        assert_eq!(
            fill(
                "https://gw/send?to={mobile}&msg={text}",
                "+86 138",
                "你好 & bye",
                true
            ),
            "https://gw/send?to=%2B86+138&msg=%E4%BD%A0%E5%A5%BD+%26+bye"
        );
        assert_eq!(
            fill(
                "{\"to\":\"{mobile}\",\"text\":\"{text}\"}",
                "138",
                "hi",
                false
            ),
            "{\"to\":\"138\",\"text\":\"hi\"}"
        );
    }

    #[tokio::test]
    async fn nothing_is_sent_without_a_server() {
        let e = send_email(&EmailSettings::default(), "a@b.c", "s", "b").await;
        assert_eq!(e, Err("no SMTP server is set".into()));
        let e = send_sms(&SmsSettings::default(), "138", "hi").await;
        assert_eq!(e, Err("no SMS gateway URL is set".into()));
        let bad_from = EmailSettings {
            host: "127.0.0.1".into(),
            from: "not an address".into(),
            ..Default::default()
        };
        let e = send_email(&bad_from, "a@b.c", "s", "b").await.unwrap_err();
        assert!(e.starts_with("sender 'not an address'"), "{e}");
    }
}
