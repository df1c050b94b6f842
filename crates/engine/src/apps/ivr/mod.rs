//! IVR menus (FEATURES T8, manual 3.2.4): the menu model ([`menu`]), its
//! validation ([`validate`]), the sans-IO walk of one caller through the
//! menus ([`runner`]) and, here, the async driver that runs that walk on a
//! call through the call-control API.
//!
//! The driver only plays, collects and bridges to extensions; what needs
//! the rest of the engine (external numbers through a gateway, queues,
//! voicemail...) is handed back as an [`IvrOutcome`] for the engine to route.

// The model, validation and runner live in the pure `callcenter` crate.
pub use callcenter::ivr::{
    binding, menu, runner, validate, validate_structure, ExitReason, IvrAction, IvrContext,
    IvrEntry, IvrError, IvrInput, IvrMenu, IvrRun, IvrStep, MAX_DEPTH,
};

use crate::calls::control::{CallControl, CallError, Collected, PlayItem};
use std::path::PathBuf;
use std::time::Duration;

/// How long a transfer to an extension rings when the engine does not say.
pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// What the driver asks the engine while it runs: how long transfers ring
/// and how a configured prompt is played. Both have defaults.
pub trait IvrTargets {
    /// Ring time of a transfer to `extension`.
    fn ring_timeout(&self, _extension: &str) -> Duration {
        DEFAULT_RING_TIMEOUT
    }

    /// What to play for a prompt configured on a menu (see [`play_item`]).
    fn play_item(&self, prompt: &str) -> PlayItem {
        play_item(prompt)
    }
}

/// How an IVR run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvrOutcome {
    /// The caller was connected to the extension and that call is over.
    Transferred {
        /// The extension.
        extension: String,
    },
    /// The caller chose an external number: the engine dials it out.
    External {
        /// The number, captures substituted.
        number: String,
    },
    /// The caller chose an application: the engine runs it on the call.
    RunApp {
        /// Application name (e.g. "queue").
        name: String,
        /// Its argument (e.g. the queue number).
        arg: String,
    },
    /// A hang-up entry: the engine hangs up.
    Hangup,
    /// The caller left the top menu (limits reached or "back").
    Exit(ExitReason),
    /// The menus cannot run; nothing was played.
    Misconfigured(IvrError),
}

/// Runs the IVR whose entry point is `root` on `call` (answering it first)
/// until the caller is transferred, leaves, or chooses something the engine
/// must route. Errors are the call's (the caller hung up...).
pub async fn run(
    menus: &[IvrMenu],
    root: &str,
    call: &CallControl,
    ctx: &(impl IvrTargets + ?Sized),
) -> Result<IvrOutcome, CallError> {
    let mut ivr = match IvrRun::new(menus, root) {
        Ok(ivr) => ivr,
        Err(e) => return Ok(IvrOutcome::Misconfigured(e)),
    };
    call.answer().await?;
    let mut step = ivr.start();
    loop {
        let input = match &step {
            IvrStep::PlayAndCollect { prompts, spec } => {
                let items = play_items(prompts, ctx);
                let got = match call.play_and_collect(items, spec.clone()).await {
                    // A prompt that cannot be played must not lose the caller:
                    // collect without it.
                    Err(CallError::Media(why)) => {
                        tracing::warn!("call {}: IVR greeting: {why}", call.id);
                        call.play_and_collect(Vec::new(), spec.clone()).await
                    }
                    other => other,
                };
                collected_input(got)?
            }
            IvrStep::Confirm {
                prompts,
                digits,
                spec,
                key,
            } => {
                let items = confirm_items(prompts, digits, ctx);
                let got = match call.play_and_collect(items, spec.clone()).await {
                    Err(CallError::Media(why)) => {
                        tracing::warn!("call {}: IVR confirmation: {why}", call.id);
                        let say = vec![PlayItem::SayDigits(digits.clone())];
                        call.play_and_collect(say, spec.clone()).await
                    }
                    other => other,
                };
                confirm_input(got, *key)?
            }
            IvrStep::Play(prompts) => {
                // Not interruptible, as in FreeSWITCH: keys pressed meanwhile
                // stay queued in the call and count for the next collection.
                match call.play(play_items(prompts, ctx), false).await {
                    Ok(_) => {}
                    Err(CallError::Media(why)) => {
                        tracing::warn!("call {}: IVR prompt: {why}", call.id)
                    }
                    Err(e) => return Err(e),
                }
                IvrInput::PlayDone
            }
            IvrStep::Transfer { to_extension } => {
                call.report(&format!("IVR: transfer to {to_extension}"));
                let ring = ctx.ring_timeout(to_extension);
                let result = call.bridge(to_extension, ring).await;
                if let Err(e) = &result {
                    tracing::info!("call {}: IVR transfer to {to_extension}: {e}", call.id);
                }
                match bridge_input(result)? {
                    Some(input) => input,
                    None => {
                        return Ok(IvrOutcome::Transferred {
                            extension: to_extension.clone(),
                        })
                    }
                }
            }
            IvrStep::External { .. }
            | IvrStep::RunApp { .. }
            | IvrStep::Hangup
            | IvrStep::Exit { .. } => {
                // Final steps always have an outcome; Hangup is a safe answer
                // should that ever change.
                return Ok(final_outcome(&step).unwrap_or(IvrOutcome::Hangup));
            }
        };
        step = ivr.on_input(input);
    }
}

