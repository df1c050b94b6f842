//! The runner driven with virtual inputs: every behaviour of REFERENCE.md
//! section 2 that the walk through the menus implements.

use super::menu::{IvrAction, IvrEntry, IvrMenu};
use super::runner::{collect_spec, ExitReason, IvrInput, IvrRun, IvrStep};
use crate::collect::CollectSpec;
use std::time::Duration;

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

fn app(name: &str, arg: &str) -> IvrAction {
    IvrAction::App {
        name: name.into(),
        arg: arg.into(),
    }
}

fn sub(m: &str) -> IvrAction {
    IvrAction::Submenu { menu: m.into() }
}

fn menu(id: &str, entries: Vec<IvrEntry>) -> IvrMenu {
    let mut m = IvrMenu::new(id);
    m.greet_long = Some(format!("{id}_long"));
    m.greet_short = Some(format!("{id}_short"));
    m.invalid_sound = Some("invalid".into());
    m.entries = entries;
    m
}

/// main: 1 → 1001, 8xxx → 1xxx, 9... → external, 2 → queue, 3 → sales,
/// 4 → play, 0 → hang up, * → back (leaves); sales: 1 → 1002, 3 → deep,
/// * → back, 0 → top; deep: * → back, 0 → top.
fn ivr() -> Vec<IvrMenu> {
    let mut main = menu(
        "main",
        vec![
            entry("1", ext("1001")),
            entry(r"/^8(\d{3})$/", ext("1$1")),
            entry(
                r"/^9(\d+)$/",
                IvrAction::External {
                    number: "0$1".into(),
                },
            ),
            entry("2", app("queue", "301")),
            entry("3", sub("sales")),
            entry(
                "4",
                IvrAction::PlayFile {
                    file: "/media/hours.wav".into(),
                },
            ),
            entry("0", IvrAction::Hangup),
            entry("*", IvrAction::Back),
        ],
    );
    main.exit_sound = Some("goodbye".into());
    main.transfer_sound = Some("transfer".into());
    main.digit_len = 6;
    let mut sales = menu(
        "sales",
        vec![
            entry("1", ext("1002")),
            entry("3", sub("deep")),
            entry("*", IvrAction::Back),
            entry("0", IvrAction::Top),
            entry("9", IvrAction::Hangup),
        ],
    );
    sales.exit_sound = Some("sales_exit".into());
    sales.max_failures = 2;
    let deep = menu(
        "deep",
        vec![entry("*", IvrAction::Back), entry("0", IvrAction::Top)],
    );
    vec![main, sales, deep]
}

fn keys(d: &str) -> IvrInput {
    IvrInput::Collected(d.into(), None)
}

fn play(p: &str) -> IvrStep {
    IvrStep::Play(vec![p.into()])
}

/// The greeting of a collect step, or a failure naming the step.
fn greeting(step: &IvrStep) -> &str {
    match step {
        IvrStep::PlayAndCollect { prompts, .. } => prompts.first().map_or("", String::as_str),
        other => panic!("expected a collect, got {other:?}"),
    }
}

#[test]
fn first_pass_plays_the_long_greeting_and_collects_by_the_menu_rules() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    let step = run.start();
    assert_eq!(
        step,
        IvrStep::PlayAndCollect {
            prompts: vec!["main_long".into()],
            spec: CollectSpec {
                min: 1,
                max: 6,
                timeout: Duration::from_millis(10_000),
                inter_digit: Duration::from_millis(5_000),
                terminators: "#".into(),
            },
        }
    );
    assert_eq!(run.current_menu(), "main");
    assert_eq!(run.depth(), 1);
    assert_eq!(run.start(), step, "starting twice changes nothing");
}

