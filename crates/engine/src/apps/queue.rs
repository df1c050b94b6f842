//! The queue application: the caller waits in a queue with music on hold
//! until the queue's strategy finds an agent who answers. After the agent
//! hangs up, the caller rates the call if the queue has a survey, is thanked
//! and the call ends. A caller the queue gives up on (max wait, no agent,
//! exit key) hears goodbye and the call ends.

use crate::base::context::{now_ms, Ctx};
use crate::calls::control::{CallControl, CallError, CollectSpec, PlayItem, QueueOutcome};
use std::time::Duration;

pub(super) async fn run(call: &CallControl, ctx: &Ctx, queue: &str) -> Result<(), CallError> {
    call.answer().await?;
    match call.enter_queue(queue).await? {
        QueueOutcome::Served { agent, survey } => {
            tracing::info!("call {}: served in queue {queue} by agent {agent}", call.id);
            let survey = survey
                || ctx
                    .cfg
                    .callcenter
                    .queues
                    .iter()
                    .any(|q| q.name == queue && q.survey);
            if survey {
                run_survey(call, ctx, queue, &agent).await?;
            }
        }
        QueueOutcome::Cancelled { reason } => {
            tracing::info!("call {}: left queue {queue}: {reason}", call.id);
        }
    }
    call.play(vec![PlayItem::Prompt("goodbye".into())], false)
        .await?;
    Ok(())
}

/// The satisfaction survey: 1 satisfied, 2 neutral, 3 unsatisfied; asked
/// twice at most; the score is stored with the call's Call-ID and the agent.
pub(crate) async fn run_survey(
    call: &CallControl,
    ctx: &Ctx,
    queue: &str,
    agent: &str,
) -> Result<Option<i32>, CallError> {
    let spec = CollectSpec {
        min: 1,
        max: 1,
        timeout: Duration::from_secs(8),
        inter_digit: Duration::from_secs(3),
        terminators: String::new(),
    };
    let mut score = None;
    for _ in 0..2 {
        match call
            .play_and_collect(vec![PlayItem::Prompt("survey_intro".into())], spec.clone())
            .await
        {
            Ok(c) => match c.digits.as_str() {
                "1" | "2" | "3" => {
                    score = c.digits.parse::<i32>().ok();
                    break;
                }
                _ => {
                    call.play(vec![PlayItem::Prompt("invalid".into())], true)
                        .await?;
                }
            },
            Err(CallError::Timeout) => break,
            Err(e) => return Err(e),
        }
    }
    let Some(score) = score else {
        return Ok(None);
    };
    let call_id = ctx
        .calls
        .get(&call.id)
        .map(|c| c.value().1.call_id.clone())
        .unwrap_or_default();
    let survey = store::Survey {
        id: None,
        call_id,
        agent: Some(agent.to_string()),
        queue: Some(queue.to_string()),
        score,
        at: now_ms() as i64,
    };
    if let Err(e) = ctx.store.insert_survey(&survey).await {
        tracing::warn!("call {}: survey score {score} not saved: {e}", call.id);
    }
    call.report(&format!("survey {score}"));
    call.play(vec![PlayItem::Prompt("survey_thanks".into())], false)
        .await?;
    Ok(Some(score))
}
