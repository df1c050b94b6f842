//! `switchboard gateway ...` and `switchboard route add|list|remove`:
//! provisioning gateways and routing rules without the web admin, in the
//! database the server uses (a running server applies the change within
//! seconds: the store bumps the area's change counter). Scripts outside the
//! repository use these names and flags; keep them.
//!
//! Each change is written to the audit log like the web admin's changes:
//! action `change`, method `CLI`, the command as URL, its arguments with
//! secrets replaced by `***`, and whether it succeeded.

use anyhow::Context;
use callcenter::gateway::config::{
    self, parse_codecs, parse_host_port, split_list, FieldError, Gateway, IdentityHeader, Mode,
    Privacy, Transport,
};
use callcenter::routing::{Pattern, RouteTable, Rule, RuleKind};
use clap::{Args, Subcommand};
use engine::callcenter_settings::CallcenterSettings;
use engine::Config;
use store::{Store, StoreError};

/// `switchboard gateway ...`.
#[derive(Subcommand, Debug)]
pub enum GatewayCmd {
    /// Add a SIP gateway: a peer trunk (nni: no registration, its calls
    /// accepted on the trunk port from its addresses), a carrier we
    /// register to (uni, needs --username and --password) or an IMS core
    /// (ims: also --impu, --impi and --home-domain).
    Add(Box<GatewayAddArgs>),
    /// List the gateways (passwords are never shown).
    List,
    /// Remove the gateway NAME (refused while a routing rule uses it).
    Remove {
        /// The gateway's name.
        name: String,
    },
}

/// The flags of `gateway add`.
#[derive(Args, Debug)]
pub struct GatewayAddArgs {
    /// Unique name: letters, digits, '.', '_', '-'.
    name: String,
    /// nni, uni or ims.
    #[arg(long)]
    mode: String,
    /// The gateway's host name or IP address, with its SIP port if not 5060.
    #[arg(long, value_name = "HOST[:PORT]")]
    proxy: String,
    /// udp, tcp or tls.
    #[arg(long, default_value = "udp")]
    transport: String,
    /// The account the carrier gave us.
    #[arg(long, default_value = "")]
    username: String,
    /// Its password (stored for digest answers, never shown again).
    #[arg(long, default_value = "")]
    password: String,
    /// Digest user name when it differs from --username.
    #[arg(long, default_value = "")]
    auth_username: String,
    /// Digest realm [default: the proxy's host; IMS: the home domain].
    #[arg(long, default_value = "")]
    realm: String,
    /// User part of our From [default: --username].
    #[arg(long, default_value = "")]
    from_user: String,
    /// Host part of our From [default: the realm].
    #[arg(long, default_value = "")]
    from_domain: String,
    /// Where REGISTERs go when not to the proxy.
    #[arg(long, default_value = "", value_name = "HOST[:PORT]")]
    register_proxy: String,
    /// Where calls go when not to the proxy.
    #[arg(long, default_value = "", value_name = "HOST[:PORT]")]
    outbound_proxy: String,
    /// IMS public identity (sip: or tel: URI).
    #[arg(long, default_value = "")]
    impu: String,
    /// IMS private identity.
    #[arg(long, default_value = "")]
    impi: String,
    /// IMS home domain.
    #[arg(long, default_value = "")]
    home_domain: String,
    /// IMS P-CSCF or SBC: registrations and calls go there.
    #[arg(long, default_value = "", value_name = "HOST[:PORT]")]
    pcscf: String,
    /// Registration lifetime asked for, seconds.
    #[arg(long, default_value_t = config::DEFAULT_EXPIRE_SECS)]
    expire_secs: u32,
    /// Wait before registering again after a failure, seconds.
    #[arg(long, default_value_t = config::DEFAULT_RETRY_SECS)]
    retry_secs: u32,
    /// OPTIONS ping interval, seconds (0: off).
    #[arg(long, default_value_t = 0)]
    ping_secs: u32,
    /// Most concurrent calls (0: unlimited).
    #[arg(long, default_value_t = 0)]
    max_calls: u32,
    /// Leading digits removed from numbers sent to it.
    #[arg(long = "strip", default_value_t = 0, value_name = "N")]
    strip_digits: u32,
    /// Prefix put before numbers sent to it.
    #[arg(long = "prefix", default_value = "", value_name = "P")]
    add_prefix: String,
    /// Caller-ID number when the caller has none from the number pool.
    #[arg(long, default_value = "")]
    caller_id: String,
    /// Put the caller's number in From instead of --username.
    #[arg(long)]
    caller_id_in_from: bool,
    /// Offer SRTP (SDES, RTP/SAVP) on calls out (use with --transport tls).
    #[arg(long)]
    srtp: bool,
    /// Withhold the caller ID: none or id (Privacy: id).
    #[arg(long, default_value = "none")]
    privacy: String,
    /// Identity header for the caller ID: none, pai or ppi.
    #[arg(long, default_value = "none")]
    identity: String,
    /// Codecs offered, in order (PCMU, PCMA, G722, opus, telephone-event) [default: the server's].
    #[arg(long, default_value = "", value_name = "LIST")]
    codecs: String,
    /// NNI: addresses (IPs, CIDR networks) its calls come from [default: the proxy].
    #[arg(long, default_value = "", value_name = "LIST")]
    addresses: String,
    /// A note for administrators.
    #[arg(long, default_value = "")]
    note: String,
    /// Add it disabled (no registration, no calls).
    #[arg(long)]
    disabled: bool,
}