#[test]
fn collection_length_and_timeouts_come_from_the_menu() {
    let mut m = menu("m", vec![entry("1", ext("1")), entry("100", ext("2"))]);
    let spec = collect_spec(&m);
    assert_eq!(spec.max, 3, "the longest literal binding");
    assert_eq!(spec.timeout, Duration::from_secs(10), "first digit");
    assert_eq!(
        spec.inter_digit,
        Duration::from_secs(5),
        "between digits: half"
    );
    m.digit_len = 4;
    m.timeout_ms = 4000;
    m.inter_digit_timeout_ms = Some(1500);
    let spec = collect_spec(&m);
    assert_eq!(spec.max, 4);
    assert_eq!(spec.timeout, Duration::from_millis(4000));
    assert_eq!(spec.inter_digit, Duration::from_millis(1500));
    assert_eq!(spec.terminators, "#");
}

#[test]
fn timeouts_are_counted_silently_then_exit_with_the_exit_sound() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    // A timeout, and '#' alone (nothing collected), count as timeouts.
    let s = run.on_input(IvrInput::Timeout);
    assert_eq!(greeting(&s), "main_short", "no sound, the short greeting");
    let s = run.on_input(IvrInput::Collected(String::new(), Some('#')));
    assert_eq!(greeting(&s), "main_short");
    assert_eq!(run.on_input(IvrInput::Timeout), play("goodbye"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Exit {
            reason: ExitReason::Timeouts
        }
    );
}

#[test]
fn max_timeouts_may_differ_from_max_failures() {
    let mut menus = ivr();
    menus[0].max_timeouts = Some(1);
    menus[0].exit_sound = None;
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(
        run.on_input(IvrInput::Timeout),
        IvrStep::Exit {
            reason: ExitReason::Timeouts
        },
        "no exit sound configured: straight out"
    );
}

#[test]
fn invalid_input_plays_the_invalid_sound_and_counts_failures() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    for _ in 0..2 {
        assert_eq!(run.on_input(keys("77")), play("invalid"));
        assert_eq!(greeting(&run.on_input(IvrInput::PlayDone)), "main_short");
    }
    assert_eq!(run.on_input(keys("5")), play("invalid"));
    assert_eq!(run.on_input(IvrInput::PlayDone), play("goodbye"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Exit {
            reason: ExitReason::Failures
        }
    );
    assert!(run.last_step().is_final());
}

#[test]
fn a_match_resets_failures() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    for _ in 0..2 {
        run.on_input(keys("7"));
        run.on_input(IvrInput::PlayDone);
    }
    // A good key: the play-file entry, then back to the menu.
    assert_eq!(run.on_input(keys("4")), play("/media/hours.wav"));
    assert_eq!(greeting(&run.on_input(IvrInput::PlayDone)), "main_short");
    for _ in 0..2 {
        assert_eq!(run.on_input(keys("7")), play("invalid"));
        let s = run.on_input(IvrInput::PlayDone);
        assert_eq!(greeting(&s), "main_short", "still within the limit");
    }
}

#[test]
fn literal_bindings_match_the_whole_input_exactly() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(run.on_input(keys("11")), play("invalid"), "'1' is not '11'");
    run.on_input(IvrInput::PlayDone);
    assert_eq!(run.on_input(keys("1")), play("transfer"));
}

#[test]
fn transfer_plays_the_transfer_sound_then_bridges() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(run.on_input(keys("1")), play("transfer"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Transfer {
            to_extension: "1001".into()
        }
    );
}

