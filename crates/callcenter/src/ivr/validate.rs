//! Validation of a set of IVR menus before they are saved or run: every
//! refusal names the menu and the entry (binding) at fault, so the admin
//! form can point at the field.

use super::binding::{check_references, has_references, Binding, DTMF_KEYS};
use super::menu::{prompt, IvrAction, IvrMenu};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// How deep submenus may nest, the root menu being level 1 (FreeSWITCH's
/// recursion limit).
pub const MAX_DEPTH: usize = 12;

/// What the engine knows that a menu refers to; implemented by the engine
/// over its prompt library, extension directory and applications.
pub trait IvrContext {
    /// True if `prompt` (a built-in prompt name or a media file) can be played.
    fn prompt_exists(&self, prompt: &str) -> bool;
    /// True if `number` is a configured extension.
    fn extension_exists(&self, number: &str) -> bool;
    /// True if an application of that name can be run from an IVR entry.
    fn app_exists(&self, name: &str) -> bool;
}

/// Why a set of menus cannot run: which menu, which entry, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrError {
    /// The menu at fault (its id).
    pub menu: String,
    /// The entry at fault (its binding), if the fault is in an entry.
    pub entry: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl IvrError {
    fn menu(menu: &str, message: impl Into<String>) -> Self {
        IvrError {
            menu: menu.to_string(),
            entry: None,
            message: message.into(),
        }
    }

    fn entry(menu: &str, entry: &str, message: impl Into<String>) -> Self {
        IvrError {
            menu: menu.to_string(),
            entry: Some(entry.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for IvrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(e) => write!(
                f,
                "IVR menu '{}', entry '{}': {}",
                self.menu, e, self.message
            ),
            None => write!(f, "IVR menu '{}': {}", self.menu, self.message),
        }
    }
}

impl std::error::Error for IvrError {}

/// Checks `menus` (whose entry point is `root`) completely: structure,
/// limits, bindings, and that every prompt, extension and application they
/// name exists according to `ctx`.
pub fn validate(menus: &[IvrMenu], root: &str, ctx: &dyn IvrContext) -> Result<(), IvrError> {
    check(menus, root, Some(ctx))
}

/// Checks what can be checked without the engine: everything [`validate`]
/// checks except that prompts, extensions and applications exist. A runner
/// is only built from menus that pass this.
pub fn validate_structure(menus: &[IvrMenu], root: &str) -> Result<(), IvrError> {
    check(menus, root, None)
}

fn check(menus: &[IvrMenu], root: &str, ctx: Option<&dyn IvrContext>) -> Result<(), IvrError> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, m) in menus.iter().enumerate() {
        if m.id.trim().is_empty() {
            return Err(IvrError::menu(&format!("#{}", i + 1), "the menu has no id"));
        }
        if ids.insert(m.id.as_str(), i).is_some() {
            return Err(IvrError::menu(&m.id, "two menus have this id"));
        }
    }
    let Some(&root_ix) = ids.get(root) else {
        return Err(IvrError::menu(root, "the root menu does not exist"));
    };
    for m in menus {
        check_menu(m, &ids, ctx)?;
    }
    let graph = submenu_graph(menus, &ids);
    check_loops(menus, &graph)?;
    check_depth(menus, &graph, root_ix)
}