/// The flags of `route add`.
#[derive(Args, Debug)]
pub struct RouteAddArgs {
    /// Unique rule name.
    name: String,
    /// basic, inbound, outbound, queue, ivr or robot.
    #[arg(long = "type", value_name = "TYPE")]
    kind: String,
    /// The number rule: digits (the whole number) or a regular expression.
    #[arg(long, value_name = "REGEX")]
    pattern: String,
    /// Outbound: the gateways, tried in this order.
    #[arg(long, default_value = "", value_name = "G[,G2...]")]
    gateway: String,
    /// Outbound: leading digits removed from the number.
    #[arg(long = "strip", default_value_t = 0, value_name = "N")]
    strip_digits: usize,
    /// Outbound: removed after --strip when the number starts with it.
    #[arg(long, value_name = "P")]
    strip_prefix: Option<String>,
    /// Outbound: put before the number.
    #[arg(long = "prefix", default_value = "", value_name = "P")]
    add_prefix: String,
    /// Outbound: hang up after this long without an answer, seconds.
    #[arg(long = "timeout", default_value_t = 60, value_name = "SECS")]
    timeout_secs: u32,
    /// Outbound: record the calls.
    #[arg(long)]
    record: bool,
    /// The target: the extension (basic), internal number (inbound), queue,
    /// IVR menu or robot; may use the pattern's groups ($1).
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
    /// Position in the matching order [default: after the last rule].
    #[arg(long)]
    order: Option<i64>,
    /// Add it disabled.
    #[arg(long)]
    disabled: bool,
}

/// Opens the database (creating the data directory as the other commands do).
async fn open(cfg: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("creating data dir {}", cfg.server.data_dir.display()))?;
    Ok(Store::open(&cfg.database_url()).await?)
}

/// `gateway add|list|remove`.
pub async fn gateway(cfg: &Config, cmd: GatewayCmd) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let result = match cmd {
        GatewayCmd::Add(args) => {
            let what = format!("gateway add {}", args.name);
            let r = gateway_add(&store, *args).await;
            audit(&store, &what, &r).await;
            r
        }
        GatewayCmd::List => gateway_list(&store).await,
        GatewayCmd::Remove { name } => {
            let r = gateway_remove(&store, &name).await;
            audit(&store, &format!("gateway remove {name}"), &r).await;
            r
        }
    };
    store.close().await;
    result
}

/// A choice flag (`--mode`, `--transport`, ...) parsed, or its one-line error.
fn choice<T: std::str::FromStr<Err = String>>(flag: &str, text: &str) -> anyhow::Result<T> {
    text.parse()
        .map_err(|e: String| anyhow::anyhow!("--{flag}: {e}"))
}

