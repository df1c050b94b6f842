//! Call-center settings: queues, agents and their tiers, IVR menus and
//! routing rules.
//!
//! The engine owns the shape of these settings (its serde types live in the
//! engine crate, which the store must not depend on), so each row carries its
//! settings as one JSON document in a `config` **`String`**: the engine
//! serializes before writing and deserializes after reading. The store keeps
//! the text verbatim and does not parse or validate it; validation happens in
//! the engine before anything is saved. Only the key columns (and an agent's
//! live status/state) are real columns.
//!
//! Every settings change bumps the [`CALLCENTER_VERSION`] counter in the same
//! transaction, so a running server polling [`Store::config_version`] reloads.
//! The one exception is [`Store::set_agent_status`]: live state, written
//! often, that is not configuration.

use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// Name of the change counter bumped by every call-center settings change
/// (queues, agents, tiers, IVR menus, routing rules).
pub const CALLCENTER_VERSION: &str = "callcenter";

/// One call queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    /// Queue name, its key (e.g. `"support"`).
    pub name: String,
    /// The queue's settings as a JSON document (the engine's format).
    pub config: String,
    /// When the queue was created (unix ms).
    pub created_at: i64,
    /// When its settings last changed (unix ms).
    pub updated_at: i64,
}

/// One agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRow {
    /// Agent id, its key (e.g. `"1001"`).
    pub id: String,
    /// The agent's settings as a JSON document (the engine's format).
    pub config: String,
    /// Live status (`logged_out` for a new agent); the engine defines the
    /// values, the store does not check them.
    pub status: String,
    /// Live state (`waiting` for a new agent); values defined by the engine.
    pub state: String,
    /// When the agent was created (unix ms).
    pub created_at: i64,
    /// When its settings last changed (unix ms); status and state changes
    /// do not touch it.
    pub updated_at: i64,
}

/// Membership of an agent in a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    /// Queue name.
    pub queue: String,
    /// Agent id.
    pub agent: String,
    /// Tier level (lower levels are offered calls first); 1 by default.
    pub level: i32,
    /// Position inside the level; 1 by default.
    pub position: i32,
}

impl Tier {
    /// A tier of `agent` in `queue` at the default level and position (1, 1).
    pub fn new(queue: impl Into<String>, agent: impl Into<String>) -> Tier {
        Tier {
            queue: queue.into(),
            agent: agent.into(),
            level: 1,
            position: 1,
        }
    }
}

/// One IVR menu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrMenuRow {
    /// Menu id, its key.
    pub id: String,
    /// The menu as a JSON document (the engine's format).
    pub config: String,
    /// When it last changed (unix ms). Set by the store; ignored by
    /// [`Store::replace_ivr_menus`].
    pub updated_at: i64,
}

/// One routing rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRuleRow {
    /// Rule id, given by the caller (the engine's rule identity).
    pub id: i64,
    /// The rule as a JSON document (the engine's format).
    pub config: String,
    /// When it last changed (unix ms). Set by the store; ignored by
    /// [`Store::replace_routing_rules`].
    pub updated_at: i64,
}