/// What to play for a configured prompt: a name without '/' is a built-in
/// prompt (`<sounds_dir>/<language>/<name>.wav`), anything else a file path.
pub fn play_item(prompt: &str) -> PlayItem {
    if prompt.contains('/') {
        PlayItem::File(PathBuf::from(prompt))
    } else {
        PlayItem::Prompt(prompt.to_string())
    }
}

/// The items for a step's prompts.
pub fn play_items(prompts: &[String], ctx: &(impl IvrTargets + ?Sized)) -> Vec<PlayItem> {
    prompts.iter().map(|p| ctx.play_item(p)).collect()
}

/// The items of a confirmation: its prompts, then the digits read back.
pub fn confirm_items(
    prompts: &[String],
    digits: &str,
    ctx: &(impl IvrTargets + ?Sized),
) -> Vec<PlayItem> {
    let mut items = play_items(prompts, ctx);
    items.push(PlayItem::SayDigits(digits.to_string()));
    items
}

/// The runner's input for what play-and-collect returned; other call
/// errors end the run.
pub fn collected_input(got: Result<Collected, CallError>) -> Result<IvrInput, CallError> {
    match got {
        Ok(c) => Ok(IvrInput::Collected(c.digits, c.terminator)),
        Err(CallError::Timeout) => Ok(IvrInput::Timeout),
        Err(e) => Err(e),
    }
}

/// The runner's input for the answer to a confirmation: was `key` pressed?
pub fn confirm_input(got: Result<Collected, CallError>, key: char) -> Result<IvrInput, CallError> {
    match got {
        Ok(c) => Ok(IvrInput::Confirm(
            c.digits.starts_with(key) || c.terminator == Some(key),
        )),
        Err(CallError::Timeout) => Ok(IvrInput::Timeout),
        Err(e) => Err(e),
    }
}

/// The runner's input after a bridge: None when it completed (the IVR is
/// over), `TransferFailed` when the extension was not reached and the caller
/// is still with us; the caller hanging up ends the run.
pub fn bridge_input(result: Result<(), CallError>) -> Result<Option<IvrInput>, CallError> {
    match result {
        Ok(()) => Ok(None),
        Err(CallError::HungUp) => Err(CallError::HungUp),
        Err(_) => Ok(Some(IvrInput::TransferFailed)),
    }
}