#[test]
fn regex_bindings_fill_captures_into_the_target() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(keys("8234"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Transfer {
            to_extension: "1234".into()
        }
    );
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(run.on_input(keys("95551")), play("transfer"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::External {
            number: "05551".into()
        }
    );
}

#[test]
fn application_entries_end_the_walk_with_their_argument() {
    let mut menus = ivr();
    menus[0]
        .entries
        .insert(0, entry(r"/^7(\d{3})$/", app("voicemail", "1$1")));
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(
        run.on_input(keys("7005")),
        IvrStep::RunApp {
            name: "voicemail".into(),
            arg: "1005".into()
        }
    );
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(
        run.on_input(keys("2")),
        IvrStep::RunApp {
            name: "queue".into(),
            arg: "301".into()
        }
    );
}

#[test]
fn only_the_first_matching_entry_runs() {
    let mut m = menu(
        "main",
        vec![
            entry(r"/^1/", app("first", "")),
            entry("1", app("second", "")),
        ],
    );
    m.digit_len = 1;
    let menus = vec![m];
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(
        run.on_input(keys("1")),
        IvrStep::RunApp {
            name: "first".into(),
            arg: String::new()
        }
    );
}

#[test]
fn submenu_back_and_top_navigate_with_the_right_greeting() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(greeting(&run.on_input(keys("3"))), "sales_long");
    assert_eq!(run.current_menu(), "sales");
    assert_eq!(greeting(&run.on_input(IvrInput::Timeout)), "sales_short");
    // Back: the parent's long greeting again, then its short one.
    assert_eq!(greeting(&run.on_input(keys("*"))), "main_long");
    assert_eq!(run.depth(), 1);
    assert_eq!(greeting(&run.on_input(IvrInput::Timeout)), "main_short");
    // Two levels down, then top.
    run.on_input(keys("3"));
    assert_eq!(greeting(&run.on_input(keys("3"))), "deep_long");
    assert_eq!(run.depth(), 3);
    assert_eq!(greeting(&run.on_input(keys("0"))), "main_long");
    assert_eq!(run.depth(), 1);
    assert_eq!(run.current_menu(), "main");
    // Submenu entries keep working from the restarted top.
    assert_eq!(greeting(&run.on_input(keys("3"))), "sales_long");
    // Back from a submenu of a submenu goes one level only.
    run.on_input(keys("3"));
    assert_eq!(greeting(&run.on_input(keys("*"))), "sales_long");
    assert_eq!(run.current_menu(), "sales");
}

#[test]
fn back_from_the_top_menu_leaves_with_the_exit_sound() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    assert_eq!(run.on_input(keys("*")), play("goodbye"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Exit {
            reason: ExitReason::Exit
        }
    );
}

#[test]
fn a_submenu_at_its_limit_returns_to_its_parent() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(IvrInput::Timeout); // main: 1 timeout
    run.on_input(keys("3"));
    // sales allows 2 failures; its exit sound is not played (not the top).
    run.on_input(keys("5"));
    assert_eq!(greeting(&run.on_input(IvrInput::PlayDone)), "sales_short");
    assert_eq!(run.on_input(keys("5")), play("invalid"));
    assert_eq!(greeting(&run.on_input(IvrInput::PlayDone)), "main_long");
    assert_eq!(run.current_menu(), "main");
    // main kept its own count: 1 timeout before, so 2 more reach 3.
    run.on_input(IvrInput::Timeout);
    assert_eq!(run.on_input(IvrInput::Timeout), play("goodbye"));
}

#[test]
fn short_greeting_falls_back_to_the_long_one() {
    let mut menus = ivr();
    menus[0].greet_short = Some(" ".into());
    let mut run = IvrRun::new(&menus, "main").unwrap();
    assert_eq!(greeting(&run.start()), "main_long");
    assert_eq!(greeting(&run.on_input(IvrInput::Timeout)), "main_long");
}

#[test]
fn hangup_entries_play_the_top_menus_exit_sound_first() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(keys("3"));
    assert_eq!(
        run.on_input(keys("9")),
        play("goodbye"),
        "main's, not sales'"
    );
    assert_eq!(run.on_input(IvrInput::PlayDone), IvrStep::Hangup);
}

#[test]
fn a_failed_transfer_brings_the_caller_back_to_the_menu() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(keys("1"));
    run.on_input(IvrInput::PlayDone);
    assert_eq!(run.on_input(IvrInput::TransferFailed), play("invalid"));
    assert_eq!(greeting(&run.on_input(IvrInput::PlayDone)), "main_short");
    // In a submenu without transfer or invalid sound: straight back.
    let mut quiet = ivr();
    quiet[1].invalid_sound = None;
    let mut run = IvrRun::new(&quiet, "main").unwrap();
    run.start();
    run.on_input(keys("3"));
    assert_eq!(
        run.on_input(keys("1")),
        IvrStep::Transfer {
            to_extension: "1002".into()
        }
    );
    assert_eq!(
        greeting(&run.on_input(IvrInput::TransferFailed)),
        "sales_short"
    );
}