fn check_menu(
    m: &IvrMenu,
    ids: &HashMap<&str, usize>,
    ctx: Option<&dyn IvrContext>,
) -> Result<(), IvrError> {
    let id = m.id.as_str();
    if m.max_failures == 0 {
        return Err(IvrError::menu(id, "max_failures must be at least 1"));
    }
    if m.max_timeouts == Some(0) {
        return Err(IvrError::menu(id, "max_timeouts must be at least 1"));
    }
    if m.timeout_ms == 0 {
        return Err(IvrError::menu(id, "timeout_ms must be more than 0"));
    }
    if m.inter_digit_timeout_ms == Some(0) {
        return Err(IvrError::menu(
            id,
            "inter_digit_timeout_ms must be more than 0",
        ));
    }
    if let Some(k) = m.confirm_key {
        if !DTMF_KEYS.contains(k) {
            return Err(IvrError::menu(
                id,
                format!("confirm_key {k:?} is not a phone key (0-9, *, #, A-D)"),
            ));
        }
        if m.confirm_attempts == 0 {
            return Err(IvrError::menu(id, "confirm_attempts must be at least 1"));
        }
    }
    if prompt(&m.greet_long).is_none() {
        return Err(IvrError::menu(id, "the menu has no greeting (greet_long)"));
    }
    let prompts = [
        ("greet_long", &m.greet_long),
        ("greet_short", &m.greet_short),
        ("invalid_sound", &m.invalid_sound),
        ("exit_sound", &m.exit_sound),
        ("transfer_sound", &m.transfer_sound),
        ("confirm_sound", &m.confirm_sound),
    ];
    if let Some(ctx) = ctx {
        for (field, value) in prompts {
            if let Some(p) = prompt(value) {
                if !ctx.prompt_exists(p) {
                    return Err(IvrError::menu(
                        id,
                        format!("{field}: prompt '{p}' does not exist"),
                    ));
                }
            }
        }
    }
    if m.entries.is_empty() {
        return Err(IvrError::menu(id, "the menu has no entries"));
    }
    if m.collect_len() == 0 {
        return Err(IvrError::menu(
            id,
            "every binding is a regex: set digit_len to the number of digits to collect",
        ));
    }
    let mut seen = HashSet::new();
    for (i, e) in m.entries.iter().enumerate() {
        let label = if e.digits.is_empty() {
            format!("#{}", i + 1)
        } else {
            e.digits.clone()
        };
        let err = |msg: String| IvrError::entry(id, &label, msg);
        if e.digits.trim().is_empty() {
            return Err(err("the entry has no digits".into()));
        }
        let binding = Binding::parse(&e.digits).map_err(&err)?;
        if let Binding::Literal(d) = &binding {
            check_literal(d, m.digit_len).map_err(&err)?;
        }
        if !seen.insert(e.digits.as_str()) {
            return Err(err("this binding is used by two entries".into()));
        }
        check_action(&e.action, binding.groups(), ids, ctx).map_err(&err)?;
    }
    Ok(())
}

fn check_literal(digits: &str, digit_len: usize) -> Result<(), String> {
    if let Some(c) = digits.chars().find(|c| !DTMF_KEYS.contains(*c)) {
        return Err(format!("{c:?} is not a phone key (0-9, *, A-D)"));
    }
    if digits.contains('#') {
        return Err("'#' ends the input, so it cannot be part of a binding".into());
    }
    let len = digits.chars().count();
    if digit_len > 0 && len > digit_len {
        return Err(format!(
            "the binding is {len} digits long but digit_len allows {digit_len}"
        ));
    }
    Ok(())
}

fn check_action(
    action: &IvrAction,
    groups: usize,
    ids: &HashMap<&str, usize>,
    ctx: Option<&dyn IvrContext>,
) -> Result<(), String> {
    match action {
        IvrAction::Extension { number } => {
            check_number("extension", number, groups, "0123456789*#")?;
            if let Some(ctx) = ctx {
                if !has_references(number) && !ctx.extension_exists(number) {
                    return Err(format!("extension {number} does not exist"));
                }
            }
        }
        IvrAction::External { number } => {
            check_number("external", number, groups, "0123456789*#+")?;
        }
        IvrAction::App { name, arg } => {
            if name.trim().is_empty() {
                return Err("the application name is empty".into());
            }
            if let Some(ctx) = ctx {
                if !ctx.app_exists(name) {
                    return Err(format!("application '{name}' does not exist"));
                }
            }
            check_references(arg, groups)?;
        }
        IvrAction::Submenu { menu } => {
            if menu.trim().is_empty() {
                return Err("the submenu is not chosen".into());
            }
            if !ids.contains_key(menu.as_str()) {
                return Err(format!("submenu '{menu}' does not exist"));
            }
        }
        IvrAction::PlayFile { file } => {
            if file.trim().is_empty() {
                return Err("the file to play is not chosen".into());
            }
            if let Some(ctx) = ctx {
                if !ctx.prompt_exists(file) {
                    return Err(format!("prompt '{file}' does not exist"));
                }
            }
        }
        IvrAction::Hangup | IvrAction::Back | IvrAction::Top => {}
    }
    Ok(())
}

