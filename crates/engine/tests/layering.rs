//! The engine's layers point down only (issue 12).
//!
//! Each file of `crates/engine/src` belongs to the layer of its top folder;
//! a layer may name its own modules and those of the layers below it, never
//! those above. The order, bottom first, is [`LAYERS`]; every layer's
//! `mod.rs` says what it owns and what it may use. This test reads the
//! sources (code, `use` trees and doc links alike: any `crate::` path, and
//! any `super::` chain that climbs to the crate root) and fails naming each
//! file and path that breaks the order. It also checks that the pure
//! call-center logic (`crates/callcenter`) stays free of I/O crates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, bottom first: the folders of `crates/engine/src` (and
/// `server.rs`, the top, which starts them all).
const LAYERS: [&str; 6] = ["base", "calls", "sip", "services", "apps", "server"];

/// `Ctx` (in `base/context.rs`) is the one handle every task holds, so it
/// carries what the calls layer shares with everyone: the live calls, the
/// dialog table, and the ports through which calls reach the layers above
/// (the application launcher, queue reports, sounds). It may name `calls`,
/// and nothing else above the base.
const HUB: (&str, &str) = ("base/context.rs", "calls");

/// What only the calls layer itself may name: the call actors (a private
/// module, so the compiler refuses it too). The layers above drive calls
/// through the control API (`calls::control`) and start them with
/// `calls::spawn`.
const CALL_INTERNALS: &str = "calls::actor";

/// Crates the pure call-center logic must not depend on.
const NOT_IN_CALLCENTER: [&str; 7] = ["tokio", "sqlx", "sip", "rsip", "store", "engine", "media"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let path = e.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the path (or `use` tree) starting at `s` and returns every path it
/// names, as segments (`calls::{actor, CallMsg}` gives `calls::actor` and
/// `calls::CallMsg`).
fn paths(s: &[char], prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut i = 0;
    let mut segs = prefix.to_vec();
    loop {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        if i < s.len() && s[i] == '{' {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == '}' {
                    return i + 1;
                }
                if s[i..].starts_with(&['s', 'e', 'l', 'f'])
                    && !s.get(i + 4).is_some_and(|c| is_ident(*c))
                {
                    out.push(segs.clone());
                    i += 4;
                } else {
                    i += paths(&s[i..], &segs, out);
                }
                // Skip `as Name` and anything else up to the next item.
                while i < s.len() && s[i] != ',' && s[i] != '}' {
                    i += 1;
                }
            }
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if i == start {
            if segs.len() > prefix.len() {
                out.push(segs);
            }
            return i;
        }
        segs.push(s[start..i].iter().collect());
        if s[i..].starts_with(&[':', ':']) {
            i += 2;
        } else {
            out.push(segs);
            return i;
        }
    }
}

/// Every top-level path a file names: `crate::...`, and `super::...` chains
/// that climb out of the file's module to the crate root (`module` is the
/// file's module path, e.g. `calls::actor` for `calls/actor/mod.rs`).
fn named_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let s: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let boundary = i == 0 || !(is_ident(s[i - 1]) || s[i - 1] == ':' || s[i - 1] == '$');
        if boundary && s[i..].starts_with(&['c', 'r', 'a', 't', 'e', ':', ':']) {
            let used = paths(&s[i + 7..], &[], &mut out);
            i += 7 + used.max(1);
            continue;
        }
        let sup = ['s', 'u', 'p', 'e', 'r', ':', ':'];
        if boundary && s[i..].starts_with(&sup) {
            let mut up = 0;
            let mut j = i;
            while s[j..].starts_with(&sup) {
                up += 1;
                j += sup.len();
            }
            // Only a chain that reaches the crate root can leave the layer;
            // it names a top-level module (checked if it is a layer).
            if up >= module.len() {
                let mut found = Vec::new();
                let used = paths(&s[j..], &[], &mut found);
                out.extend(found.into_iter().filter(|p| rank(&p[0]).is_some()));
                j += used;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// The layer violations of the engine's sources, one line each.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        if rel_text == "lib.rs" {
            // The crate root declares the layers and keeps the old public paths.
            continue;
        }
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let layer = if parts.len() == 1 {
            parts[0].trim_end_matches(".rs").to_string()
        } else {
            parts[0].clone()
        };
        let Some(own) = rank(&layer) else {
            found.push(format!(
                "{rel_text}: outside every layer (put it in one of {LAYERS:?})"
            ));
            continue;
        };
        let mut module: Vec<String> = parts
            .iter()
            .map(|p| p.trim_end_matches(".rs").to_string())
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{rel_text}: {e}"));
        let mut seen = BTreeSet::new();
        for path in named_paths(&text, &module) {
            let shown = path.iter().take(3).cloned().collect::<Vec<_>>().join("::");
            if !seen.insert(shown.clone()) {
                continue;
            }
            let top = &path[0];
            let Some(theirs) = rank(top) else {
                found.push(format!(
                    "{rel_text}: names crate::{shown}, which is not in a layer (name it by its layer's path)"
                ));
                continue;
            };
            if theirs > own && !(rel_text == HUB.0 && top == HUB.1) {
                found.push(format!(
                    "{rel_text}: names crate::{shown}, but {layer} is below {top}"
                ));
            }
            if layer != "calls" && path.join("::").starts_with(CALL_INTERNALS) {
                found.push(format!(
                    "{rel_text}: names crate::{shown}, the call actors' internals (drive calls through calls::control, start them with calls::spawn)"
                ));
            }
        }
    }
    found
}