#[test]
fn inputs_that_do_not_answer_the_step_change_nothing() {
    let menus = ivr();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    let collect = run.on_input(IvrInput::Timeout);
    assert_eq!(greeting(&collect), "main_long", "input before start starts");
    assert_eq!(run.on_input(IvrInput::PlayDone), collect);
    assert_eq!(run.on_input(IvrInput::TransferFailed), collect);
    assert_eq!(run.on_input(IvrInput::Confirm(true)), collect);
    assert_eq!(run.on_input(keys("7")), play("invalid"));
    assert_eq!(run.on_input(keys("1")), play("invalid"), "still playing");
    let done = {
        run.on_input(IvrInput::PlayDone);
        run.on_input(keys("2"))
    };
    assert!(done.is_final());
    assert_eq!(
        run.on_input(keys("1")),
        done,
        "a finished walk stays finished"
    );
}

fn confirming() -> Vec<IvrMenu> {
    let mut menus = ivr();
    menus[0].confirm_key = Some('#');
    menus[0].confirm_sound = Some("you_entered".into());
    menus[0].confirm_attempts = 2;
    menus
}

#[test]
fn confirm_key_accepts_the_collected_digits() {
    let menus = confirming();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    let step = run.on_input(keys("1"));
    assert_eq!(
        step,
        IvrStep::Confirm {
            prompts: vec!["you_entered".into()],
            digits: "1".into(),
            spec: CollectSpec {
                min: 1,
                max: 1,
                timeout: Duration::from_secs(10),
                inter_digit: Duration::from_secs(10),
                terminators: String::new(),
            },
            key: '#',
        }
    );
    assert_eq!(run.on_input(IvrInput::Confirm(true)), play("transfer"));
    // The driver may also hand back the key it collected.
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(keys("2"));
    assert_eq!(
        run.on_input(keys("#")),
        IvrStep::RunApp {
            name: "queue".into(),
            arg: "301".into()
        }
    );
}

#[test]
fn another_key_rejects_the_input_as_a_failure_without_the_invalid_sound() {
    let menus = confirming();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    run.on_input(keys("1"));
    assert_eq!(
        greeting(&run.on_input(IvrInput::Confirm(false))),
        "main_short"
    );
    run.on_input(keys("1"));
    assert_eq!(greeting(&run.on_input(keys("5"))), "main_short");
    run.on_input(keys("1"));
    // The third rejection reaches max failures.
    assert_eq!(run.on_input(IvrInput::Confirm(false)), play("goodbye"));
    assert_eq!(
        run.on_input(IvrInput::PlayDone),
        IvrStep::Exit {
            reason: ExitReason::Failures
        }
    );
}

#[test]
fn unanswered_confirmation_is_asked_again_up_to_the_attempts() {
    let menus = confirming();
    let mut run = IvrRun::new(&menus, "main").unwrap();
    run.start();
    let ask = run.on_input(keys("1"));
    assert_eq!(run.on_input(IvrInput::Timeout), ask, "second attempt");
    assert_eq!(greeting(&run.on_input(IvrInput::Timeout)), "main_short");
    // Invalid input is confirmed too before it is found invalid.
    assert!(matches!(run.on_input(keys("77")), IvrStep::Confirm { .. }));
    assert_eq!(run.on_input(IvrInput::Confirm(true)), play("invalid"));
}

#[test]
fn invalid_menus_are_refused_by_the_runner() {
    let mut menus = ivr();
    menus[1].entries.push(entry("7", sub("main")));
    let e = IvrRun::new(&menus, "main").unwrap_err();
    assert_eq!((e.menu.as_str(), e.entry.as_deref()), ("sales", Some("7")));
    assert!(IvrRun::new(&menus[..1], "nope").is_err());
}
