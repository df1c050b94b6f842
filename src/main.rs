//! `switchboard`: with no command it runs the server; subcommands provision
//! extensions, gateways and routing rules in the same database the server
//! uses (the running server picks the changes up without a restart) and
//! create API tokens for web users.

mod provision;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use engine::{Config, Engine};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// glibc malloc was the top entry in SIP load profiles (many small header
/// strings per message, freed on other threads); mimalloc handles that pattern well.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchboard: SIP registrar, B2BUA with anchored media, call-center apps and web CRM.
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about)]
struct Cli {
    /// Configuration file (default: conf/switchboard.toml if present).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, state).
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (default: sqlite://DATA_DIR/switchboard.db).
    #[arg(long, global = true, env = "SWITCHBOARD_DATABASE_URL")]
    database_url: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug)]
struct ServerArgs {
    /// Address to bind every socket to.
    #[arg(long, env = "SWITCHBOARD_BIND")]
    bind: Option<IpAddr>,
    /// Address to advertise in SIP and SDP (default: bind, or 127.0.0.1).
    #[arg(long, env = "SWITCHBOARD_ADVERTISE")]
    advertise: Option<IpAddr>,
    /// Internal SIP profile port (phones) [default 5060].
    #[arg(long, env = "SWITCHBOARD_SIP_PORT")]
    sip_port: Option<u16>,
    /// External SIP profile port (trunks) [default 5080].
    #[arg(long, env = "SWITCHBOARD_TRUNK_PORT")]
    trunk_port: Option<u16>,
    /// Web, API and metrics port [default 8080].
    #[arg(long, env = "SWITCHBOARD_HTTP_PORT")]
    http_port: Option<u16>,
    /// RTP port range, LOW-HIGH [default 16384-32767].
    #[arg(long, env = "SWITCHBOARD_RTP_PORTS")]
    rtp_ports: Option<String>,
    /// Log every SIP message.
    #[arg(long, env = "SWITCHBOARD_LOG_SIP")]
    log_sip: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage extensions.
    #[command(subcommand)]
    Extension(ExtensionCmd),
    /// Check the configuration file and exit.
    CheckConfig,
    /// Routing rules.
    #[command(subcommand)]
    Route(RouteCmd),
    /// SIP gateways (trunks to carriers and IMS cores).
    #[command(subcommand)]
    Gateway(provision::GatewayCmd),
    /// API tokens of web users (for scripts: `Authorization: Bearer TOKEN`).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Call-center settings (queues, agents, tiers, IVR menus, routing rules).
    #[command(subcommand)]
    Callcenter(CallcenterCmd),
    /// The database (--database-url, default the SQLite file in the data
    /// dir): migrations, checks, copying between SQLite and PostgreSQL.
    #[command(subcommand)]
    Db(DbCmd),
    /// The reports' roll-up tables.
    #[command(subcommand)]
    Reports(ReportsCmd),
    /// The predictive pacer of outbound campaigns.
    #[command(subcommand)]
    Pacer(PacerCmd),
}

#[derive(Subcommand, Debug)]
enum PacerCmd {
    /// Run the pacer on a simulated campaign (virtual clock, seconds to
    /// run): agents, callees answering at the given rate, handle times
    /// around the AHT. Prints the figures and, last, `abandon_rate=…
    /// occupancy=… calls=… answered=…`. Exits non-zero if the abandon
    /// cap or the 2-second rule was broken at any moment.
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// Agents logged in.
    #[arg(long)]
    agents: usize,
    /// Share of dials a person answers: 0.3 or 30%.
    #[arg(long, value_parser = parse_share)]
    answer_rate: f64,
    /// Average handle time, seconds.
    #[arg(long)]
    aht: f64,
    /// Simulated minutes of dialing (after the warm-up).
    #[arg(long)]
    minutes: f64,
    /// Minutes the campaign dials before the figures count (a campaign
    /// already running, whose window holds live answers); the cap and the
    /// 2-second rule are checked over both.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// The abandon cap: 0.03 or 3%.
    #[arg(long, value_parser = parse_share, default_value = "0.03")]
    cap: f64,
    /// Seed of the random draws (the same seed gives the same run).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// predictive, or progressive (one call per free agent).
    #[arg(long, default_value = "predictive", value_parser = ["predictive", "progressive"])]
    mode: String,
    /// Share of dials that are busy.
    #[arg(long, value_parser = parse_share, default_value = "0.1")]
    busy_rate: f64,
    /// Share of dials an answering machine answers (detected, no agent).
    #[arg(long, value_parser = parse_share, default_value = "0")]
    machine_rate: f64,
    /// The rolling window of the cap, minutes (default 30 days).
    #[arg(long, default_value_t = 30 * 24 * 60)]
    window_minutes: i64,
    /// Also run the same campaign dialing one call per free agent and
    /// print its figures for comparison.
    #[arg(long)]
    compare: bool,
}