/// The outcome a final step stands for; None for a step that needs doing.
pub fn final_outcome(step: &IvrStep) -> Option<IvrOutcome> {
    Some(match step {
        IvrStep::External { number } => IvrOutcome::External {
            number: number.clone(),
        },
        IvrStep::RunApp { name, arg } => IvrOutcome::RunApp {
            name: name.clone(),
            arg: arg.clone(),
        },
        IvrStep::Hangup => IvrOutcome::Hangup,
        IvrStep::Exit { reason } => IvrOutcome::Exit(*reason),
        IvrStep::PlayAndCollect { .. }
        | IvrStep::Confirm { .. }
        | IvrStep::Play(_)
        | IvrStep::Transfer { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::control::CollectSpec;

    struct Defaults;
    impl IvrTargets for Defaults {}

    struct Library;
    impl IvrTargets for Library {
        fn ring_timeout(&self, ext: &str) -> Duration {
            Duration::from_secs(if ext == "1001" { 15 } else { 20 })
        }
        fn play_item(&self, prompt: &str) -> PlayItem {
            PlayItem::File(PathBuf::from(format!("/media/{prompt}.wav")))
        }
    }

    #[test]
    fn prompt_names_and_paths_map_to_play_items() {
        assert_eq!(play_item("welcome"), PlayItem::Prompt("welcome".into()));
        assert_eq!(
            play_item("/media/greeting.wav"),
            PlayItem::File(PathBuf::from("/media/greeting.wav"))
        );
        assert_eq!(
            play_item("uploads/hours.mp3"),
            PlayItem::File(PathBuf::from("uploads/hours.mp3"))
        );
        let prompts = vec!["welcome".to_string(), "/m/x.wav".to_string()];
        assert_eq!(
            play_items(&prompts, &Defaults),
            vec![
                PlayItem::Prompt("welcome".into()),
                PlayItem::File("/m/x.wav".into())
            ]
        );
    }

    #[test]
    fn the_engine_can_map_prompts_and_ring_times() {
        assert_eq!(
            play_items(&["hello".to_string()], &Library),
            vec![PlayItem::File("/media/hello.wav".into())]
        );
        assert_eq!(Library.ring_timeout("1001"), Duration::from_secs(15));
        assert_eq!(Defaults.ring_timeout("1001"), DEFAULT_RING_TIMEOUT);
    }

    #[test]
    fn confirmation_reads_the_digits_back_after_its_prompt() {
        assert_eq!(
            confirm_items(&["you_entered".to_string()], "1234", &Defaults),
            vec![
                PlayItem::Prompt("you_entered".into()),
                PlayItem::SayDigits("1234".into())
            ]
        );
        assert_eq!(
            confirm_items(&[], "7", &Defaults),
            vec![PlayItem::SayDigits("7".into())]
        );
    }

    #[test]
    fn collect_results_map_to_runner_inputs() {
        let got = Ok(Collected {
            digits: "12".into(),
            terminator: Some('#'),
        });
        assert_eq!(
            collected_input(got),
            Ok(IvrInput::Collected("12".into(), Some('#')))
        );
        assert_eq!(
            collected_input(Err(CallError::Timeout)),
            Ok(IvrInput::Timeout)
        );
        assert_eq!(
            collected_input(Err(CallError::HungUp)),
            Err(CallError::HungUp)
        );
    }

    #[test]
    fn confirm_answers_map_to_yes_or_no() {
        let key = |d: &str, t: Option<char>| {
            Ok(Collected {
                digits: d.into(),
                terminator: t,
            })
        };
        assert_eq!(
            confirm_input(key("#", None), '#'),
            Ok(IvrInput::Confirm(true))
        );
        assert_eq!(
            confirm_input(key("", Some('#')), '#'),
            Ok(IvrInput::Confirm(true))
        );
        assert_eq!(
            confirm_input(key("1", None), '#'),
            Ok(IvrInput::Confirm(false))
        );
        assert_eq!(
            confirm_input(Err(CallError::Timeout), '#'),
            Ok(IvrInput::Timeout)
        );
        assert_eq!(
            confirm_input(Err(CallError::HungUp), '#'),
            Err(CallError::HungUp)
        );
    }

    #[test]
    fn bridge_results_end_the_ivr_or_bring_the_caller_back() {
        assert_eq!(bridge_input(Ok(())), Ok(None));
        assert_eq!(
            bridge_input(Err(CallError::NotReached(486, "Busy Here".into()))),
            Ok(Some(IvrInput::TransferFailed))
        );
        assert_eq!(
            bridge_input(Err(CallError::Timeout)),
            Ok(Some(IvrInput::TransferFailed))
        );
        assert_eq!(bridge_input(Err(CallError::HungUp)), Err(CallError::HungUp));
    }

    #[test]
    fn final_steps_map_to_outcomes() {
        assert_eq!(
            final_outcome(&IvrStep::External {
                number: "0123".into()
            }),
            Some(IvrOutcome::External {
                number: "0123".into()
            })
        );
        assert_eq!(
            final_outcome(&IvrStep::RunApp {
                name: "queue".into(),
                arg: "301".into()
            }),
            Some(IvrOutcome::RunApp {
                name: "queue".into(),
                arg: "301".into()
            })
        );
        assert_eq!(final_outcome(&IvrStep::Hangup), Some(IvrOutcome::Hangup));
        assert_eq!(
            final_outcome(&IvrStep::Exit {
                reason: ExitReason::Timeouts
            }),
            Some(IvrOutcome::Exit(ExitReason::Timeouts))
        );
        assert_eq!(final_outcome(&IvrStep::Play(vec![])), None);
        assert_eq!(
            final_outcome(&IvrStep::Transfer {
                to_extension: "1001".into()
            }),
            None
        );
        let collect = IvrStep::PlayAndCollect {
            prompts: vec![],
            spec: CollectSpec::default(),
        };
        assert_eq!(final_outcome(&collect), None);
        assert!(!collect.is_final());
        assert!(IvrStep::Hangup.is_final());
    }

    #[test]
    fn a_misconfigured_ivr_is_refused_before_running() {
        // The structural check the driver runs first, without a call.
        let menus = vec![IvrMenu::new("main")];
        let e = IvrRun::new(&menus, "main").unwrap_err();
        assert_eq!(e.menu, "main");
        assert!(e.message.contains("no greeting"), "{e}");
    }
}
