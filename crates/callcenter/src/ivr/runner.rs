//! One caller walking the IVR menus, as a sans-IO state machine: the runner
//! says what to do next ([`IvrStep`]), the driver does it and reports what
//! happened ([`IvrInput`]). Semantics of FreeSWITCH's menus (REFERENCE.md
//! section 2):
//!
//! - each pass plays the greeting (long on the first pass and on coming back
//!   from a submenu, short afterwards) and collects up to the collection
//!   length, ending early on `#` or a timeout; keys typed during the
//!   greeting count (the call-control API keeps them);
//! - literal bindings match the whole input, regex bindings may match part
//!   of it and fill `$1`.. in the target; FreeSWITCH runs every matching
//!   entry in turn, **we run the first match only**: several transfers for
//!   one input cannot all happen, and the admin form orders the entries;
//! - no input: timeouts +1, no sound; input that matches nothing: the
//!   invalid sound, failures +1; a match resets failures;
//! - a menu that reaches its limit returns to its parent (long greeting
//!   there); the top menu reaching its limit leaves the IVR, after its exit
//!   sound.

use super::binding::{substitute, Binding};
use super::menu::{prompt, IvrAction, IvrMenu};
use super::validate::{validate_structure, IvrError};
use crate::collect::CollectSpec;
use std::collections::HashMap;

/// The key that ends a collection early.
pub const TERMINATOR: &str = "#";

/// What the driver must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrStep {
    /// Play the prompts (a key interrupts them) and collect digits;
    /// answer with `Collected` or `Timeout`.
    PlayAndCollect {
        /// Greeting(s) to play.
        prompts: Vec<String>,
        /// How to collect.
        spec: CollectSpec,
    },
    /// Read back `digits` after the prompts and collect one key; answer with
    /// `Confirm(key pressed == key)` or `Timeout`.
    Confirm {
        /// Played before the digits.
        prompts: Vec<String>,
        /// The digits to read back.
        digits: String,
        /// How to collect the answer (one key, no terminator).
        spec: CollectSpec,
        /// The key that accepts.
        key: char,
    },
    /// Play the prompts to the end; answer with `PlayDone`.
    Play(Vec<String>),
    /// Connect the caller to an extension; answer with `TransferFailed` if
    /// it was not reached (a completed transfer ends the IVR).
    Transfer {
        /// The extension.
        to_extension: String,
    },
    /// Done: route the caller to an external number.
    External {
        /// The number.
        number: String,
    },
    /// Done: run an application on the call.
    RunApp {
        /// Application name.
        name: String,
        /// Its argument, captures substituted.
        arg: String,
    },
    /// Done: hang up.
    Hangup,
    /// Done: the caller left the top menu.
    Exit {
        /// Why.
        reason: ExitReason,
    },
}

impl IvrStep {
    /// True if the IVR is over after this step.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            IvrStep::External { .. }
                | IvrStep::RunApp { .. }
                | IvrStep::Hangup
                | IvrStep::Exit { .. }
        )
    }
}

/// Why the caller left the top menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// Too many inputs that matched nothing (or were not confirmed).
    Failures,
    /// Too many passes without input.
    Timeouts,
    /// A "back" entry of the top menu.
    Exit,
}

/// What happened to the last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrInput {
    /// Digits collected, and the terminator if one ended the input.
    Collected(String, Option<char>),
    /// Nothing (or not enough) was pressed in time.
    Timeout,
    /// A `Play` step finished.
    PlayDone,
    /// The answer to a `Confirm` step: true if the confirm key was pressed.
    Confirm(bool),
    /// A `Transfer` step did not reach the extension; the caller is back.
    TransferFailed,
}

/// A menu being walked: its place in the menus and its own counters (kept
/// while a submenu runs, as FreeSWITCH's recursion keeps them).
#[derive(Clone, Debug)]
struct Frame {
    menu: usize,
    failures: u32,
    timeouts: u32,
    long_greeting: bool,
}

/// What to do once a `Play` is done.
#[derive(Clone, Debug)]
enum AfterPlay {
    NextPass,
    CheckLimits,
    Transfer(String),
    External(String),
    Leave(ExitReason),
    Hangup,
}

#[derive(Clone, Debug)]
enum Phase {
    NotStarted,
    Collecting,
    Confirming { digits: String, attempts_left: u32 },
    Playing(AfterPlay),
    Transferring,
    Finished,
}

/// One caller's walk through a set of menus.
#[derive(Debug)]
pub struct IvrRun<'m> {
    menus: &'m [IvrMenu],
    bindings: Vec<Vec<Binding>>,
    ids: HashMap<&'m str, usize>,
    root: usize,
    stack: Vec<Frame>,
    phase: Phase,
    last: IvrStep,
}

