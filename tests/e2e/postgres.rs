//! The server and the `db` commands on PostgreSQL (a fresh database of the
//! test cluster named by SWITCHBOARD_TEST_POSTGRES_URL, which tests/run
//! starts; without it these tests print a notice and pass, or fail under
//! CI=true), and the one-line refusals of a database the server cannot use.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use store::testing::TestDatabase;

use crate::calls::{callee, caller};
use crate::harness::{artifacts, binary, free_tcp_port, free_udp_tcp_port, Server};

/// A fresh PostgreSQL database, or `None` when no cluster is configured.
async fn pg_database() -> Option<TestDatabase> {
    TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the binary with `args`; kills it if it is still running after 60 s
/// (a server that should have refused to start).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run switchboard");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for switchboard").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "switchboard {args:?} still running after 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect output")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The error line of a command that failed: exactly one line on stderr
/// besides log lines (e.g. the open-file limit warning).
fn error_line(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("WARN") && !l.contains("INFO"))
        .collect();
    assert_eq!(lines.len(), 1, "not one error line: {stderr}");
    lines[0].to_string()
}

#[tokio::test]
async fn server_on_postgres_registers_and_writes_the_cdr_of_a_sipp_call() {
    let Some(db) = pg_database().await else {
        return;
    };
    // The CLI provisions extensions and the API token on PostgreSQL too.
    let server = Server::builder("pg_call")
        .database_url(&db.url())
        .extensions("1000-1009", "secret")
        .start();
    let store = server.store().await;
    assert_eq!(store.backend(), store::BackendKind::Postgres);
    assert_eq!(store.list_extensions().await.unwrap().len(), 10);

    let uas = callee(
        &server,
        "1001",
        "uas_answer",
        "127.0.0.1",
        server.ports.media_port(0),
        0,
    )
    .await;
    // The registration is written behind to PostgreSQL.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bindings = store.load_bindings(0).await.unwrap();
        if bindings.iter().any(|b| b.aor.contains("1001")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no binding of 1001 in PostgreSQL: {bindings:?}\n{}",
            server.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    caller(&server, "uac_call", "1001", server.ports.media_port(1))
        .pause_ms(1000)
        .run()
        .await
        .assert_success(1);
    uas.wait().await.assert_success(1);

    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(
        (cdr.caller.as_str(), cdr.callee.as_str()),
        ("1000", "1001"),
        "{cdr:?}"
    );
    assert_eq!(cdr.sip_code, 200, "{cdr:?}");
    assert!(!cdr.in_progress, "{cdr:?}");
    let answer = cdr.answer_at.expect("answered call without answer_at");
    assert!(cdr.start_at <= answer && answer <= cdr.end_at, "{cdr:?}");
    // Timestamps went through timestamptz and back as unix ms: the call is
    // from the last few minutes.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        now - cdr.start_at < 600_000 && cdr.end_at <= now + 1000,
        "{cdr:?}"
    );

    // The web admin reads the same database.
    let (status, body) = server.http_get("/api/registrations").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1001"), "{body}");
    store.close().await;
}