/// The flag that sets a gateway field, for messages.
fn flag_of(field: &str) -> String {
    match field {
        "name" => "NAME".into(),
        "port" => "--proxy (port)".into(),
        "strip_digits" => "--strip".into(),
        "add_prefix" => "--prefix".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// Every problem of a gateway, named by its flags.
fn flag_errors(name: &str, errors: &[FieldError]) -> String {
    let all: Vec<String> = errors
        .iter()
        .map(|e| format!("{} {}", flag_of(e.field), e.problem))
        .collect();
    format!("gateway {name:?}: {}", all.join("; "))
}

async fn gateway_add(store: &Store, a: GatewayAddArgs) -> anyhow::Result<()> {
    let (host, port) = parse_host_port(&a.proxy).map_err(|p| anyhow::anyhow!("--proxy: {p}"))?;
    let g = Gateway {
        name: a.name.trim().to_string(),
        note: a.note,
        mode: choice::<Mode>("mode", &a.mode)?,
        proxy: host,
        port: port.unwrap_or(config::DEFAULT_PORT),
        transport: choice::<Transport>("transport", &a.transport)?,
        username: a.username,
        auth_username: a.auth_username,
        password: a.password,
        realm: a.realm,
        from_user: a.from_user,
        from_domain: a.from_domain,
        register_proxy: a.register_proxy,
        outbound_proxy: a.outbound_proxy,
        expire_secs: a.expire_secs,
        retry_secs: a.retry_secs,
        ping_secs: a.ping_secs,
        caller_id_in_from: a.caller_id_in_from,
        codecs: parse_codecs(&a.codecs),
        max_calls: a.max_calls,
        strip_digits: a.strip_digits,
        add_prefix: a.add_prefix,
        caller_id: a.caller_id,
        privacy: choice::<Privacy>("privacy", &a.privacy)?,
        identity: choice::<IdentityHeader>("identity", &a.identity)?,
        enabled: !a.disabled,
        impu: a.impu,
        impi: a.impi,
        home_domain: a.home_domain,
        pcscf: a.pcscf,
        addresses: split_list(&a.addresses),
        srtp: a.srtp,
    };
    if let Err(e) = g.validate() {
        anyhow::bail!("{}", flag_errors(&g.name, &e.errors));
    }
    match store.add_gateway(&g).await {
        Ok(()) => {}
        Err(StoreError::GatewayExists(name)) => anyhow::bail!(
            "a gateway named {name:?} already exists (remove it first, or change it in the \
             web admin)"
        ),
        Err(StoreError::InvalidGateway(e)) => anyhow::bail!("{}", flag_errors(&g.name, &e.errors)),
        Err(e) => return Err(e.into()),
    }
    println!(
        "added gateway {} ({}, {}:{}/{})",
        g.name, g.mode, g.proxy, g.port, g.transport
    );
    Ok(())
}

async fn gateway_list(store: &Store) -> anyhow::Result<()> {
    let all = store.list_gateways().await?;
    println!(
        "{:<20} {:<5} {:<32} {:<9} {:<24} {:<8} NOTE",
        "NAME", "MODE", "PROXY", "TRANSPORT", "USERNAME", "ENABLED"
    );
    for g in &all {
        println!(
            "{:<20} {:<5} {:<32} {:<9} {:<24} {:<8} {}",
            g.name,
            g.mode.as_str(),
            g.proxy_target(),
            g.transport.as_str(),
            g.username,
            if g.enabled { "yes" } else { "no" },
            g.note
        );
    }
    println!("{} gateway(s)", all.len());
    Ok(())
}

/// The rules (of the database, else of the config file) that send calls
/// through `gateway`.
fn rules_using(settings: &CallcenterSettings, gateway: &str) -> Vec<String> {
    settings
        .routes
        .rules()
        .filter(|r| r.gateways().iter().any(|g| g == gateway))
        .map(|r| format!("{:?}", r.name))
        .collect()
}

async fn gateway_remove(store: &Store, name: &str) -> anyhow::Result<()> {
    if store.get_gateway(name).await?.is_none() {
        anyhow::bail!("no gateway named {name:?}");
    }
    if let Some(settings) = CallcenterSettings::read(store).await? {
        let users = rules_using(&settings, name);
        if !users.is_empty() {
            anyhow::bail!(
                "gateway {name:?} is used by routing rule(s) {}: change or remove them first",
                users.join(", ")
            );
        }
    }
    if !store.remove_gateway(name).await? {
        anyhow::bail!("no gateway named {name:?}");
    }
    println!("removed gateway {name}");
    Ok(())
}

/// The routing rules in force: the database's, else (never saved yet) the
/// config file's, which the server would seed the database with. The flag
/// says whether they came from the database.
async fn current_rules(cfg: &Config, store: &Store) -> anyhow::Result<(CallcenterSettings, bool)> {
    Ok(match CallcenterSettings::read(store).await? {
        Some(s) => (s, true),
        None => (CallcenterSettings::from_config(&cfg.callcenter), false),
    })
}

/// Saves the whole rule list `rules` after checking it as the web admin
/// does (the table, and the queues and menus it names).
async fn save_rules(
    cfg: &Config,
    store: &Store,
    mut settings: CallcenterSettings,
    rules: Vec<Rule>,
) -> anyhow::Result<()> {
    settings.routes = RouteTable::new(rules)?;
    settings.validate(&cfg.apps, None)?;
    settings.write_all(store).await?;
    Ok(())
}

/// `route add`.
pub async fn route_add(cfg: &Config, a: RouteAddArgs) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let what = format!("route add {}", a.name);
    let r = route_add_to(cfg, &store, a).await;
    audit(&store, &what, &r).await;
    store.close().await;
    r
}

async fn route_add_to(cfg: &Config, store: &Store, a: RouteAddArgs) -> anyhow::Result<()> {
    let (settings, stored) = current_rules(cfg, store).await?;
    let mut rules: Vec<Rule> = settings.routes.rules().cloned().collect();
    let name = a.name.trim().to_string();
    if rules.iter().any(|r| r.name == name) {
        anyhow::bail!("a routing rule named {name:?} already exists");
    }
    let target = a.target.clone().filter(|t| !t.trim().is_empty());
    let needs_target = |kind: &str| {
        target
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--target is required for --type {kind}"))
    };
    let kind = match a.kind.trim().to_ascii_lowercase().as_str() {
        "outbound" => {
            let gateways = split_list(&a.gateway);
            if gateways.is_empty() {
                anyhow::bail!("--gateway is required for --type outbound");
            }
            let known: Vec<String> = store
                .list_gateways()
                .await?
                .into_iter()
                .map(|g| g.name)
                .collect();
            if let Some(unknown) = gateways.iter().find(|g| !known.contains(g)) {
                anyhow::bail!(
                    "unknown gateway {unknown:?} in --gateway (add it with `switchboard \
                     gateway add`)"
                );
            }
            RuleKind::Outbound {
                gateways,
                strip_digits: a.strip_digits,
                strip_prefix: a.strip_prefix.clone().filter(|p| !p.is_empty()),
                add_prefix: a.add_prefix.clone(),
                timeout_secs: a.timeout_secs,
                record: a.record,
            }
        }
        "basic" => RuleKind::Basic { target },
        "inbound" => RuleKind::Inbound {
            target: needs_target("inbound")?,
            schedule: None,
            after_hours: None,
        },
        "queue" => RuleKind::Queue {
            queue: needs_target("queue")?,
        },
        "ivr" => RuleKind::Ivr { menu: target },
        "robot" => RuleKind::Robot {
            robot: target,
            voice_threshold: 200,
            silence_threshold: 200,
        },
        other => anyhow::bail!(
            "--type: unknown rule type {other:?} (use basic, inbound, outbound, queue, ivr, robot)"
        ),
    };
    let rule = Rule {
        id: rules.iter().map(|r| r.id).max().unwrap_or(0) + 1,
        name: name.clone(),
        order: a
            .order
            .unwrap_or_else(|| rules.iter().map(|r| r.order).max().unwrap_or(0) + 10),
        pattern: Pattern::from_text(&a.pattern),
        kind,
        enabled: !a.disabled,
    };
    let (id, order) = (rule.id, rule.order);
    rules.push(rule.clone());
    if stored {
        // One row, so a web admin's concurrent edit of another rule or a
        // queue is not overwritten; the whole list is checked first.
        let mut checked = settings;
        checked.routes = RouteTable::new(rules)?;
        checked.validate(&cfg.apps, None)?;
        store
            .upsert_routing_rule(id, &serde_json::to_string(&rule)?)
            .await?;
    } else {
        save_rules(cfg, store, settings, rules).await?;
    }
    println!("added routing rule {name} (id {id}, order {order})");
    Ok(())
}

/// What a rule does, in a few words, for `route list`.
fn summary(kind: &RuleKind) -> String {
    let or_same = |t: &Option<String>| t.clone().unwrap_or_else(|| "(the number)".into());
    match kind {
        RuleKind::Basic { target } => format!("extension {}", or_same(target)),
        RuleKind::Inbound {
            target, schedule, ..
        } => match schedule {
            Some(_) => format!("-> {target} (office hours)"),
            None => format!("-> {target}"),
        },
        RuleKind::Outbound {
            gateways,
            strip_digits,
            strip_prefix,
            add_prefix,
            timeout_secs,
            record,
        } => {
            let mut s = format!("via {}", gateways.join(","));
            if *strip_digits > 0 {
                s.push_str(&format!(" strip {strip_digits}"));
            }
            if let Some(p) = strip_prefix {
                s.push_str(&format!(" strip-prefix {p}"));
            }
            if !add_prefix.is_empty() {
                s.push_str(&format!(" prefix {add_prefix}"));
            }
            s.push_str(&format!(" timeout {timeout_secs}s"));
            if *record {
                s.push_str(" record");
            }
            s
        }
        RuleKind::Queue { queue } => format!("queue {queue}"),
        RuleKind::Ivr { menu } => format!("IVR {}", or_same(menu)),
        RuleKind::Robot { robot, .. } => format!("robot {}", or_same(robot)),
    }
}

/// `route list`.
pub async fn route_list(cfg: &Config) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let read = current_rules(cfg, &store).await;
    store.close().await;
    let (settings, stored) = read?;
    if !stored {
        println!("(the database holds no rules yet: these are the config file's)");
    }
    println!(
        "{:<6} {:<20} {:<9} {:<24} {:<8} WHAT",
        "ORDER", "NAME", "TYPE", "PATTERN", "ENABLED"
    );
    for r in settings.routes.rules() {
        println!(
            "{:<6} {:<20} {:<9} {:<24} {:<8} {}",
            r.order,
            r.name,
            r.kind.type_name(),
            r.pattern.as_str(),
            if r.enabled { "yes" } else { "no" },
            summary(&r.kind)
        );
    }
    println!("{} rule(s)", settings.routes.len());
    Ok(())
}