impl<'m> IvrRun<'m> {
    /// A walk of `menus` starting at the menu `root`; refuses menus that fail
    /// [`validate_structure`].
    pub fn new(menus: &'m [IvrMenu], root: &str) -> Result<Self, IvrError> {
        validate_structure(menus, root)?;
        let mut bindings = Vec::with_capacity(menus.len());
        for m in menus {
            let mut parsed = Vec::with_capacity(m.entries.len());
            for e in &m.entries {
                let b = Binding::parse(&e.digits).map_err(|message| IvrError {
                    menu: m.id.clone(),
                    entry: Some(e.digits.clone()),
                    message,
                })?;
                parsed.push(b);
            }
            bindings.push(parsed);
        }
        let ids: HashMap<&str, usize> = menus
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        let root = ids.get(root).copied().ok_or_else(|| IvrError {
            menu: root.to_string(),
            entry: None,
            message: "the root menu does not exist".into(),
        })?;
        Ok(IvrRun {
            menus,
            bindings,
            ids,
            root,
            stack: Vec::new(),
            phase: Phase::NotStarted,
            last: IvrStep::Hangup,
        })
    }

    /// Enters the root menu: its long greeting and the first collection.
    pub fn start(&mut self) -> IvrStep {
        if !matches!(self.phase, Phase::NotStarted) {
            return self.last.clone();
        }
        self.stack.push(Frame::new(self.root));
        self.next_pass()
    }

    /// Advances with what happened to the last step. An input that does not
    /// answer the last step (e.g. `PlayDone` while collecting) changes
    /// nothing: the last step is returned again. Before `start`, starts.
    pub fn on_input(&mut self, input: IvrInput) -> IvrStep {
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (phase, input) {
            (Phase::NotStarted, _) => {
                self.phase = Phase::NotStarted;
                self.start()
            }
            (Phase::Collecting, IvrInput::Collected(d, _)) if !d.is_empty() => self.collected(d),
            (Phase::Collecting, IvrInput::Collected(..) | IvrInput::Timeout) => self.timed_out(),
            (Phase::Confirming { digits, .. }, IvrInput::Confirm(true)) => self.dispatch(&digits),
            (Phase::Confirming { digits, .. }, IvrInput::Collected(d, t)) => {
                let key = self.menu().confirm_key;
                if key.is_some() && (d.chars().next() == key || t == key) {
                    self.dispatch(&digits)
                } else {
                    self.rejected()
                }
            }
            (Phase::Confirming { .. }, IvrInput::Confirm(false)) => self.rejected(),
            (
                Phase::Confirming {
                    digits,
                    attempts_left,
                },
                IvrInput::Timeout,
            ) => {
                if attempts_left > 1 {
                    self.confirm(digits, attempts_left - 1)
                } else {
                    self.rejected()
                }
            }
            (Phase::Playing(after), IvrInput::PlayDone) => self.after_play(after),
            (Phase::Transferring, IvrInput::TransferFailed) => {
                // The caller is back with us: say so, and stay in the menu.
                self.play_then(prompt(&self.menu().invalid_sound), AfterPlay::NextPass)
            }
            (phase, _) => {
                self.phase = phase;
                self.last.clone()
            }
        }
    }

    /// The id of the menu the caller is in.
    pub fn current_menu(&self) -> &str {
        let i = self.stack.last().map_or(self.root, |f| f.menu);
        &self.menus[i].id
    }

    /// How deep the caller is: 1 in the root menu.
    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    /// The last step returned.
    pub fn last_step(&self) -> &IvrStep {
        &self.last
    }

