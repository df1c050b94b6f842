//! Notifications to the outside (FEATURES C3): e-mail through an SMTP
//! server (lettre, STARTTLS or TLS with rustls) and SMS through an HTTP
//! gateway whose URL (and body) are templates with `{mobile}` and `{text}`.
//! The settings pages use them for "send a test"; the other modules
//! (tickets, alerts) send through them too. Each returns what the other
//! side answered, or why nothing was sent.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// Cloud metadata services outside 169.254.0.0/16 (Alibaba Cloud, Azure
/// wire server, AWS over IPv6): they hand out credentials to whoever asks
/// from inside the machine.
const METADATA: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
];

/// Why the gateway may not be at `ip` (unless `web.sms_allow_private_targets`),
/// or None: loopback, link-local (169.254.0.0/16 with the usual metadata
/// service, fe80::/10), unspecified (0.0.0.0/8, ::), broadcast, multicast
/// and the cloud metadata addresses. A settings form must not be a way
/// to make the server call itself or its cloud's credential service.
pub fn forbidden_target(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    if METADATA.contains(&ip) {
        return Some("a cloud metadata address");
    }
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.octets()[0] == 0 {
                Some("an unspecified address")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("a broadcast or multicast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if (v6.segments()[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

/// The addresses the gateway URL's host stands for, each checked with
/// [`forbidden_target`] unless `allow_private`; the request then goes to
/// exactly these (no second lookup that could answer differently).
async fn gateway_addrs(
    url: &reqwest::Url,
    allow_private: bool,
) -> Result<Option<(String, Vec<SocketAddr>)>, String> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| "the gateway URL has no port".to_string())?;
    let refuse = |ip: IpAddr, why: &str| {
        Err(format!(
            "the gateway address {ip} is {why}; refused (set web.sms_allow_private_targets \
             in the configuration file to allow it)"
        ))
    };
    let host = url
        .host_str()
        .ok_or_else(|| "the gateway URL has no host".to_string())?;
    // IPv6 literals come in brackets.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return match forbidden_target(ip) {
            Some(why) if !allow_private => refuse(ip, why),
            _ => Ok(None),
        };
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("looking up '{host}': {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("'{host}' has no address"));
    }
    if !allow_private {
        for a in &addrs {
            if let Some(why) = forbidden_target(a.ip()) {
                return refuse(a.ip(), why);
            }
        }
    }
    Ok(Some((host.to_string(), addrs)))
}

/// Sends one SMS through the gateway; Ok with its HTTP status, or the
/// reason it was not sent. The answer's body is never read or shown (the
/// test call must not turn the server into a proxy that fetches pages for
/// whoever edits the settings), redirects are not followed, and the
/// gateway may not be on a loopback, link-local or metadata address
/// unless `allow_private` ([`forbidden_target`]).
pub async fn send_sms(
    s: &SmsSettings,
    mobile: &str,
    text: &str,
    allow_private: bool,
) -> Result<u16, String> {
    if s.url.trim().is_empty() {
        return Err("no SMS gateway URL is set".into());
    }
    let url = fill(&s.url, mobile, text, true);
    let parsed = reqwest::Url::parse(&url).map_err(|e| format!("the gateway URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the gateway URL must be http or https, not {}",
            parsed.scheme()
        ));
    }
    let mut builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some((name, addrs)) = gateway_addrs(&parsed, allow_private).await? {
        builder = builder.resolve_to_addrs(&name, &addrs);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let req = if s.method.eq_ignore_ascii_case("POST") {
        let form = s.content_type.contains("x-www-form-urlencoded");
        client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, s.content_type.clone())
            .body(fill(&s.body, mobile, text, form))
    } else {
        client.get(parsed)
    };
    let resp = req.send().await.map_err(|e| format!("{e}"))?;
    Ok(resp.status().as_u16())
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
        let e = send_sms(&SmsSettings::default(), "138", "hi", false).await;
        assert_eq!(e, Err("no SMS gateway URL is set".into()));
        let bad_from = EmailSettings {
            host: "127.0.0.1".into(),
            from: "not an address".into(),
            ..Default::default()
        };
        let e = send_email(&bad_from, "a@b.c", "s", "b").await.unwrap_err();
        assert!(e.starts_with("sender 'not an address'"), "{e}");
    }

    #[test]
    fn loopback_link_local_unspecified_and_metadata_targets_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "100.100.100.200",
            "168.63.129.16",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert!(forbidden_target(parsed).is_some(), "{ip} must be refused");
        }
        // A gateway in the office network or on the internet is fine.
        for ip in [
            "10.1.2.3",
            "192.168.1.20",
            "172.16.0.5",
            "203.0.113.7",
            "fd12::1",
            "2001:db8::1",
            "fec0::1",
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden_target(parsed), None, "{ip}");
        }
    }

    /// A real HTTP server on loopback that counts the requests it gets
    /// and answers each with `status`, a `Location` and a secret body.
    async fn gateway(status: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = "SECRET-INSTANCE-CREDENTIALS";
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nLocation: http://127.0.0.1:9/elsewhere\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        (port, hits)
    }

    fn settings_for(url: String) -> SmsSettings {
        SmsSettings {
            url,
            method: "GET".into(),
            ..SmsSettings::default()
        }
    }

    #[tokio::test]
    async fn an_sms_gateway_on_loopback_is_refused_unless_allowed() {
        let (port, hits) = gateway(200).await;
        for url in [
            format!("http://127.0.0.1:{port}/send?to={{mobile}}"),
            format!("http://localhost:{port}/send?to={{mobile}}"),
            format!("http://[::1]:{port}/send?to={{mobile}}"),
            "http://169.254.169.254/latest/meta-data/".to_string(),
        ] {
            let e = send_sms(&settings_for(url.clone()), "138", "hi", false)
                .await
                .unwrap_err();
            assert!(e.contains("refused"), "{url}: {e}");
            assert!(e.contains("web.sms_allow_private_targets"), "{e}");
        }
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing was sent"
        );
        // Allowed by the configuration: sent, and only the status comes back.
        let url = format!("http://127.0.0.1:{port}/send?to={{mobile}}");
        assert_eq!(
            send_sms(&settings_for(url), "138", "hi", true).await,
            Ok(200)
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_sms_gateway_redirect_is_not_followed() {
        let (port, hits) = gateway(302).await;
        let url = format!("http://127.0.0.1:{port}/send?to={{mobile}}");
        assert_eq!(
            send_sms(&settings_for(url), "138", "hi", true).await,
            Ok(302)
        );
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        let e = send_sms(&settings_for("ftp://gw/{mobile}".into()), "138", "hi", true)
            .await
            .unwrap_err();
        assert!(e.contains("http or https"), "{e}");
    }
}