/// `route remove`.
pub async fn route_remove(cfg: &Config, name: &str) -> anyhow::Result<()> {
    let store = open(cfg).await?;
    let r = route_remove_from(cfg, &store, name).await;
    audit(&store, &format!("route remove {name}"), &r).await;
    store.close().await;
    r
}

async fn route_remove_from(cfg: &Config, store: &Store, name: &str) -> anyhow::Result<()> {
    let (settings, stored) = current_rules(cfg, store).await?;
    let Some(rule) = settings.routes.rules().find(|r| r.name == name).cloned() else {
        anyhow::bail!("no routing rule named {name:?}");
    };
    if stored {
        store.remove_routing_rule(rule.id).await?;
    } else {
        let rules = settings
            .routes
            .rules()
            .filter(|r| r.id != rule.id)
            .cloned()
            .collect();
        save_rules(cfg, store, settings, rules).await?;
    }
    println!("removed routing rule {name}");
    Ok(())
}

/// The process's arguments with secrets hidden: the value of `--password`
/// and the password in a `--database-url`.
fn redacted_args() -> String {
    let mut out = Vec::new();
    let mut hide_next: Option<&str> = None;
    for arg in std::env::args().skip(1) {
        if let Some(flag) = hide_next.take() {
            out.push(hide(flag, &arg));
            continue;
        }
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                out.push(format!("{flag}={}", hide(flag, value)));
            }
            _ => {
                if arg == "--password" {
                    hide_next = Some("--password");
                } else if arg == "--database-url" {
                    hide_next = Some("--database-url");
                }
                out.push(arg);
            }
        }
    }
    out.join(" ")
}