/// A share given as a fraction (0.3) or a percentage (30%).
fn parse_share(s: &str) -> Result<f64, String> {
    let (num, scale) = match s.trim().strip_suffix('%') {
        Some(p) => (p, 100.0),
        None => (s.trim(), 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: a share such as 0.3 or 30%"))?;
    let v = v / scale;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("{s:?}: a share from 0 to 1 (or 0% to 100%)"));
    }
    Ok(v)
}

/// `switchboard pacer simulate`.
fn pacer_simulate(a: &SimulateArgs) -> anyhow::Result<()> {
    use callcenter::pacer::{sim, Mode, PacerConfig};
    let cfg = sim::SimConfig {
        agents: a.agents,
        answer_rate: a.answer_rate,
        aht_s: a.aht,
        minutes: a.minutes,
        warmup_minutes: a.warmup,
        seed: a.seed,
        busy_rate: a.busy_rate,
        machine_rate: a.machine_rate,
        pacer: PacerConfig {
            mode: if a.mode == "progressive" {
                Mode::Progressive
            } else {
                Mode::Predictive
            },
            abandon_cap: a.cap,
            window_ms: a.window_minutes.saturating_mul(60_000),
            lookahead_ms: (a.window_minutes.saturating_mul(60_000) / 10).min(3_600_000),
            ..PacerConfig::default()
        },
        ..sim::SimConfig::default()
    };
    let print = |label: &str, r: &sim::SimReport| {
        println!(
            "{label}: {} calls, {} answered by a person ({} connected, {} abandoned), \
             {} busy, {} unanswered, {} machines; abandon rate {:.2} % (highest over the \
             window {:.2} %), occupancy {:.1} %, {:.1} connects per agent-hour, longest \
             wait for an agent {} ms",
            r.calls,
            r.answered,
            r.connected,
            r.abandoned,
            r.busy,
            r.no_answer,
            r.machines,
            r.abandon_rate * 100.0,
            r.max_window_rate * 100.0,
            r.occupancy * 100.0,
            r.connects_per_agent_hour,
            r.max_connect_ms
        );
    };
    println!(
        "simulating {} min after {} min of warm-up: {} agents, answer rate {:.1} %, AHT {} s, cap {:.2} %, {} dialing, seed {}",
        a.minutes,
        a.warmup,
        a.agents,
        a.answer_rate * 100.0,
        a.aht,
        a.cap * 100.0,
        a.mode,
        a.seed
    );
    if a.compare {
        let one = sim::simulate_progressive(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        print("one call per free agent", &one);
    }
    let r = sim::simulate(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
    print(&a.mode, &r);
    if r.cap_broken {
        println!("the abandon rate went over the cap");
    }
    if r.max_connect_ms > cfg.pacer.connect_within_ms {
        println!("a person waited over the connect limit");
    }
    println!("{}", r.summary_line());
    if r.cap_broken || r.max_connect_ms > cfg.pacer.connect_within_ms {
        anyhow::bail!("the simulated campaign broke a rule (see above)");
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
enum ReportsCmd {
    /// Sum the roll-up tables the reports read again from the raw records
    /// (call records, queue events, survey answers, agent states). They are
    /// kept up to date as calls end; this is for a database whose raw
    /// tables were restored or edited alone. Stop the server first.
    Rebuild,
}

#[derive(Subcommand, Debug)]
enum DbCmd {
    /// Apply the migrations this build has and the database lacks (the
    /// server also applies them at start).
    Migrate,
    /// Check the database: connection, migrations (known, applied,
    /// pending) and that its schema is the one this build expects. Exits
    /// non-zero on any problem.
    Check,
    /// Copy every table from one database to another, e.g. the embedded
    /// SQLite to PostgreSQL or back, in one transaction verified by per-table
    /// row counts and checksums. Stop the server first. The target is
    /// created (SQLite) and migrated; one that already holds data is refused
    /// unless --replace.
    Copy {
        /// The database to read (not changed).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to write.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Overwrite a target that already holds data.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCmd {
    /// Create an API token for a web user and print it (it is stored
    /// hashed: this is the only time it is shown). The server need not run.
    Create {
        /// The web user the token acts as (e.g. admin).
        #[arg(long)]
        user: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum CallcenterCmd {
    /// Replace the database's call-center settings with the config file's
    /// [callcenter] section (the file seeds the database on first run only;
    /// afterwards the database, edited in the web UI, is what counts). A
    /// running server applies the imported settings within a second.
    Import,
}

#[derive(Subcommand, Debug)]
enum RouteCmd {
    /// Add a routing rule (an outbound rule sends matching numbers out
    /// through its gateways, tried in the order given).
    Add(provision::RouteAddArgs),
    /// List the routing rules in matching order.
    List,
    /// Remove the routing rule NAME.
    Remove {
        /// The rule's name.
        name: String,
    },
    /// Show which routing rule matches NUMBER, why the others do not, and
    /// what the server does with a call to it.
    Test {
        /// The dialled number.
        number: String,
        /// The moment to route at: "YYYY-MM-DD HH:MM" in local time, or with
        /// an offset ("2025-10-01 10:00 +08:00") [default: now].
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ExtensionCmd {
    /// Add extensions: a number, a range (1000-1099) or a list (101,105,110-112).
    Add {
        /// Numbers to add.
        numbers: String,
        /// SIP password for all of them.
        #[arg(long)]
        password: String,
        /// Display name (caller ID name).
        #[arg(long, default_value = "")]
        name: String,
        /// Type: direct (rings its phones), ivr, queue or robot.
        #[arg(long = "type", default_value = "direct")]
        kind: String,
        /// The IVR menu, queue or robot of a non-direct extension.
        #[arg(long, default_value = "")]
        target: String,
        /// Record every call of these extensions.
        #[arg(long)]
        record: bool,
        /// Auto-answer: off, all or queue (queue offers only).
        #[arg(long, default_value = "off")]
        auto_answer: String,
        /// Callers hear the agent's number before being connected.
        #[arg(long)]
        announce_agent_id: bool,
        /// After-call work after each queue call.
        #[arg(long)]
        after_call_work: bool,
        /// No calls to outside numbers.
        #[arg(long)]
        no_outbound: bool,
        /// Call pickup group (phones of one group pick up each other's calls with *8).
        #[arg(long, default_value = "")]
        pickup_group: String,
        /// Digest algorithms their phones are challenged with: MD5, SHA-256 or
        /// SHA-256,MD5 (default: the server's sip.auth_algorithms).
        #[arg(long, default_value = "")]
        auth_algorithms: String,
    },
    /// List extensions (passwords masked unless --show-passwords).
    List {
        /// Print SIP passwords in clear.
        #[arg(long)]
        show_passwords: bool,
    },
    /// Remove extensions (same number syntax as add).
    Remove {
        /// Numbers to remove.
        numbers: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. A store error's message already
/// says what its driver error was, so the chain stops there (the driver's
/// own causes would repeat it).
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        parts.push(cause.to_string().replace('\n', " "));
        if cause.is::<store::StoreError>() {
            break;
        }
    }
    parts.join(": ")
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Needs neither the configuration nor the database.
    if let Some(Command::Pacer(PacerCmd::Simulate(a))) = &cli.command {
        return pacer_simulate(a);
    }
    let cfg = load_config(&cli)?;
    match cli.command {
        Some(Command::Db(cmd)) => db(&cfg.database_url(), cmd).await,
        None => serve(cfg).await,
        Some(Command::CheckConfig) => {
            let dir = &cfg.media.sounds_dir;
            let (ok, errors) =
                engine::sounds::preload(dir, 8000, &media::audio_file::AudioCache::new());
            for e in &errors {
                eprintln!("sound refused: {e}");
            }
            if !errors.is_empty() {
                anyhow::bail!(
                    "{} of the sounds under {} cannot be played",
                    errors.len(),
                    dir.display()
                );
            }
            if !cfg.apps.ivr.is_empty() {
                let store = store::Store::open(&cfg.database_url()).await?;
                engine::server::check_ivrs(&cfg, &store).await?;
            }
            println!(
                "configuration OK (database {}, {ok} sounds under {})",
                cfg.database_url(),
                dir.display()
            );
            Ok(())
        }
        Some(Command::Extension(cmd)) => extension(cfg, cmd).await,
        Some(Command::Route(RouteCmd::Test { number, at })) => route_test(cfg, &number, at).await,
        Some(Command::Route(RouteCmd::Add(args))) => provision::route_add(&cfg, args).await,
        Some(Command::Route(RouteCmd::List)) => provision::route_list(&cfg).await,
        Some(Command::Route(RouteCmd::Remove { name })) => {
            provision::route_remove(&cfg, &name).await
        }
        Some(Command::Gateway(cmd)) => provision::gateway(&cfg, cmd).await,
        Some(Command::Token(TokenCmd::Create { user, name })) => {
            std::fs::create_dir_all(&cfg.server.data_dir)
                .with_context(|| format!("creating data dir {}", cfg.server.data_dir.display()))?;
            let store = store::Store::open(&cfg.database_url()).await?;
            let token = web::create_api_token(&store, &user, &name).await;
            store.close().await;
            println!("{}", token?);
            Ok(())
        }
        Some(Command::Pacer(PacerCmd::Simulate(a))) => pacer_simulate(&a),
        Some(Command::Reports(ReportsCmd::Rebuild)) => {
            let store = store::Store::open(&cfg.database_url()).await?;
            let started = std::time::Instant::now();
            let done = store.rebuild_rollups().await;
            store.close().await;
            let s = done?;
            println!(
                "rebuilt the report roll-ups from {} calls, {} queue events, {} survey answers \
                 and {} agent-state periods in {:.1} s",
                s.cdrs,
                s.queue_events,
                s.surveys,
                s.agent_states,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some(Command::Callcenter(CallcenterCmd::Import)) => {
            let store = store::Store::open(&cfg.database_url()).await?;
            let s = engine::callcenter_settings::import(&cfg, &store).await?;
            store.close().await;
            println!(
                "imported {} queues, {} agents, {} tiers, {} IVR menus, {} routing rules",
                s.queues.len(),
                s.agents.len(),
                s.tiers.len(),
                s.ivr.len(),
                s.routes.len()
            );
            Ok(())
        }
    }
}

/// `route test`: the rules' explanation, then the server's decision step by
/// step (built-in numbers first, then the rules, then the basic rule).
async fn route_test(cfg: Config, number: &str, at: Option<String>) -> anyhow::Result<()> {
    use engine::router::{self, Trace};
    let now = match &at {
        Some(text) => {
            engine::routing::parse_moment(text).map_err(|e| anyhow::anyhow!("--at: {e}"))?
        }
        None => engine::routing::local_now(),
    };
    let directory = engine::directory::Directory::default();
    let (extensions, stored) = match open_existing(&cfg).await {
        Ok(store) => {
            let loaded = directory.refresh(&store).await.map_err(|e| e.to_string());
            let settings = engine::callcenter_settings::CallcenterSettings::read(&store).await;
            store.close().await;
            (loaded.map(|_| ()), settings?)
        }
        Err(why) => (Err(why), None),
    };
    let settings = match stored {
        Some(s) => {
            println!("Routing rules of the database {}:", cfg.database_url());
            s
        }
        None => {
            println!("Routing rules of the config file (the database holds none yet):");
            engine::callcenter_settings::CallcenterSettings::from_config(&cfg.callcenter)
        }
    };
    let table = settings.route_table();
    match table {
        Some(t) => print!("{}", t.explain(number, now)),
        None => println!(
            "No routing rules are configured: only the built-in \
             numbers of [apps] and the basic rule {} (local extensions) apply.",
            router::BASIC_RULE
        ),
    }
    if let Err(why) = extensions {
        println!("(extensions not checked: {why})");
    }
    struct Print;
    impl Trace for Print {
        fn step(&mut self, what: std::fmt::Arguments<'_>) {
            println!("  {what}");
        }
    }
    println!("What the server does with a call to {number}:");
    let route = router::route_at(number, &directory, &cfg.apps, table, now, &mut Print);
    println!("Result: {route}.");
    Ok(())
}

/// The database, without creating one that does not exist.
async fn open_existing(cfg: &Config) -> Result<store::Store, String> {
    let url = cfg.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or_default();
        if !std::path::Path::new(path).exists() {
            return Err(format!("no database at {path}"));
        }
    }
    store::Store::open(&url).await.map_err(|e| e.to_string())
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let path = match &cli.config {
        Some(p) => Some(p.clone()),
        None => {
            let default = PathBuf::from("conf/switchboard.toml");
            default.exists().then_some(default)
        }
    };
    let mut cfg = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            Config::from_toml(&text).with_context(|| format!("in config {}", p.display()))?
        }
        None => Config::default(),
    };
    let s = &cli.server;
    if let Some(d) = &cli.data_dir {
        cfg.server.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        cfg.server.database_url = Some(u.clone());
    }
    if let Some(b) = s.bind {
        cfg.server.bind = b;
    }
    if let Some(a) = s.advertise {
        cfg.server.advertise = Some(a);
    }
    if let Some(p) = s.sip_port {
        cfg.server.sip_port = p;
    }
    if let Some(p) = s.trunk_port {
        cfg.server.trunk_port = p;
    }
    if let Some(p) = s.http_port {
        cfg.server.http_port = p;
    }
    if let Some(r) = &s.rtp_ports {
        cfg.server.rtp_ports = r.clone();
    }
    if s.log_sip {
        cfg.server.log_sip = true;
    }
    cfg.validate()?;
    Ok(cfg)
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    check_open_file_limit(&cfg);
    // The database first, alone: a wrong URL, a server that is down or a
    // database a newer build migrated is one clear line (the password
    // hidden), before anything else starts. This also applies pending
    // migrations.
    let store = store::Store::open(&cfg.database_url()).await?;
    tracing::info!(
        "database {} ({})",
        store::redact_url(&cfg.database_url()),
        store.backend()
    );
    store.close().await;
    let http = SocketAddr::new(cfg.server.bind, cfg.server.http_port);
    let engine = Arc::new(Engine::start(cfg).await?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let web_stop = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let web = tokio::spawn(web::serve(engine.clone(), http, web_stop));
    tokio::select! {
        _ = shutdown_signal() => {}
        r = web => {
            // The web server only returns early on an error (port in use).
            engine.shutdown().await;
            return match r {
                Ok(Err(e)) => Err(e.context(format!("web server on {http}"))),
                _ => Ok(()),
            };
        }
    }
    tracing::info!("stop requested");
    let _ = stop_tx.send(true);
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft open-file limit to the hard one (a shell's usual 1024
/// carries only a few hundred calls: every RTP port and connection is a
/// descriptor) and warns when even that cannot cover what the configuration
/// may open, so a shortage shows at start rather than as calls failing with
/// "Too many open files" under load.
fn check_open_file_limit(cfg: &Config) {
    let Some((soft, hard)) = raise_open_file_limit() else {
        return;
    };
    let needed = match cfg.descriptors_needed() {
        Ok(n) => n,
        Err(_) => return,
    };
    if soft < needed {
        let (lo, hi) = cfg.rtp_range().unwrap_or_default();
        tracing::warn!(
            "the open-file limit is {soft} (hard limit {hard}), but the RTP ports {lo}-{hi}, \
             2 x sip.tcp.max_connections ({}) and the web server may need {needed}: calls and \
             connections beyond it fail with \"Too many open files\". Raise the hard limit \
             (systemd LimitNOFILE=, ulimit -Hn) or narrow the RTP range",
            cfg.sip.tcp.max_connections
        );
    }
}

/// Sets the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) as
/// they are afterwards, None where they cannot be read.
#[cfg(target_os = "linux")]
fn raise_open_file_limit() -> Option<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(
            "reading the open-file limit failed: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(
                "open-file limit raised from {} to {}",
                lim.rlim_cur,
                lim.rlim_max
            );
            lim.rlim_cur = lim.rlim_max;
        } else {
            tracing::warn!(
                "raising the open-file limit from {} to {} failed: {}",
                lim.rlim_cur,
                lim.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    Some((lim.rlim_cur, lim.rlim_max))
}

#[cfg(not(target_os = "linux"))]
fn raise_open_file_limit() -> Option<(u64, u64)> {
    None
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn extension(cfg: Config, cmd: ExtensionCmd) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("creating data dir {}", cfg.server.data_dir.display()))?;
    let store = store::Store::open(&cfg.database_url()).await?;
    match cmd {
        ExtensionCmd::Add {
            numbers,
            password,
            name,
            kind,
            target,
            record,
            auto_answer,
            announce_agent_id,
            after_call_work,
            no_outbound,
            pickup_group,
            auth_algorithms,
        } => {
            if password.is_empty() {
                anyhow::bail!("--password must not be empty");
            }
            let list = store::parse_numbers(&numbers)?;
            let exts: Vec<store::Extension> = list
                .into_iter()
                .map(|number| store::Extension {
                    number,
                    password: password.clone(),
                    display_name: name.clone(),
                    enabled: true,
                    kind: kind.clone(),
                    target: target.clone(),
                    record,
                    auto_answer: auto_answer.clone(),
                    announce_agent_id,
                    after_call_work,
                    allow_outbound: !no_outbound,
                    pickup_group: pickup_group.clone(),
                    auth_algorithms: auth_algorithms.clone(),
                    ..store::Extension::default()
                })
                .collect();
            let report = store.add_extensions(&exts).await?;
            println!("added {} extension(s)", report.added.len());
            if !report.skipped.is_empty() {
                println!(
                    "skipped {} that already exist: {}",
                    report.skipped.len(),
                    summarize(&report.skipped)
                );
            }
        }
        ExtensionCmd::List { show_passwords } => {
            let all = store.list_extensions().await?;
            println!(
                "{:<12} {:<20} {:<8} {:<16} {:<20} NAME",
                "NUMBER", "PASSWORD", "ENABLED", "TYPE", "FLAGS"
            );
            for e in &all {
                let password = if show_passwords {
                    e.password.as_str()
                } else {
                    "********"
                };
                let kind = if e.kind == "direct" {
                    e.kind.clone()
                } else {
                    format!("{}:{}", e.kind, e.target)
                };
                let mut flags = Vec::new();
                if e.record {
                    flags.push("record".to_string());
                }
                if e.auto_answer != "off" {
                    flags.push(format!("auto-answer={}", e.auto_answer));
                }
                if e.announce_agent_id {
                    flags.push("announce-id".into());
                }
                if e.after_call_work {
                    flags.push("acw".into());
                }
                if !e.allow_outbound {
                    flags.push("no-outbound".into());
                }
                if !e.pickup_group.is_empty() {
                    flags.push(format!("group={}", e.pickup_group));
                }
                if !e.auth_algorithms.is_empty() {
                    flags.push(format!("auth={}", e.auth_algorithms));
                }
                println!(
                    "{:<12} {:<20} {:<8} {:<16} {:<20} {}",
                    e.number,
                    password,
                    if e.enabled { "yes" } else { "no" },
                    kind,
                    flags.join(","),
                    e.display_name
                );
            }
            println!("{} extension(s)", all.len());
        }
        ExtensionCmd::Remove { numbers } => {
            let list = store::parse_numbers(&numbers)?;
            let n = store.remove_extensions(&list).await?;
            println!("removed {n} extension(s)");
        }
    }
    store.close().await;
    Ok(())
}

/// `switchboard db ...`.
async fn db(url: &str, cmd: DbCmd) -> anyhow::Result<()> {
    use store::{Store, StoreOptions};
    let shown = store::redact_url(url).into_owned();
    match cmd {
        DbCmd::Migrate => {
            let store = Store::open_with(
                url,
                &StoreOptions {
                    migrate: false,
                    ..StoreOptions::default()
                },
            )
            .await?;
            let applied = store.migrate().await?;
            let latest = store.migration_status().await?.applied.last().copied();
            store.close().await;
            let at = latest.map_or("none".to_string(), |v| v.to_string());
            if applied.is_empty() {
                println!("{shown}: up to date (migration {at})");
            } else {
                println!(
                    "{shown}: applied {} migration(s) ({}), now at migration {at}",
                    applied.len(),
                    join(&applied)
                );
            }
            Ok(())
        }
        DbCmd::Check => {
            let options = StoreOptions {
                migrate: false,
                create: false,
                ..StoreOptions::default()
            };
            let store = Store::open_with(url, &options).await?;
            println!("database: {shown}");
            println!("connection: ok ({})", store.server_version().await?);
            let status = store.migration_status().await?;
            println!(
                "migrations: {} known (latest {}), {} applied, {} pending",
                status.known.len(),
                status.known.last().copied().unwrap_or(0),
                status.applied.len(),
                status.pending.len()
            );
            if !status.pending.is_empty() {
                store.close().await;
                anyhow::bail!(
                    "migrations {} are not applied: run `switchboard db migrate` (the server \
                     also applies them at start)",
                    join(&status.pending)
                );
            }
            let differences = store.check_schema().await?;
            let tables = store.schema().await?.tables.len();
            store.close().await;
            if differences.is_empty() {
                println!("schema: matches this build ({tables} tables)");
                Ok(())
            } else {
                for d in &differences {
                    println!("schema: {d}");
                }
                anyhow::bail!(
                    "the schema differs from this build's in {} place(s)",
                    differences.len()
                )
            }
        }
        DbCmd::Copy { from, to, replace } => {
            if from.trim() == to.trim() {
                anyhow::bail!("--from and --to name the same database");
            }
            let source = Store::open_with(
                &from,
                &StoreOptions {
                    migrate: false,
                    create: false,
                    ..StoreOptions::default()
                },
            )
            .await
            .context("the source (--from)")?;
            let target = Store::open(&to).await.context("the target (--to)")?;
            let started = std::time::Instant::now();
            let options = store::copy::CopyOptions {
                replace,
                ..store::copy::CopyOptions::default()
            };
            let report = store::copy::copy(&source, &target, &options).await;
            source.close().await;
            target.close().await;
            let report = report?;
            println!("{:<20} {:>10}  CHECKSUM", "TABLE", "ROWS");
            for t in &report.tables {
                println!("{:<20} {:>10}  {}", t.table, t.rows, t.checksum);
            }
            let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
            println!(
                "copied {rows} rows of {} tables from {} to {} in {:.1} s; row counts and \
                 checksums match",
                report.tables.len(),
                store::redact_url(&from),
                store::redact_url(&to),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// `1, 2, 3`.
fn join(versions: &[i64]) -> String {
    versions
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn summarize(list: &[String]) -> String {
    if list.len() <= 10 {
        list.join(", ")
    } else {
        format!("{}, ... ({} more)", list[..10].join(", "), list.len() - 10)
    }
}
