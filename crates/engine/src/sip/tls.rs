//! The certificates of SIP over TLS (and secure WebSocket, on
//! `sip.wss_port`, with the same one): the configured PEM files, or a
//! self-signed certificate made on first run and kept in `<data_dir>/tls/`
//! (so phones that pinned it keep trusting it across restarts). Gateways'
//! certificates are verified against the Mozilla roots (webpki-roots) and
//! the authorities in `sip.tls_ca`; there is no "accept any certificate".

use crate::base::config::Config;
use anyhow::Context;
use sip::transport::{client_config, public_roots, server_config_from_pem, TlsListen, TlsSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// TLS settings of the internal profile (the phones' listener on
/// `sip.tls_port`, the browsers' secure WebSocket listener on
/// `sip.wss_port`, if not 0) and of the external one (gateways with
/// `transport = tls`, and carriers' connections on `sip.trunk_tls_port`
/// if not 0). Every listener presents the same certificate.
pub fn settings(cfg: &Config) -> anyhow::Result<(TlsSettings, TlsSettings)> {
    let mut external = TlsSettings::client_only().context("TLS client configuration")?;
    if let Some(ca) = &cfg.sip.tls_ca {
        external.client = Arc::new(client_with_ca(ca)?);
    }
    let mut internal = external.clone();
    if cfg.sip.tls_port != 0 || cfg.sip.trunk_tls_port != 0 || cfg.sip.wss_port != 0 {
        let (cert, key) = match (&cfg.sip.tls_cert, &cfg.sip.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => self_signed(cfg)?,
        };
        let cert_pem = std::fs::read(&cert)
            .with_context(|| format!("sip.tls_cert: reading {}", cert.display()))?;
        let key_pem = std::fs::read(&key)
            .with_context(|| format!("sip.tls_key: reading {}", key.display()))?;
        let server = server_config_from_pem(&cert_pem, &key_pem).map_err(|e| {
            anyhow::anyhow!(
                "sip.tls_cert {} / sip.tls_key {}: {e}",
                cert.display(),
                key.display()
            )
        })?;
        let server = Arc::new(server);
        let listen = |port: u16| {
            (port != 0).then(|| TlsListen {
                bind: SocketAddr::new(cfg.server.bind, port),
                server: server.clone(),
            })
        };
        internal.listen = listen(cfg.sip.tls_port);
        external.listen = listen(cfg.sip.trunk_tls_port);
        internal.wss = listen(cfg.sip.wss_port);
    }
    Ok((internal, external))
}

/// A client configuration trusting the Mozilla roots and the PEM
/// certificates in `ca`.
fn client_with_ca(ca: &Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pem = std::fs::read(ca).with_context(|| format!("sip.tls_ca: reading {}", ca.display()))?;
    let mut roots = public_roots();
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| anyhow::anyhow!("sip.tls_ca {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("sip.tls_ca {}: {e}", ca.display()))?;
        added += 1;
    }
    if added == 0 {
        anyhow::bail!("sip.tls_ca {}: no CERTIFICATE in it", ca.display());
    }
    client_config(roots).context("TLS client configuration")
}

/// The self-signed certificate in `<data_dir>/tls/`, made now if missing.
fn self_signed(cfg: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = cfg.server.data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let advertise = cfg.advertise().to_string();
    if !names.contains(&advertise) {
        names.push(advertise);
    }
    let made = rcgen::generate_simple_self_signed(names.clone())
        .context("making a self-signed TLS certificate")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.cert.pem())
        .with_context(|| format!("writing {}", cert.display()))?;
    tracing::warn!(
        "sip.tls_port: no sip.tls_cert configured, made a self-signed certificate for {} in {} \
         (phones must be told to trust it; configure sip.tls_cert/tls_key for a real one)",
        names.join(", "),
        cert.display()
    );
    Ok((cert, key))
}

/// Write a private key readable by its owner only (0600, set on creation
/// so it is never readable by others, not even for a moment).
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(data)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let mut cfg = Config::default();
        cfg.server.data_dir = dir.to_path_buf();
        cfg.server.bind = [127, 0, 0, 1].into();
        cfg.sip.tls_port = 5061;
        cfg
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn self_signed_certificate_is_made_once_with_a_private_key() {
        let dir = tempdir("selfsigned");
        let cfg = config(&dir);
        let (internal, external) = settings(&cfg).expect("settings");
        assert!(external.listen.is_none());
        let listen = internal.listen.expect("a listener");
        assert_eq!(listen.bind.port(), 5061);
        let cert = std::fs::read(dir.join("tls/cert.pem")).expect("cert written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("tls/key.pem"))
                .expect("key written")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A restart keeps the same certificate.
        settings(&cfg).expect("settings again");
        assert_eq!(std::fs::read(dir.join("tls/cert.pem")).expect("cert"), cert);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_certificate_files_are_a_clear_error() {
        let dir = tempdir("bad");
        let mut cfg = config(&dir);
        std::fs::write(dir.join("c.pem"), "not a certificate").expect("write");
        std::fs::write(dir.join("k.pem"), "not a key").expect("write");
        cfg.sip.tls_cert = Some(dir.join("c.pem"));
        cfg.sip.tls_key = Some(dir.join("k.pem"));
        let e = settings(&cfg).expect_err("refused").to_string();
        assert!(e.contains("sip.tls_cert"), "{e}");
        cfg.sip.tls_cert = Some(dir.join("missing.pem"));
        let e = format!("{:#}", settings(&cfg).expect_err("refused"));
        assert!(e.contains("missing.pem"), "{e}");
        cfg.sip.tls_port = 0;
        assert!(settings(&cfg).expect("no listener").0.listen.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wss_alone_uses_the_same_certificate() {
        let dir = tempdir("wss");
        let mut cfg = config(&dir);
        cfg.sip.tls_port = 0;
        cfg.sip.wss_port = 7443;
        let (internal, external) = settings(&cfg).expect("settings");
        assert!(internal.listen.is_none(), "no SIP/TLS listener");
        assert!(external.wss.is_none());
        let wss = internal.wss.expect("a WSS listener");
        assert_eq!(wss.bind.port(), 7443);
        assert!(
            dir.join("tls/cert.pem").exists(),
            "self-signed on first run"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_trunk_side_listens_on_its_own_port_with_the_same_certificate() {
        let dir = tempdir("trunk");
        let mut cfg = config(&dir);
        cfg.sip.tls_port = 0;
        cfg.sip.trunk_tls_port = 5081;
        let (internal, external) = settings(&cfg).expect("settings");
        assert!(internal.listen.is_none());
        assert_eq!(external.listen.expect("trunk listener").bind.port(), 5081);
        cfg.sip.tls_port = 5061;
        let (internal, external) = settings(&cfg).expect("settings");
        let (i, e) = (
            internal.listen.expect("tls"),
            external.listen.expect("trunk"),
        );
        assert!(Arc::ptr_eq(&i.server, &e.server), "one certificate");

        let _ = std::fs::remove_dir_all(&dir);
    }
}