/// A transfer target: phone keys (`allowed`) and `$N` references only.
fn check_number(kind: &str, number: &str, groups: usize, allowed: &str) -> Result<(), String> {
    if number.trim().is_empty() {
        return Err(format!("the {kind} number is empty"));
    }
    check_references(number, groups)?;
    let mut chars = number.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            chars.next();
        } else if !allowed.contains(c) {
            return Err(format!("{kind} number {number:?}: {c:?} is not allowed"));
        }
    }
    Ok(())
}

/// For each menu, its submenu entries: (binding, target menu index).
type Graph<'m> = Vec<Vec<(&'m str, usize)>>;

fn submenu_graph<'m>(menus: &'m [IvrMenu], ids: &HashMap<&str, usize>) -> Graph<'m> {
    menus
        .iter()
        .map(|m| {
            m.entries
                .iter()
                .filter_map(|e| match &e.action {
                    IvrAction::Submenu { menu } => {
                        ids.get(menu.as_str()).map(|&t| (e.digits.as_str(), t))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    OnPath,
    Done,
}

/// Refuses a menu reachable from itself through submenu entries: the caller
/// would only ever go deeper (back and top are the way up).
fn check_loops(menus: &[IvrMenu], graph: &Graph) -> Result<(), IvrError> {
    let mut marks = vec![Mark::New; menus.len()];
    let mut path = Vec::new();
    for start in 0..menus.len() {
        if marks[start] == Mark::New {
            visit(start, menus, graph, &mut marks, &mut path)?;
        }
    }
    Ok(())
}

fn visit(
    at: usize,
    menus: &[IvrMenu],
    graph: &Graph,
    marks: &mut [Mark],
    path: &mut Vec<usize>,
) -> Result<(), IvrError> {
    marks[at] = Mark::OnPath;
    path.push(at);
    for &(binding, to) in &graph[at] {
        match marks[to] {
            Mark::OnPath => {
                let from = path.iter().position(|&p| p == to).unwrap_or(0);
                let cycle: Vec<&str> = path[from..]
                    .iter()
                    .chain(std::iter::once(&to))
                    .map(|&i| menus[i].id.as_str())
                    .collect();
                let message = if to == at {
                    format!("submenu '{}' is this menu itself", menus[to].id)
                } else {
                    format!(
                        "submenu '{}' loops back: {} (use back or top entries to go up)",
                        menus[to].id,
                        cycle.join(" -> ")
                    )
                };
                return Err(IvrError::entry(&menus[at].id, binding, message));
            }
            Mark::New => visit(to, menus, graph, marks, path)?,
            Mark::Done => {}
        }
    }
    path.pop();
    marks[at] = Mark::Done;
    Ok(())
}

/// Refuses submenus nested deeper than [`MAX_DEPTH`] below the root
/// (called once the graph is known to have no loops).
fn check_depth(menus: &[IvrMenu], graph: &Graph, root: usize) -> Result<(), IvrError> {
    // height[i]: levels from menu i down to its deepest submenu, itself included.
    let mut height: Vec<Option<usize>> = vec![None; menus.len()];
    fn height_of(i: usize, graph: &Graph, height: &mut [Option<usize>]) -> usize {
        if let Some(h) = height[i] {
            return h;
        }
        let below = graph[i]
            .iter()
            .map(|&(_, c)| height_of(c, graph, height))
            .max()
            .unwrap_or(0);
        height[i] = Some(below + 1);
        below + 1
    }
    if height_of(root, graph, &mut height) <= MAX_DEPTH {
        return Ok(());
    }
    // Walk down the too-deep chain to the entry that crosses the limit.
    let (mut at, mut level) = (root, 1);
    loop {
        let next = graph[at]
            .iter()
            .find(|&&(_, c)| level + height_of(c, graph, &mut height) > MAX_DEPTH);
        let Some(&(binding, child)) = next else {
            return Ok(());
        };
        if level + 1 > MAX_DEPTH {
            return Err(IvrError::entry(
                &menus[at].id,
                binding,
                format!(
                    "submenu '{}' would be level {} below the root; menus nest at most {MAX_DEPTH} deep",
                    menus[child].id,
                    level + 1
                ),
            ));
        }
        at = child;
        level += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::menu::IvrEntry;
    use super::*;

    struct Known;

    impl IvrContext for Known {
        fn prompt_exists(&self, p: &str) -> bool {
            !p.contains("missing")
        }
        fn extension_exists(&self, n: &str) -> bool {
            n.starts_with("10")
        }
        fn app_exists(&self, name: &str) -> bool {
            matches!(name, "queue" | "voicemail")
        }
    }

    fn entry(digits: &str, action: IvrAction) -> IvrEntry {
        IvrEntry {
            label: String::new(),
            digits: digits.into(),
            action,
        }
    }

    fn ext(n: &str) -> IvrAction {
        IvrAction::Extension { number: n.into() }
    }

    fn sub(m: &str) -> IvrAction {
        IvrAction::Submenu { menu: m.into() }
    }

    fn menu(id: &str, entries: Vec<IvrEntry>) -> IvrMenu {
        let mut m = IvrMenu::new(id);
        m.greet_long = Some("welcome".into());
        m.entries = entries;
        m
    }

    fn good() -> Vec<IvrMenu> {
        let mut main = menu(
            "main",
            vec![
                entry("1", ext("1001")),
                entry(
                    r"/^9(\d{4})$/",
                    IvrAction::External {
                        number: "0$1".into(),
                    },
                ),
                entry(
                    "2",
                    IvrAction::App {
                        name: "queue".into(),
                        arg: "301".into(),
                    },
                ),
                entry("3", sub("sales")),
                entry(
                    "4",
                    IvrAction::PlayFile {
                        file: "/media/hours.wav".into(),
                    },
                ),
                entry(r"/^8(\d{3})$/", ext("1$1")),
                entry("0", IvrAction::Hangup),
            ],
        );
        main.greet_short = Some("welcome_short".into());
        main.invalid_sound = Some("invalid".into());
        main.exit_sound = Some("goodbye".into());
        main.transfer_sound = Some("transfer".into());
        main.digit_len = 5;
        let sales = menu(
            "sales",
            vec![
                entry("1", ext("1002")),
                entry("*", IvrAction::Back),
                entry("0", IvrAction::Top),
            ],
        );
        vec![main, sales]
    }

    /// Asserts that validation refuses `menus` naming `menu`, `entry` and
    /// a message containing `text`, and that Display says all three.
    fn refused(menus: &[IvrMenu], menu: &str, entry: Option<&str>, text: &str) {
        let e = validate(menus, "main", &Known).expect_err("should be refused");
        assert_eq!(e.menu, menu, "{e}");
        assert_eq!(e.entry.as_deref(), entry, "{e}");
        assert!(e.message.contains(text), "{e}");
        let shown = e.to_string();
        assert!(shown.contains(&format!("'{menu}'")), "{shown}");
        if let Some(entry) = entry {
            assert!(shown.contains(&format!("entry '{entry}'")), "{shown}");
        }
    }

    #[test]
    fn a_good_ivr_passes() {
        let menus = good();
        assert_eq!(validate(&menus, "main", &Known), Ok(()));
        assert_eq!(validate_structure(&menus, "main"), Ok(()));
    }

    #[test]
    fn unknown_root_and_duplicate_or_empty_ids() {
        let menus = good();
        let e = validate(&menus, "nope", &Known).unwrap_err();
        assert_eq!(e.menu, "nope");
        assert!(e.message.contains("root menu does not exist"));
        let mut twice = good();
        twice[1].id = "main".into();
        refused(&twice, "main", None, "two menus have this id");
        let mut blank = good();
        blank[1].id = " ".into();
        refused(&blank, "#2", None, "no id");
    }

    #[test]
    fn unknown_submenu() {
        let mut menus = good();
        menus[0].entries[3] = entry("3", sub("support"));
        refused(
            &menus,
            "main",
            Some("3"),
            "submenu 'support' does not exist",
        );
    }

    #[test]
    fn submenu_loops_are_refused() {
        let mut menus = good();
        menus[1].entries.push(entry("9", sub("main")));
        refused(&menus, "sales", Some("9"), "main -> sales -> main");
        let mut own = good();
        own[1].entries.push(entry("9", sub("sales")));
        refused(&own, "sales", Some("9"), "this menu itself");
    }

    #[test]
    fn nesting_is_limited_to_twelve_levels() {
        // main -> m2 -> ... -> m12 is 12 levels: allowed; one more is not.
        let chain = |levels: usize| {
            let mut menus = vec![menu("main", vec![entry("1", sub("m2"))])];
            for l in 2..=levels {
                let next = if l < levels {
                    vec![entry("1", sub(&format!("m{}", l + 1)))]
                } else {
                    vec![entry("1", IvrAction::Back)]
                };
                menus.push(menu(&format!("m{l}"), next));
            }
            menus
        };
        assert_eq!(validate(&chain(12), "main", &Known), Ok(()));
        refused(&chain(13), "m12", Some("1"), "level 13");
    }

    #[test]
    fn missing_prompts_name_the_field() {
        for field in 0..6 {
            let mut menus = good();
            let m = &mut menus[1];
            let missing = Some("missing_prompt".to_string());
            match field {
                0 => m.greet_long = missing,
                1 => m.greet_short = missing,
                2 => m.invalid_sound = missing,
                3 => m.exit_sound = missing,
                4 => m.transfer_sound = missing,
                _ => m.confirm_sound = missing,
            }
            let names = [
                "greet_long",
                "greet_short",
                "invalid_sound",
                "exit_sound",
                "transfer_sound",
                "confirm_sound",
            ];
            refused(
                &menus,
                "sales",
                None,
                &format!("{}: prompt 'missing_prompt' does not exist", names[field]),
            );
        }
        let mut play = good();
        play[0].entries[4] = entry(
            "4",
            IvrAction::PlayFile {
                file: "missing.wav".into(),
            },
        );
        refused(
            &play,
            "main",
            Some("4"),
            "prompt 'missing.wav' does not exist",
        );
        let mut silent = good();
        silent[1].greet_long = Some(String::new());
        refused(&silent, "sales", None, "no greeting");
    }

    #[test]
    fn prompts_are_not_looked_up_without_a_context() {
        let mut menus = good();
        menus[0].greet_short = Some("missing".into());
        assert_eq!(validate_structure(&menus, "main"), Ok(()));
    }

    #[test]
    fn unreachable_targets() {
        let mut menus = good();
        menus[1].entries[0] = entry("1", ext("2002"));
        refused(&menus, "sales", Some("1"), "extension 2002 does not exist");
        let mut app = good();
        app[0].entries[2] = entry(
            "2",
            IvrAction::App {
                name: "fax".into(),
                arg: String::new(),
            },
        );
        refused(&app, "main", Some("2"), "application 'fax' does not exist");
        let mut empty = good();
        empty[0].entries[0] = entry("1", ext(" "));
        refused(&empty, "main", Some("1"), "extension number is empty");
        let mut letters = good();
        letters[0].entries[1] = entry(
            r"/^9(\d{4})$/",
            IvrAction::External {
                number: "0x$1".into(),
            },
        );
        refused(
            &letters,
            "main",
            Some(r"/^9(\d{4})$/"),
            "'x' is not allowed",
        );
    }

    #[test]
    fn targets_with_captures_are_checked_for_syntax_only() {
        let mut menus = good();
        // "9$1" would not exist as an extension, but it is only checked for syntax.
        menus[0].entries[5] = entry(r"/^8(\d{3})$/", ext("9$1"));
        assert_eq!(validate(&menus, "main", &Known), Ok(()));
        menus[0].entries[5] = entry(r"/^8(\d{3})$/", ext("9$2"));
        refused(&menus, "main", Some(r"/^8(\d{3})$/"), "has 1 capture group");
        let mut literal = good();
        literal[0].entries[0] = entry("1", ext("10$1"));
        refused(&literal, "main", Some("1"), "no capture group");
        let mut arg = good();
        arg[0].entries[2] = entry(
            "2",
            IvrAction::App {
                name: "voicemail".into(),
                arg: "$".into(),
            },
        );
        refused(&arg, "main", Some("2"), "group number");
    }

    #[test]
    fn invalid_regexes() {
        let mut menus = good();
        menus[0].entries[1].digits = r"/^9(\d{4}$/".into();
        refused(&menus, "main", Some(r"/^9(\d{4}$/"), "invalid regex");
        menus[0].entries[1].digits = r"/^9\d".into();
        refused(&menus, "main", Some(r"/^9\d"), "must end with '/'");
    }

    #[test]
    fn duplicate_and_malformed_bindings() {
        let mut menus = good();
        menus[1].entries.push(entry("1", IvrAction::Hangup));
        refused(&menus, "sales", Some("1"), "used by two entries");
        let mut hash = good();
        hash[1].entries.push(entry("1#", IvrAction::Hangup));
        refused(&hash, "sales", Some("1#"), "'#' ends the input");
        let mut letter = good();
        letter[1].entries.push(entry("x", IvrAction::Hangup));
        refused(&letter, "sales", Some("x"), "not a phone key");
        let mut empty = good();
        empty[1].entries.push(entry("", IvrAction::Hangup));
        refused(&empty, "sales", Some("#4"), "no digits");
    }

    #[test]
    fn literal_longer_than_digit_len() {
        let mut menus = good();
        menus[1].digit_len = 1;
        menus[1].entries.push(entry("12", IvrAction::Hangup));
        refused(
            &menus,
            "sales",
            Some("12"),
            "2 digits long but digit_len allows 1",
        );
    }

    /// A change to a menu and the refusal it must cause.
    type Case = (fn(&mut IvrMenu), &'static str);

    #[test]
    fn limits_and_timeouts_must_be_positive() {
        let cases: Vec<Case> = vec![
            (|m| m.max_failures = 0, "max_failures must be at least 1"),
            (
                |m| m.max_timeouts = Some(0),
                "max_timeouts must be at least 1",
            ),
            (|m| m.timeout_ms = 0, "timeout_ms must be more than 0"),
            (
                |m| m.inter_digit_timeout_ms = Some(0),
                "inter_digit_timeout_ms must be more than 0",
            ),
            (
                |m| {
                    m.confirm_key = Some('#');
                    m.confirm_attempts = 0
                },
                "confirm_attempts must be at least 1",
            ),
            (
                |m| m.confirm_key = Some('x'),
                "confirm_key 'x' is not a phone key",
            ),
            (|m| m.entries.clear(), "no entries"),
            (
                |m| m.entries = vec![entry(r"/^(\d+)$/", ext("$1"))],
                "set digit_len",
            ),
        ];
        for (change, text) in cases {
            let mut menus = good();
            change(&mut menus[1]);
            refused(&menus, "sales", None, text);
        }
    }

    #[test]
    fn empty_submenu_app_and_file_targets() {
        let cases = [
            (sub(""), "submenu is not chosen"),
            (
                IvrAction::App {
                    name: "".into(),
                    arg: "".into(),
                },
                "application name is empty",
            ),
            (
                IvrAction::PlayFile { file: "".into() },
                "file to play is not chosen",
            ),
            (
                IvrAction::External { number: "".into() },
                "external number is empty",
            ),
        ];
        for (action, text) in cases {
            let mut menus = good();
            menus[1].entries.push(entry("5", action));
            refused(&menus, "sales", Some("5"), text);
        }
    }
}
