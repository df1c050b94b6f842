//! `switchboard pacer simulate`: the predictive pacer on a simulated
//! campaign from the command line (issue 18: "the simulator is also a
//! command, so anyone can check the pacer on their own numbers").

use std::process::{Command, Output, Stdio};

use crate::harness::binary;

fn simulate(args: &[&str]) -> Output {
    Command::new(binary())
        .args(["pacer", "simulate"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run switchboard pacer simulate")
}

/// The `key=value` pairs of the last line of stdout.
fn last_line(out: &Output) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default().to_string();
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_simulate_command_ends_with_the_campaigns_figures() {
    let args = [
        "--agents",
        "20",
        "--answer-rate",
        "30%",
        "--aht",
        "90",
        "--minutes",
        "20",
        "--cap",
        "0.03",
        "--seed",
        "5",
        "--compare",
    ];
    let out = simulate(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kv = last_line(&out);
    let keys: Vec<&str> = kv.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["abandon_rate", "occupancy", "calls", "answered"],
        "{stdout}"
    );
    let num = |k: &str| -> f64 {
        kv.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {stdout}"))
    };
    assert!(num("abandon_rate") <= 0.03, "{stdout}");
    assert!(
        num("occupancy") > 0.0 && num("occupancy") <= 1.0,
        "{stdout}"
    );
    assert!(
        num("calls") >= num("answered") && num("answered") > 0.0,
        "{stdout}"
    );
    assert!(
        stdout.contains("one call per free agent:"),
        "--compare: {stdout}"
    );
    // The same seed, the same figures.
    assert_eq!(last_line(&simulate(&args)), kv);
}

#[test]
fn bad_figures_are_refused_with_what_is_wrong() {
    let out = simulate(&[
        "--agents",
        "0",
        "--answer-rate",
        "0.3",
        "--aht",
        "120",
        "--minutes",
        "5",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agents: must be between 1 and 10,000"),
        "{err}"
    );
    let out = simulate(&[
        "--agents",
        "5",
        "--answer-rate",
        "130%",
        "--aht",
        "120",
        "--minutes",
        "5",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a share from 0 to 1"), "{err}");
    let out = simulate(&[
        "--agents",
        "5",
        "--answer-rate",
        "0.3",
        "--aht",
        "120",
        "--minutes",
        "5",
        "--cap",
        "0.6",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("abandon_cap: must be over 0 and at most 0.5"),
        "{err}"
    );
}