impl Store {
    /// Creates the queue `name` or replaces its settings (`created_at` is
    /// kept). Fails with [`StoreError::EmptyKey`] for a blank name.
    pub async fn upsert_queue(&self, name: &str, config: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.upsert_queue(name, config))
    }

    /// The queue `name`, if it exists.
    pub async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>, StoreError> {
        dispatch!(self, db => db.get_queue(name))
    }

    /// All queues, ordered by name.
    pub async fn list_queues(&self) -> Result<Vec<QueueRow>, StoreError> {
        dispatch!(self, db => db.list_queues())
    }

    /// Removes the queue `name` and its tiers in one transaction. Returns
    /// whether the queue existed.
    pub async fn remove_queue(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_queue(name))
    }

    /// Creates the agent `id` or replaces its settings. A new agent starts
    /// `logged_out` / `waiting`; an existing one keeps its status, state and
    /// `created_at`. Fails with [`StoreError::EmptyKey`] for a blank id.
    pub async fn upsert_agent(&self, id: &str, config: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.upsert_agent(id, config))
    }

    /// The agent `id`, if it exists.
    pub async fn get_agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        dispatch!(self, db => db.get_agent(id))
    }

    /// All agents, ordered by id (plain text order).
    pub async fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        dispatch!(self, db => db.list_agents())
    }

    /// Removes the agent `id` and its tiers in one transaction. Returns
    /// whether the agent existed.
    pub async fn remove_agent(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_agent(id))
    }

    /// Records the live status and state of agent `id`: one UPDATE, no
    /// configuration version bump (this is live state, written often), and
    /// `updated_at` is left alone. Returns `false` when the agent does not
    /// exist. The values are stored as given.
    pub async fn set_agent_status(
        &self,
        id: &str,
        status: &str,
        state: &str,
    ) -> Result<bool, StoreError> {
        dispatch!(self, db => db.set_agent_status(id, status, state))
    }

    /// Adds agent `tier.agent` to queue `tier.queue`, or changes its level
    /// and position there. Both must exist ([`StoreError::QueueNotFound`],
    /// [`StoreError::AgentNotFound`]); checked in the same transaction.
    pub async fn set_tier(&self, tier: &Tier) -> Result<(), StoreError> {
        dispatch!(self, db => db.set_tier(tier))
    }

    /// Removes agent `agent` from queue `queue`. Returns whether it was
    /// there.
    pub async fn remove_tier(&self, queue: &str, agent: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_tier(queue, agent))
    }

    /// The tiers of queue `queue`, ordered by level, position, then agent.
    pub async fn list_tiers(&self, queue: &str) -> Result<Vec<Tier>, StoreError> {
        dispatch!(self, db => db.list_tiers(queue))
    }

    /// Every tier, ordered by queue, level, position, then agent.
    pub async fn list_all_tiers(&self) -> Result<Vec<Tier>, StoreError> {
        dispatch!(self, db => db.list_all_tiers())
    }

    /// Creates the IVR menu `id` or replaces it. Fails with
    /// [`StoreError::EmptyKey`] for a blank id.
    pub async fn upsert_ivr_menu(&self, id: &str, config: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.upsert_ivr_menu(id, config))
    }

    /// All IVR menus, ordered by id.
    pub async fn list_ivr_menus(&self) -> Result<Vec<IvrMenuRow>, StoreError> {
        dispatch!(self, db => db.list_ivr_menus())
    }

    /// Removes the IVR menu `id`. Returns whether it existed.
    pub async fn remove_ivr_menu(&self, id: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_ivr_menu(id))
    }

    /// Replaces the whole set of IVR menus with `menus` in one transaction
    /// (an admin saves a menu tree at once; an empty slice removes them all).
    /// `updated_at` of the input is ignored; a repeated id keeps its last
    /// entry. Fails with [`StoreError::EmptyKey`], writing nothing, if any id
    /// is blank.
    pub async fn replace_ivr_menus(&self, menus: &[IvrMenuRow]) -> Result<(), StoreError> {
        dispatch!(self, db => db.replace_ivr_menus(menus))
    }

    /// Creates the routing rule `id` or replaces it.
    pub async fn upsert_routing_rule(&self, id: i64, config: &str) -> Result<(), StoreError> {
        dispatch!(self, db => db.upsert_routing_rule(id, config))
    }

    /// All routing rules, ordered by id.
    pub async fn list_routing_rules(&self) -> Result<Vec<RoutingRuleRow>, StoreError> {
        dispatch!(self, db => db.list_routing_rules())
    }

    /// Removes the routing rule `id`. Returns whether it existed.
    pub async fn remove_routing_rule(&self, id: i64) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_routing_rule(id))
    }

    /// Replaces the whole set of routing rules with `rules` in one
    /// transaction (an empty slice removes them all). `updated_at` of the
    /// input is ignored; a repeated id keeps its last entry.
    pub async fn replace_routing_rules(&self, rules: &[RoutingRuleRow]) -> Result<(), StoreError> {
        dispatch!(self, db => db.replace_routing_rules(rules))
    }

    /// Replaces every call-center setting with `set` in one transaction, so
    /// a reader never sees half of it. Agents that stay keep their live
    /// status; `created_at` of queues and agents that stay is kept. Tiers
    /// must name queues and agents of `set` ([`StoreError::QueueNotFound`],
    /// [`StoreError::AgentNotFound`]; nothing is written then).
    pub async fn replace_callcenter(&self, set: &CallcenterSet) -> Result<(), StoreError> {
        dispatch!(self, db => db.replace_callcenter(set))
    }
}

