//! The queue application: the caller waits in a queue with music on hold
//! until the queue's strategy finds an agent who answers; after the agent
//! hangs up the caller is thanked and the call ends. A caller the queue
//! gives up on (max wait, no agent, exit key) hears why and the call ends.

use crate::calls::control::{CallControl, CallError, PlayItem, QueueOutcome};

pub(super) async fn run(call: &CallControl, queue: &str) -> Result<(), CallError> {
    call.answer().await?;
    match call.enter_queue(queue).await? {
        QueueOutcome::Served { agent } => {
            tracing::info!("call {}: served in queue {queue} by agent {agent}", call.id);
            call.play(vec![PlayItem::Prompt("goodbye".into())], false)
                .await?;
        }
        QueueOutcome::Cancelled { reason } => {
            tracing::info!("call {}: left queue {queue}: {reason}", call.id);
            call.play(vec![PlayItem::Prompt("goodbye".into())], false)
                .await?;
        }
    }
    Ok(())
}