#[tokio::test]
async fn db_commands_check_migrate_and_copy_sqlite_to_postgres_and_back() {
    let Some(pg) = pg_database().await else {
        return;
    };
    let dir = artifacts()
        .join("data")
        .join(format!("pg-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}", dir.join("switchboard.db").display());
    let back = format!("sqlite://{}", dir.join("back.db").display());
    let pg_url = pg.url();

    let out = run(&[
        "--database-url",
        &sqlite,
        "extension",
        "add",
        "2000-2004",
        "--password",
        "pw",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["--database-url", &sqlite, "db", "check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("schema: matches this build"),
        "{}",
        text(&out)
    );

    // A new PostgreSQL database: nothing applied yet.
    let out = run(&["--database-url", &pg_url, "db", "check"]);
    // Every known migration pending, however many this build knows.
    let line = text(&out)
        .lines()
        .find(|l| l.starts_with("migrations: "))
        .unwrap_or_default()
        .to_string();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        (words.get(2), words.get(5), words.get(7)),
        (Some(&"known"), Some(&"0"), Some(&words[1])),
        "{line}"
    );
    assert_eq!(words[3], "(latest", "{line}");
    assert!(line.ends_with(&format!("{} pending", words[1])), "{line}");
    assert!(error_line(&out).contains("run `switchboard db migrate`"));
    let out = run(&["--database-url", &pg_url, "db", "migrate"]);
    // All of them, the latest last.
    assert!(
        text(&out).contains(&format!("applied {} migration(s)", words[1]))
            && text(&out).contains(&format!(
                "now at migration {}",
                words[4].trim_end_matches("),")
            )),
        "{}",
        text(&out)
    );
    let out = run(&["--database-url", &pg_url, "db", "check"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("connection: ok (PostgreSQL"),
        "{}",
        text(&out)
    );

    let out = run(&["db", "copy", "--from", &sqlite, "--to", &pg_url]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(
        report.contains("row counts and checksums match"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("extensions") && l.contains(" 5 ")),
        "{report}"
    );
    // Running it again is refused: the target holds data now.
    let line = error_line(&run(&["db", "copy", "--from", &sqlite, "--to", &pg_url]));
    assert!(
        line.contains("already holds data") && line.contains("--replace"),
        "{line}"
    );
    let out = run(&[
        "db",
        "copy",
        "--from",
        &sqlite,
        "--to",
        &pg_url,
        "--replace",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // And back into a new SQLite file, which then lists the same extensions.
    let out = run(&["db", "copy", "--from", &pg_url, "--to", &back]);
    assert!(out.status.success(), "{}", text(&out));
    let list = |url: &str| {
        let out = run(&["--database-url", url, "extension", "list"]);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    assert_eq!(list(&back), list(&sqlite));
    assert!(list(&pg_url).contains("5 extension(s)"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_database_the_server_cannot_use_stops_it_with_one_line() {
    let dir = artifacts()
        .join("data")
        .join(format!("bad-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data_dir = dir.display().to_string();
    // Real free ports: were the database accepted, the server would start.
    let (sip, trunk, http) = (
        free_udp_tcp_port().to_string(),
        free_udp_tcp_port().to_string(),
        free_tcp_port().to_string(),
    );
    let serve = |url: &str| {
        run(&[
            "--data-dir",
            &data_dir,
            "--database-url",
            url,
            "--bind",
            "127.0.0.1",
            "--sip-port",
            &sip,
            "--trunk-port",
            &trunk,
            "--http-port",
            &http,
        ])
    };

    // Nothing listens on port 1: refused, with the password hidden.
    let line = error_line(&serve("postgres://sb:secret@127.0.0.1:1/switchboard"));
    assert!(
        line.starts_with("error: cannot open database postgres://sb:***@127.0.0.1:1/switchboard:")
            && line.contains("is the database server running"),
        "{line}"
    );
    let line = error_line(&serve("mysql://127.0.0.1/switchboard"));
    assert!(
        line.starts_with("error: unsupported database URL"),
        "{line}"
    );

    // A database a newer build migrated.
    let file = dir.join("newer.db");
    let url = format!("sqlite://{}", file.display());
    let out = run(&["--database-url", &url, "db", "migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (999, 'future', TRUE, X'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let newer = "error: the database is at migration 999, newer than this build knows";
    let line = error_line(&serve(&url));
    assert!(line.starts_with(newer), "{line}");
    let line = error_line(&run(&["--database-url", &url, "db", "check"]));
    assert!(line.starts_with(newer), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A private cluster of this test's own (tests/postgres-cluster.sh), so it
/// can be killed without disturbing the other tests; stopped and removed on
/// drop.
struct OwnCluster {
    dir: std::path::PathBuf,
    base: String,
}

impl OwnCluster {
    fn start(name: &str) -> OwnCluster {
        let dir = artifacts().join(format!("pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Self::script("start", &dir);
        assert!(out.status.success(), "cluster start: {}", text(&out));
        let base = String::from_utf8_lossy(&out.stdout).trim().to_string();
        OwnCluster { dir, base }
    }

    fn script(cmd: &str, dir: &std::path::Path) -> Output {
        Command::new(crate::harness::root().join("tests/postgres-cluster.sh"))
            .arg(cmd)
            .arg(dir)
            // An acknowledged commit must survive the kill.
            .env("PG_SYNC_COMMIT", "on")
            .stdin(Stdio::null())
            .output()
            .expect("run tests/postgres-cluster.sh")
    }

    fn kill(&self) {
        let out = Self::script("kill", &self.dir);
        assert!(out.status.success(), "cluster kill: {}", text(&out));
    }

    fn restart(&self) {
        let out = Self::script("restart", &self.dir);
        assert!(out.status.success(), "cluster restart: {}", text(&out));
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Self::script("stop", &self.dir);
    }
}

#[tokio::test]
async fn calls_go_on_while_postgres_is_down_and_every_cdr_arrives_when_it_is_back() {
    // Runs where the PostgreSQL tests run (tests/run, CI).
    if store::testing::postgres_base_url()
        .unwrap_or_else(|e| panic!("{e}"))
        .is_none()
    {
        return;
    }
    let cluster = OwnCluster::start("outage");
    let server = Server::builder("pg_outage")
        .database_url(&format!("{}/postgres", cluster.base))
        .extensions("1000-1009", "secret")
        .config("[calls]\ncdr_backlog_max = 2\n")
        .start();
    // A call before the outage.
    let mut call = crate::media::answered_call(&server).await;
    assert_eq!(call.caller.bye(&mut call.a_dialog).await.status, Some(200));
    server.wait_cdrs(1).await;

    cluster.kill();
    // Calls go on: registered phones, answered calls, BYEs. Their records
    // wait (two in memory, the rest in the journal file).
    for _ in 0..4 {
        let mut call = crate::media::answered_call(&server).await;
        assert_eq!(call.caller.bye(&mut call.a_dialog).await.status, Some(200));
        call.callee
            .expect_request("BYE", &call.b_dialog.call_id, "")
            .await;
    }
    let backlog = server.wait_metric(
        "switchboard_cdr_backlog",
        "",
        |v| v >= 4.0,
        Duration::from_secs(30),
    );
    assert!(backlog >= 4.0, "backlog {backlog}\n{}", server.log_tail(30));
    // Once a write has failed, what is beyond the memory bound goes to disk.
    let journal = server.wait_metric(
        "switchboard_cdr_journal_rows",
        "",
        |v| v >= 2.0,
        Duration::from_secs(30),
    );
    assert!(journal >= 2.0, "journal rows {journal}");

    cluster.restart();
    // Every record arrives (the writer retries every few seconds; a slow
    // machine gets a generous deadline).
    let store = server.store().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let cdrs = store.list_cdrs(100).await.unwrap_or_default();
        let complete = cdrs.iter().filter(|c| !c.in_progress).count();
        if complete == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{complete} complete CDRs of 5: {cdrs:#?}\n{}",
            server.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.close().await;
    let left = server.wait_metric(
        "switchboard_cdr_backlog",
        "",
        |v| v == 0.0,
        Duration::from_secs(30),
    );
    assert_eq!(left, 0.0);
    assert!(
        !server.data_dir.join("cdr-journal.jsonl").exists(),
        "the journal is removed once written"
    );
}