/// `value` of `flag` as the audit log may show it.
fn hide(flag: &str, value: &str) -> String {
    match flag {
        "--password" => "***".into(),
        "--database-url" => store::redact_url(value).into_owned(),
        _ => value.to_string(),
    }
}

/// Writes the audit entry of a CLI change (a failed write is a warning:
/// the change itself stands).
async fn audit(store: &Store, what: &str, result: &anyhow::Result<()>) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let status = match result {
        Ok(()) => 200,
        Err(e) => match e.downcast_ref::<StoreError>() {
            Some(StoreError::Database { .. } | StoreError::Connect { .. }) => 500,
            _ => 400,
        },
    };
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let entry = store::AuditEntry {
        id: 0,
        at,
        action: "change".into(),
        username: if user.is_empty() {
            "cli".into()
        } else {
            format!("cli:{user}")
        },
        ip: String::new(),
        method: "CLI".into(),
        url: what.to_string(),
        params: redacted_args(),
        status,
        ok: result.is_ok(),
        duration_ms: 0,
    };
    if let Err(e) = store.add_audit(&entry).await {
        eprintln!("warning: the audit entry was not written: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_by_their_flags() {
        assert_eq!(flag_of("strip_digits"), "--strip");
        assert_eq!(flag_of("outbound_proxy"), "--outbound-proxy");
        assert_eq!(flag_of("name"), "NAME");
        assert_eq!(hide("--password", "x"), "***");
        assert_eq!(
            hide("--database-url", "postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