/// The dependencies of a Cargo.toml, all sections.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']');
            in_deps = header.ends_with("dependencies");
            // [dependencies.foo] and [target.x.dependencies.foo]
            if let Some((_, name)) = header.rsplit_once("dependencies.") {
                deps.push(name.to_string());
            }
            continue;
        }
        if in_deps {
            if let Some((key, _)) = line.split_once('=') {
                // `name = ...`, `name.workspace = true`, `"name" = ...`
                let key = key.trim().trim_matches('"');
                let name = key.split('.').next().unwrap_or(key);
                if !name.is_empty() && !name.starts_with('#') {
                    deps.push(name.to_string());
                }
            }
        }
    }
    deps
}

#[test]
fn engine_layers_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in LAYERS {
        let folder = src.join(layer);
        if layer != "server" {
            assert!(
                folder.join("mod.rs").is_file(),
                "layer {layer} has no {}/mod.rs",
                folder.display()
            );
        }
    }
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "layer order {LAYERS:?} broken ({} places):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn callcenter_crate_has_no_io_dependencies() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../callcenter/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let deps = dependencies(&text);
    assert!(
        !deps.is_empty() || text.contains("[dependencies]"),
        "no dependency section read"
    );
    let bad: Vec<&String> = deps
        .iter()
        .filter(|d| NOT_IN_CALLCENTER.contains(&d.as_str()))
        .collect();
    assert!(
        bad.is_empty(),
        "crates/callcenter depends on {bad:?}: it must stay pure (no I/O)"
    );
}

#[test]
fn the_checks_see_what_they_must() {
    // The path reader itself: use trees, doc links, super chains to the root.
    let calls_mod = vec!["calls".to_string()];
    let got = named_paths(
        "use crate::calls::{actor, control::{self, Command}, CallMsg as M};\n/// [`crate::apps::App`]\nuse super::sip::profile;",
        &calls_mod,
    );
    let got: Vec<String> = got.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        got,
        [
            "calls::actor",
            "calls::control",
            "calls::control::Command",
            "calls::CallMsg",
            "apps::App",
            "sip::profile"
        ]
    );
    assert_eq!(
        named_paths("pub(crate) fn f() {} // mycrate::x", &calls_mod),
        Vec::<Vec<String>>::new()
    );
    let deps = dependencies(
        "[package]\nname = \"x\"\n[dependencies]\nserde = \"1\"\nsqlx.workspace = true\n\
         [dev-dependencies.tokio]\nversion = \"1\"\n",
    );
    assert_eq!(deps, ["serde", "sqlx", "tokio"]);
}