    fn menu(&self) -> &'m IvrMenu {
        let i = self.stack.last().map_or(self.root, |f| f.menu);
        &self.menus[i]
    }

    fn frame(&mut self) -> &mut Frame {
        if self.stack.is_empty() {
            self.stack.push(Frame::new(self.root));
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn emit(&mut self, phase: Phase, step: IvrStep) -> IvrStep {
        self.phase = phase;
        self.last = step.clone();
        step
    }

    /// A pass of the current menu: greeting, then collection.
    fn next_pass(&mut self) -> IvrStep {
        let menu = self.menu();
        let long = std::mem::replace(&mut self.frame().long_greeting, false);
        let greeting = if long {
            prompt(&menu.greet_long)
        } else {
            prompt(&menu.greet_short).or(prompt(&menu.greet_long))
        };
        let step = IvrStep::PlayAndCollect {
            prompts: greeting.map(str::to_string).into_iter().collect(),
            spec: collect_spec(menu),
        };
        self.emit(Phase::Collecting, step)
    }

    fn collected(&mut self, digits: String) -> IvrStep {
        let menu = self.menu();
        if menu.confirm_key.is_some() {
            let attempts = menu.confirm_attempts.max(1);
            return self.confirm(digits, attempts);
        }
        self.dispatch(&digits)
    }

    fn confirm(&mut self, digits: String, attempts_left: u32) -> IvrStep {
        let menu = self.menu();
        let Some(key) = menu.confirm_key else {
            return self.dispatch(&digits);
        };
        let step = IvrStep::Confirm {
            prompts: prompt(&menu.confirm_sound)
                .map(str::to_string)
                .into_iter()
                .collect(),
            digits: digits.clone(),
            spec: CollectSpec {
                min: 1,
                max: 1,
                timeout: menu.timeout(),
                inter_digit: menu.timeout(),
                // The confirm key may be '#': nothing terminates this one.
                terminators: String::new(),
            },
            key,
        };
        self.emit(
            Phase::Confirming {
                digits,
                attempts_left,
            },
            step,
        )
    }

    /// Unconfirmed input is dropped and counts as a failure, without the
    /// invalid sound (the caller did not mistype, they declined).
    fn rejected(&mut self) -> IvrStep {
        self.frame().failures += 1;
        self.check_limits()
    }

    fn timed_out(&mut self) -> IvrStep {
        self.frame().timeouts += 1;
        self.check_limits()
    }

    /// Runs the first entry whose binding matches `digits`.
    fn dispatch(&mut self, digits: &str) -> IvrStep {
        let menu_ix = self.frame().menu;
        let menus = self.menus;
        let menu = &menus[menu_ix];
        let found = self.bindings[menu_ix]
            .iter()
            .zip(&menu.entries)
            .find_map(|(b, e)| b.matches(digits).map(|caps| (e, caps)));
        let Some((entry, caps)) = found else {
            self.frame().failures += 1;
            return self.play_then(prompt(&menu.invalid_sound), AfterPlay::CheckLimits);
        };
        self.frame().failures = 0;
        match &entry.action {
            IvrAction::Extension { number } => {
                let to = substitute(number, &caps);
                self.play_then(prompt(&menu.transfer_sound), AfterPlay::Transfer(to))
            }
            IvrAction::External { number } => {
                let to = substitute(number, &caps);
                self.play_then(prompt(&menu.transfer_sound), AfterPlay::External(to))
            }
            IvrAction::App { name, arg } => {
                let step = IvrStep::RunApp {
                    name: name.clone(),
                    arg: substitute(arg, &caps),
                };
                self.emit(Phase::Finished, step)
            }
            IvrAction::Hangup => self.leave_then(AfterPlay::Hangup),
            IvrAction::Submenu { menu: id } => match self.ids.get(id.as_str()) {
                // Validation refuses loops and nesting beyond the limit, so
                // this is a new, deeper menu.
                Some(&sub) if sub != menu_ix => {
                    self.stack.push(Frame::new(sub));
                    self.next_pass()
                }
                _ => self.next_pass(),
            },
            IvrAction::Back => self.up(ExitReason::Exit),
            IvrAction::Top => {
                self.stack.truncate(1);
                self.frame().long_greeting = true;
                self.next_pass()
            }
            IvrAction::PlayFile { file } => self.play_then(Some(file.trim()), AfterPlay::NextPass),
        }
    }

    /// After a failure or timeout: give up at the limit, else another pass.
    fn check_limits(&mut self) -> IvrStep {
        let menu = self.menu();
        let frame = self.frame().clone();
        if frame.failures >= menu.max_failures {
            self.up(ExitReason::Failures)
        } else if frame.timeouts >= menu.max_timeouts() {
            self.up(ExitReason::Timeouts)
        } else {
            self.next_pass()
        }
    }

    /// Leaves the current menu: to its parent (long greeting there), or out
    /// of the IVR from the top menu.
    fn up(&mut self, reason: ExitReason) -> IvrStep {
        if self.stack.len() > 1 {
            self.stack.pop();
            self.frame().long_greeting = true;
            self.next_pass()
        } else {
            self.leave_then(AfterPlay::Leave(reason))
        }
    }

    /// Leaving the IVR: the top menu's exit sound first.
    fn leave_then(&mut self, after: AfterPlay) -> IvrStep {
        self.stack.truncate(1);
        let exit = prompt(&self.menus[self.frame().menu].exit_sound);
        self.play_then(exit, after)
    }

    /// Plays `sound` if there is one, then does `after`.
    fn play_then(&mut self, sound: Option<&str>, after: AfterPlay) -> IvrStep {
        match sound {
            Some(s) => self.emit(Phase::Playing(after), IvrStep::Play(vec![s.to_string()])),
            None => self.after_play(after),
        }
    }

    fn after_play(&mut self, after: AfterPlay) -> IvrStep {
        match after {
            AfterPlay::NextPass => self.next_pass(),
            AfterPlay::CheckLimits => self.check_limits(),
            AfterPlay::Transfer(to_extension) => {
                self.emit(Phase::Transferring, IvrStep::Transfer { to_extension })
            }
            AfterPlay::External(number) => self.emit(Phase::Finished, IvrStep::External { number }),
            AfterPlay::Leave(reason) => self.emit(Phase::Finished, IvrStep::Exit { reason }),
            AfterPlay::Hangup => self.emit(Phase::Finished, IvrStep::Hangup),
        }
    }
}

impl Frame {
    fn new(menu: usize) -> Self {
        Frame {
            menu,
            failures: 0,
            timeouts: 0,
            long_greeting: true,
        }
    }
}

/// How a pass of `menu` collects: up to the collection length, `#` ends it,
/// `timeout` for the first digit and the inter-digit timeout after it.
pub fn collect_spec(menu: &IvrMenu) -> CollectSpec {
    CollectSpec {
        min: 1,
        max: menu.collect_len().max(1),
        timeout: menu.timeout(),
        inter_digit: menu.inter_digit_timeout(),
        terminators: TERMINATOR.into(),
    }
}