impl<DB: Backend> Db<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    bool: Value<DB>,
    i32: Value<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Ts: Value<DB>,
{
    pub(crate) async fn upsert_queue(&self, name: &str, config: &str) -> Result<(), StoreError> {
        require(name, "queue name")?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving a queue"))?;
        sqlx::query(
            "INSERT INTO queues (name, config, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET config = excluded.config, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(config)
        .bind(Ts(db::now_ms()))
        .execute(&mut *tx)
        .await
        .map_err(db_err("saving a queue"))?;
        Self::commit_change(tx, "saving a queue").await
    }

    pub(crate) async fn get_queue(&self, name: &str) -> Result<Option<QueueRow>, StoreError> {
        let row =
            sqlx::query("SELECT name, config, created_at, updated_at FROM queues WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err("reading a queue"))?;
        row.as_ref()
            .map(Self::queue_from_row)
            .transpose()
            .map_err(db_err("reading a queue"))
    }

    pub(crate) async fn list_queues(&self) -> Result<Vec<QueueRow>, StoreError> {
        let rows =
            sqlx::query("SELECT name, config, created_at, updated_at FROM queues ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing queues"))?;
        rows.iter()
            .map(Self::queue_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing queues"))
    }

    pub(crate) async fn remove_queue(&self, name: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a queue";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let tiers =
            Self::delete_by_key(&mut tx, "DELETE FROM tiers WHERE queue = $1", name, CONTEXT)
                .await?;
        let queues =
            Self::delete_by_key(&mut tx, "DELETE FROM queues WHERE name = $1", name, CONTEXT)
                .await?;
        Self::commit_if(tx, tiers + queues > 0, CONTEXT).await?;
        Ok(queues > 0)
    }

    pub(crate) async fn upsert_agent(&self, id: &str, config: &str) -> Result<(), StoreError> {
        require(id, "agent id")?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving an agent"))?;
        sqlx::query(
            "INSERT INTO agents (id, config, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(config)
        .bind(Ts(db::now_ms()))
        .execute(&mut *tx)
        .await
        .map_err(db_err("saving an agent"))?;
        Self::commit_change(tx, "saving an agent").await
    }

    pub(crate) async fn get_agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, config, status, state, created_at, updated_at FROM agents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("reading an agent"))?;
        row.as_ref()
            .map(Self::agent_from_row)
            .transpose()
            .map_err(db_err("reading an agent"))
    }

    pub(crate) async fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, config, status, state, created_at, updated_at FROM agents ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing agents"))?;
        rows.iter()
            .map(Self::agent_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing agents"))
    }

    pub(crate) async fn remove_agent(&self, id: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing an agent";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let tiers =
            Self::delete_by_key(&mut tx, "DELETE FROM tiers WHERE agent = $1", id, CONTEXT).await?;
        let agents =
            Self::delete_by_key(&mut tx, "DELETE FROM agents WHERE id = $1", id, CONTEXT).await?;
        Self::commit_if(tx, tiers + agents > 0, CONTEXT).await?;
        Ok(agents > 0)
    }

    pub(crate) async fn set_agent_status(
        &self,
        id: &str,
        status: &str,
        state: &str,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE agents SET status = $1, state = $2 WHERE id = $3")
            .bind(status)
            .bind(state)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("setting an agent's status"))?
            .rows_affected();
        Ok(changed > 0)
    }

    pub(crate) async fn set_tier(&self, tier: &Tier) -> Result<(), StoreError> {
        const CONTEXT: &str = "setting a tier";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        if !Self::exists_by_key(
            &mut tx,
            "SELECT 1 FROM queues WHERE name = $1",
            &tier.queue,
            CONTEXT,
        )
        .await?
        {
            return Err(StoreError::QueueNotFound(tier.queue.clone()));
        }
        if !Self::exists_by_key(
            &mut tx,
            "SELECT 1 FROM agents WHERE id = $1",
            &tier.agent,
            CONTEXT,
        )
        .await?
        {
            return Err(StoreError::AgentNotFound(tier.agent.clone()));
        }
        sqlx::query(
            "INSERT INTO tiers (queue, agent, level, position) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (queue, agent) DO UPDATE SET level = excluded.level, \
             position = excluded.position",
        )
        .bind(&tier.queue)
        .bind(&tier.agent)
        .bind(tier.level)
        .bind(tier.position)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CONTEXT))?;
        Self::commit_change(tx, CONTEXT).await
    }

    pub(crate) async fn remove_tier(&self, queue: &str, agent: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a tier";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let removed = sqlx::query("DELETE FROM tiers WHERE queue = $1 AND agent = $2")
            .bind(queue)
            .bind(agent)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        Self::commit_if(tx, removed > 0, CONTEXT).await?;
        Ok(removed > 0)
    }

    pub(crate) async fn list_tiers(&self, queue: &str) -> Result<Vec<Tier>, StoreError> {
        let rows = sqlx::query(
            "SELECT queue, agent, level, position FROM tiers WHERE queue = $1 \
             ORDER BY level, position, agent",
        )
        .bind(queue)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing tiers"))?;
        rows.iter()
            .map(Self::tier_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing tiers"))
    }

    pub(crate) async fn list_all_tiers(&self) -> Result<Vec<Tier>, StoreError> {
        let rows = sqlx::query(
            "SELECT queue, agent, level, position FROM tiers \
             ORDER BY queue, level, position, agent",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing tiers"))?;
        rows.iter()
            .map(Self::tier_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err("listing tiers"))
    }

    pub(crate) async fn upsert_ivr_menu(&self, id: &str, config: &str) -> Result<(), StoreError> {
        require(id, "IVR menu id")?;
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving an IVR menu"))?;
        Self::put_ivr_menu(&mut tx, id, config, db::now_ms()).await?;
        Self::commit_change(tx, "saving an IVR menu").await
    }

    pub(crate) async fn list_ivr_menus(&self) -> Result<Vec<IvrMenuRow>, StoreError> {
        let rows = sqlx::query("SELECT id, config, updated_at FROM ivr_menus ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing IVR menus"))?;
        rows.iter()
            .map(|row| {
                Ok(IvrMenuRow {
                    id: row.try_get("id")?,
                    config: row.try_get("config")?,
                    updated_at: row.try_get::<Ts, _>("updated_at")?.0,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(db_err("listing IVR menus"))
    }

    pub(crate) async fn remove_ivr_menu(&self, id: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing an IVR menu";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let removed =
            Self::delete_by_key(&mut tx, "DELETE FROM ivr_menus WHERE id = $1", id, CONTEXT)
                .await?;
        Self::commit_if(tx, removed > 0, CONTEXT).await?;
        Ok(removed > 0)
    }

    pub(crate) async fn replace_ivr_menus(&self, menus: &[IvrMenuRow]) -> Result<(), StoreError> {
        const CONTEXT: &str = "replacing IVR menus";
        for menu in menus {
            require(&menu.id, "IVR menu id")?;
        }
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        sqlx::query("DELETE FROM ivr_menus")
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        let now = db::now_ms();
        for menu in menus {
            Self::put_ivr_menu(&mut tx, &menu.id, &menu.config, now).await?;
        }
        Self::commit_change(tx, CONTEXT).await
    }

    pub(crate) async fn upsert_routing_rule(
        &self,
        id: i64,
        config: &str,
    ) -> Result<(), StoreError> {
        let mut tx = db::begin_write(&self.pool)
            .await
            .map_err(db_err("saving a routing rule"))?;
        Self::put_routing_rule(&mut tx, id, config, db::now_ms()).await?;
        Self::commit_change(tx, "saving a routing rule").await
    }

    pub(crate) async fn list_routing_rules(&self) -> Result<Vec<RoutingRuleRow>, StoreError> {
        let rows = sqlx::query("SELECT id, config, updated_at FROM routing_rules ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing routing rules"))?;
        rows.iter()
            .map(|row| {
                Ok(RoutingRuleRow {
                    id: row.try_get("id")?,
                    config: row.try_get("config")?,
                    updated_at: row.try_get::<Ts, _>("updated_at")?.0,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(db_err("listing routing rules"))
    }

    pub(crate) async fn remove_routing_rule(&self, id: i64) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a routing rule";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let removed = sqlx::query("DELETE FROM routing_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        Self::commit_if(tx, removed > 0, CONTEXT).await?;
        Ok(removed > 0)
    }

    pub(crate) async fn replace_routing_rules(
        &self,
        rules: &[RoutingRuleRow],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "replacing routing rules";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        sqlx::query("DELETE FROM routing_rules")
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        let now = db::now_ms();
        for rule in rules {
            Self::put_routing_rule(&mut tx, rule.id, &rule.config, now).await?;
        }
        Self::commit_change(tx, CONTEXT).await
    }

    pub(crate) async fn replace_callcenter(&self, set: &CallcenterSet) -> Result<(), StoreError> {
        const CONTEXT: &str = "replacing the call-center settings";
        for (name, _) in &set.queues {
            require(name, "queue name")?;
        }
        for (id, _) in &set.agents {
            require(id, "agent id")?;
        }
        for (id, _) in &set.ivr_menus {
            require(id, "IVR menu id")?;
        }
        for t in &set.tiers {
            if !set.queues.iter().any(|(q, _)| *q == t.queue) {
                return Err(StoreError::QueueNotFound(t.queue.clone()));
            }
            if !set.agents.iter().any(|(a, _)| *a == t.agent) {
                return Err(StoreError::AgentNotFound(t.agent.clone()));
            }
        }
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let now = db::now_ms();
        for sql in [
            "DELETE FROM tiers",
            "DELETE FROM ivr_menus",
            "DELETE FROM routing_rules",
        ] {
            sqlx::query(sql)
                .execute(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        }
        let existing_queues: Vec<String> = sqlx::query_scalar("SELECT name FROM queues")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        for name in existing_queues {
            if !set.queues.iter().any(|(q, _)| *q == name) {
                Self::delete_by_key(
                    &mut tx,
                    "DELETE FROM queues WHERE name = $1",
                    &name,
                    CONTEXT,
                )
                .await?;
            }
        }
        let existing_agents: Vec<String> = sqlx::query_scalar("SELECT id FROM agents")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        for id in existing_agents {
            if !set.agents.iter().any(|(a, _)| *a == id) {
                Self::delete_by_key(&mut tx, "DELETE FROM agents WHERE id = $1", &id, CONTEXT)
                    .await?;
            }
        }
        for (name, config) in &set.queues {
            sqlx::query(
                "INSERT INTO queues (name, config, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (name) DO UPDATE SET config = excluded.config, \
                 updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(config)
            .bind(Ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        for (id, config) in &set.agents {
            sqlx::query(
                "INSERT INTO agents (id, config, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (id) DO UPDATE SET config = excluded.config, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(config)
            .bind(Ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        for t in &set.tiers {
            sqlx::query(
                "INSERT INTO tiers (queue, agent, level, position) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (queue, agent) DO UPDATE SET level = excluded.level, \
                 position = excluded.position",
            )
            .bind(&t.queue)
            .bind(&t.agent)
            .bind(t.level)
            .bind(t.position)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?;
        }
        for (id, config) in &set.ivr_menus {
            Self::put_ivr_menu(&mut tx, id, config, now).await?;
        }
        for (id, config) in &set.routing_rules {
            Self::put_routing_rule(&mut tx, *id, config, now).await?;
        }
        Self::commit_change(tx, CONTEXT).await
    }

    /// Bumps the call-center version and commits.
    pub(crate) async fn commit_change(
        mut tx: Tx<DB>,
        context: &'static str,
    ) -> Result<(), StoreError> {
        Self::bump_version(&mut tx, CALLCENTER_VERSION).await?;
        tx.commit().await.map_err(db_err(context))
    }

    /// Commits, bumping the call-center version first when `changed`.
    pub(crate) async fn commit_if(
        tx: Tx<DB>,
        changed: bool,
        context: &'static str,
    ) -> Result<(), StoreError> {
        if changed {
            Self::commit_change(tx, context).await
        } else {
            // Nothing was written; committing just ends the transaction.
            tx.commit().await.map_err(db_err(context))
        }
    }

    /// Runs a one-key DELETE and returns how many rows it removed.
    pub(crate) async fn delete_by_key(
        tx: &mut Tx<DB>,
        sql: &'static str,
        key: &str,
        context: &'static str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql)
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(db_err(context))?
            .rows_affected())
    }

    /// Runs a one-key `SELECT 1 ...` and returns whether it found a row.
    pub(crate) async fn exists_by_key(
        tx: &mut Tx<DB>,
        sql: &'static str,
        key: &str,
        context: &'static str,
    ) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err(context))?;
        Ok(found.is_some())
    }

    /// Inserts or replaces one IVR menu.
    pub(crate) async fn put_ivr_menu(
        tx: &mut Tx<DB>,
        id: &str,
        config: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ivr_menus (id, config, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(config)
        .bind(Ts(now))
        .execute(&mut **tx)
        .await
        .map_err(db_err("saving an IVR menu"))?;
        Ok(())
    }

    /// Inserts or replaces one routing rule.
    pub(crate) async fn put_routing_rule(
        tx: &mut Tx<DB>,
        id: i64,
        config: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO routing_rules (id, config, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET config = excluded.config, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(config)
        .bind(Ts(now))
        .execute(&mut **tx)
        .await
        .map_err(db_err("saving a routing rule"))?;
        Ok(())
    }

    /// Decodes a `name, config, created_at, updated_at` row.
    pub(crate) fn queue_from_row(row: &DB::Row) -> Result<QueueRow, sqlx::Error> {
        Ok(QueueRow {
            name: row.try_get("name")?,
            config: row.try_get("config")?,
            created_at: row.try_get::<Ts, _>("created_at")?.0,
            updated_at: row.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    /// Decodes an `id, config, status, state, created_at, updated_at` row.
    pub(crate) fn agent_from_row(row: &DB::Row) -> Result<AgentRow, sqlx::Error> {
        Ok(AgentRow {
            id: row.try_get("id")?,
            config: row.try_get("config")?,
            status: row.try_get("status")?,
            state: row.try_get("state")?,
            created_at: row.try_get::<Ts, _>("created_at")?.0,
            updated_at: row.try_get::<Ts, _>("updated_at")?.0,
        })
    }

    /// Decodes a `queue, agent, level, position` row.
    pub(crate) fn tier_from_row(row: &DB::Row) -> Result<Tier, sqlx::Error> {
        Ok(Tier {
            queue: row.try_get("queue")?,
            agent: row.try_get("agent")?,
            // INTEGER decodes as i32 on both SQLite and PostgreSQL.
            level: row.try_get("level")?,
            position: row.try_get("position")?,
        })
    }
}

/// A whole set of call-center settings, as [`Store::replace_callcenter`]
/// writes it: `(key, config JSON)` pairs and the tiers.
#[derive(Clone, Debug, Default)]
pub struct CallcenterSet {
    /// Queues: name and settings.
    pub queues: Vec<(String, String)>,
    /// Agents: id and settings.
    pub agents: Vec<(String, String)>,
    /// Which agent answers which queue.
    pub tiers: Vec<Tier>,
    /// IVR menus: id and settings.
    pub ivr_menus: Vec<(String, String)>,
    /// Routing rules: id and settings.
    pub routing_rules: Vec<(i64, String)>,
}

/// Refuses a blank key; `what` names it in the error.
fn require(key: &str, what: &'static str) -> Result<(), StoreError> {
    if key.trim().is_empty() {
        return Err(StoreError::EmptyKey(what));
    }
    Ok(())
}
