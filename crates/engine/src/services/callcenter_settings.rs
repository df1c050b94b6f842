//! The call-center settings: queues, agents, tiers, IVR menus and routing
//! rules. The database holds them (tables of migration 0005); the config
//! file's `[callcenter]` section seeds the database on first run only, or
//! when an admin imports it (`switchboard callcenter import`). Calls read
//! the copy held here; the admin pages and the JSON API change settings
//! through [`SettingsAdmin`], which checks the whole set, writes it, and
//! applies it without a restart: waiting callers stay in their queues.
//!
//! A change written by another process (the CLI on the same database)
//! moves the database's `callcenter` change counter; the engine's refresh
//! loop then calls [`SettingsAdmin::reload`], which applies the difference.

use crate::base::config::{AppsConfig, CallcenterConfig};
use crate::services::queues::QueueService;
use callcenter::acd::{AcdInput, AgentConfig, QueueConfig, TierConfig};
use callcenter::ivr::{IvrAction, IvrContext, IvrMenu};
use callcenter::routing::{RouteTable, Rule, RuleKind};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use store::{Store, Tier};

/// Why a change to the settings is refused (nothing was changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    /// What is at fault, e.g. "queue 'support'" or "routing rule \"sales\"".
    pub thing: String,
    /// The field at fault, when one is (for forms and API errors).
    pub field: Option<String>,
    /// Why.
    pub message: String,
}

impl SettingsError {
    fn new(thing: impl Into<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        SettingsError {
            thing: thing.into(),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    fn storage(e: store::StoreError) -> Self {
        SettingsError::new("database", None, e.to_string())
    }
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}, {field}: {}", self.thing, self.message),
            None => write!(f, "{}: {}", self.thing, self.message),
        }
    }
}

impl std::error::Error for SettingsError {}

/// One complete, consistent set of call-center settings.
#[derive(Clone, Debug, Default)]
pub struct CallcenterSettings {
    /// Queues, by name order.
    pub queues: Vec<QueueConfig>,
    /// Agents.
    pub agents: Vec<AgentConfig>,
    /// Which agent answers which queue.
    pub tiers: Vec<TierConfig>,
    /// IVR menus.
    pub ivr: Vec<IvrMenu>,
    /// Routing rules in matching order.
    pub routes: RouteTable,
}

impl CallcenterSettings {
    /// The settings the config file's `[callcenter]` section describes.
    pub fn from_config(cc: &CallcenterConfig) -> Self {
        CallcenterSettings {
            queues: cc.queues.clone(),
            agents: cc.agents.clone(),
            tiers: cc.tiers.clone(),
            ivr: cc.ivr.clone(),
            routes: cc.routes.clone(),
        }
    }

    /// The queue `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueConfig> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The routing rules, if there are any.
    pub fn route_table(&self) -> Option<&RouteTable> {
        (!self.routes.is_empty()).then_some(&self.routes)
    }

    /// Checks the set as a whole: every queue and agent, tiers naming both,
    /// every IVR menu (as an entry point, so submenus are checked too; with
    /// `refs`, also that its prompts, extensions and applications exist),
    /// and every queue or menu that `apps` or a routing rule names.
    pub fn validate(
        &self,
        apps: &AppsConfig,
        refs: Option<&dyn IvrContext>,
    ) -> Result<(), SettingsError> {
        let mut names = HashSet::new();
        for q in &self.queues {
            q.validate().map_err(|e| {
                SettingsError::new(e.thing.clone(), Some(e.field), e.reason.clone())
            })?;
            if !names.insert(q.name.as_str()) {
                return Err(SettingsError::new(
                    format!("queue '{}'", q.name),
                    Some("name"),
                    "another queue has this name",
                ));
            }
        }
        let mut ids = HashSet::new();
        for a in &self.agents {
            a.validate().map_err(|e| {
                SettingsError::new(e.thing.clone(), Some(e.field), e.reason.clone())
            })?;
            if !ids.insert(a.id.as_str()) {
                return Err(SettingsError::new(
                    format!("agent '{}'", a.id),
                    Some("id"),
                    "another agent has this id",
                ));
            }
        }
        for t in &self.tiers {
            let thing = || format!("tier {} / {}", t.queue, t.agent);
            if !names.contains(t.queue.as_str()) {
                return Err(SettingsError::new(
                    thing(),
                    Some("queue"),
                    format!("no queue '{}'", t.queue),
                ));
            }
            if !ids.contains(t.agent.as_str()) {
                return Err(SettingsError::new(
                    thing(),
                    Some("agent"),
                    format!("no agent '{}'", t.agent),
                ));
            }
        }
        let mut menu_ids = HashSet::new();
        for m in &self.ivr {
            if !menu_ids.insert(m.id.as_str()) {
                return Err(SettingsError::new(
                    format!("IVR menu '{}'", m.id),
                    Some("id"),
                    "another menu has this id",
                ));
            }
        }
        for m in &self.ivr {
            let checked = match refs {
                Some(r) => callcenter::ivr::validate(&self.ivr, &m.id, r),
                None => callcenter::ivr::validate_structure(&self.ivr, &m.id),
            };
            checked.map_err(|e| {
                let menu = format!("IVR menu '{}'", e.menu);
                let field = e.entry.as_ref().map(|d| format!("entry '{d}'"));
                SettingsError {
                    thing: menu,
                    field,
                    message: e.message,
                }
            })?;
        }
        for (number, root) in &apps.ivr {
            if !menu_ids.contains(root.as_str()) {
                return Err(SettingsError::new(
                    format!("apps.ivr number {number}"),
                    None,
                    format!("no IVR menu '{root}'"),
                ));
            }
        }
        for (number, queue) in &apps.queues {
            if !names.contains(queue.as_str()) {
                return Err(SettingsError::new(
                    format!("apps.queues number {number}"),
                    None,
                    format!("goes to unknown queue '{queue}'"),
                ));
            }
        }
        // Targets written with capture groups are only known per call.
        let literal = |t: &str| !t.contains('$');
        for rule in self.routes.rules() {
            let thing = || format!("routing rule \"{}\"", rule.name);
            match &rule.kind {
                RuleKind::Queue { queue } if literal(queue) && !names.contains(queue.as_str()) => {
                    return Err(SettingsError::new(
                        thing(),
                        Some("queue"),
                        format!("goes to unknown queue '{queue}'"),
                    ));
                }
                RuleKind::Ivr { menu: Some(menu) }
                    if literal(menu) && !menu_ids.contains(menu.as_str()) =>
                {
                    return Err(SettingsError::new(
                        thing(),
                        Some("menu"),
                        format!("goes to unknown IVR menu '{menu}'"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Who uses queue `name` (routing rules, numbers of `apps`, other
    /// settings): what a removal would break.
    fn queue_users(&self, name: &str, apps: &AppsConfig) -> Vec<String> {
        let mut users: Vec<String> = apps
            .queues
            .iter()
            .filter(|(_, q)| *q == name)
            .map(|(n, _)| format!("number {n} in [apps] queues"))
            .collect();
        for rule in self.routes.rules() {
            if matches!(&rule.kind, RuleKind::Queue { queue } if queue == name) {
                users.push(format!("routing rule \"{}\"", rule.name));
            }
        }
        for m in &self.ivr {
            for e in &m.entries {
                if matches!(&e.action, IvrAction::App { name: app, arg } if app == "queue" && arg == name)
                {
                    users.push(format!("IVR menu '{}' entry {}", m.id, e.digits));
                }
            }
        }
        users
    }

    /// Who uses IVR menu `id`: other menus' submenu entries, routing rules
    /// and numbers of `apps`.
    fn menu_users(&self, id: &str, apps: &AppsConfig) -> Vec<String> {
        let mut users: Vec<String> = apps
            .ivr
            .iter()
            .filter(|(_, m)| *m == id)
            .map(|(n, _)| format!("number {n} in [apps] ivr"))
            .collect();
        for rule in self.routes.rules() {
            if matches!(&rule.kind, RuleKind::Ivr { menu: Some(m) } if m == id) {
                users.push(format!("routing rule \"{}\"", rule.name));
            }
        }
        for m in self.ivr.iter().filter(|m| m.id != id) {
            for e in &m.entries {
                if matches!(&e.action, IvrAction::Submenu { menu } if menu == id) {
                    users.push(format!("IVR menu '{}' entry {}", m.id, e.digits));
                }
            }
        }
        users
    }

    /// What plays the sound `name` (an uploaded media file's name): queues'
    /// music and announcements, IVR prompts, after-hours prompts.
    pub fn sound_users(&self, name: &str) -> Vec<String> {
        let mut users = Vec::new();
        for q in &self.queues {
            if q.moh_sound.as_deref() == Some(name) {
                users.push(format!("queue '{}' music on hold", q.name));
            }
            if q.announce_sound.as_deref() == Some(name) {
                users.push(format!("queue '{}' announcement", q.name));
            }
        }
        for m in &self.ivr {
            let prompts = [
                ("greeting", &m.greet_long),
                ("short greeting", &m.greet_short),
                ("invalid-input prompt", &m.invalid_sound),
                ("exit prompt", &m.exit_sound),
                ("transfer prompt", &m.transfer_sound),
                ("confirmation prompt", &m.confirm_sound),
            ];
            for (what, p) in prompts {
                if p.as_deref() == Some(name) {
                    users.push(format!("IVR menu '{}' {what}", m.id));
                }
            }
            for e in &m.entries {
                if matches!(&e.action, IvrAction::PlayFile { file } if file == name) {
                    users.push(format!("IVR menu '{}' entry {}", m.id, e.digits));
                }
            }
        }
        for rule in self.routes.rules() {
            if let RuleKind::Inbound {
                after_hours: Some(callcenter::routing::AfterHours::Prompt(p)),
                ..
            } = &rule.kind
            {
                if p == name {
                    users.push(format!("routing rule \"{}\" after-hours prompt", rule.name));
                }
            }
        }
        users
    }

    /// Reads the settings from `store`; None when the database has never
    /// held any (it is then seeded from the config file). A row that does
    /// not parse is an error naming it, so a damaged database is noticed
    /// at start rather than silently losing a queue.
    pub async fn read(store: &Store) -> Result<Option<Self>, SettingsError> {
        let version = store
            .config_version(store::CALLCENTER_VERSION)
            .await
            .map_err(SettingsError::storage)?;
        if version == 0 {
            return Ok(None);
        }
        let parse_err = |thing: String, e: serde_json::Error| {
            SettingsError::new(thing, None, format!("stored settings do not parse: {e}"))
        };
        let mut s = CallcenterSettings::default();
        for row in store.list_queues().await.map_err(SettingsError::storage)? {
            let q: QueueConfig = serde_json::from_str(&row.config)
                .map_err(|e| parse_err(format!("queue '{}'", row.name), e))?;
            s.queues.push(QueueConfig {
                name: row.name,
                ..q
            });
        }
        for row in store.list_agents().await.map_err(SettingsError::storage)? {
            let a: AgentConfig = serde_json::from_str(&row.config)
                .map_err(|e| parse_err(format!("agent '{}'", row.id), e))?;
            s.agents.push(AgentConfig { id: row.id, ..a });
        }
        for t in store
            .list_all_tiers()
            .await
            .map_err(SettingsError::storage)?
        {
            s.tiers.push(TierConfig {
                queue: t.queue,
                agent: t.agent,
                level: u32::try_from(t.level).unwrap_or(1),
                position: u32::try_from(t.position).unwrap_or(1),
            });
        }
        for row in store
            .list_ivr_menus()
            .await
            .map_err(SettingsError::storage)?
        {
            let m: IvrMenu = serde_json::from_str(&row.config)
                .map_err(|e| parse_err(format!("IVR menu '{}'", row.id), e))?;
            s.ivr.push(IvrMenu { id: row.id, ..m });
        }
        let mut rules = Vec::new();
        for row in store
            .list_routing_rules()
            .await
            .map_err(SettingsError::storage)?
        {
            let r: Rule = serde_json::from_str(&row.config)
                .map_err(|e| parse_err(format!("routing rule {}", row.id), e))?;
            rules.push(Rule { id: row.id, ..r });
        }
        s.routes = RouteTable::new(rules)
            .map_err(|e| SettingsError::new("routing rules", None, e.to_string()))?;
        Ok(Some(s))
    }

    /// Writes the whole set to `store` in one transaction, replacing what
    /// is there. Agents' live status is kept for agents that stay.
    pub async fn write_all(&self, store: &Store) -> Result<(), SettingsError> {
        let set = store::CallcenterSet {
            queues: self
                .queues
                .iter()
                .map(|q| (q.name.clone(), to_json(q)))
                .collect(),
            agents: self
                .agents
                .iter()
                .map(|a| (a.id.clone(), to_json(a)))
                .collect(),
            tiers: self.tiers.iter().map(tier_row).collect(),
            ivr_menus: self
                .ivr
                .iter()
                .map(|m| (m.id.clone(), to_json(m)))
                .collect(),
            routing_rules: self.routes.rules().map(|r| (r.id, to_json(r))).collect(),
        };
        store
            .replace_callcenter(&set)
            .await
            .map_err(SettingsError::storage)
    }
}

/// A setting as the JSON document kept in its row.
fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Plain structs with string keys: serialising cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

fn tier_row(t: &TierConfig) -> Tier {
    Tier {
        queue: t.queue.clone(),
        agent: t.agent.clone(),
        level: i32::try_from(t.level).unwrap_or(i32::MAX),
        position: i32::try_from(t.position).unwrap_or(i32::MAX),
    }
}

/// The settings calls use now; replaced whole on every change.
#[derive(Default)]
pub struct LiveSettings {
    current: RwLock<Arc<CallcenterSettings>>,
    /// Serialises changes, so two admins saving at once lose nothing.
    change: tokio::sync::Mutex<()>,
}

impl LiveSettings {
    /// The current settings (cheap: a shared pointer).
    pub fn get(&self) -> Arc<CallcenterSettings> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn set(&self, s: CallcenterSettings) {
        let s = Arc::new(s);
        match self.current.write() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
    }
}

/// Changes the call-center settings of a running engine: each change is
/// checked against the whole set, written to the database, then applied to
/// the queues and to new calls. Refused changes change nothing.
pub struct SettingsAdmin<'a> {
    ctx: &'a crate::base::context::Ctx,
    queues: &'a QueueService,
}

impl<'a> SettingsAdmin<'a> {
    /// The admin of `ctx`'s settings, applying changes to `queues`.
    pub fn new(ctx: &'a crate::base::context::Ctx, queues: &'a QueueService) -> Self {
        SettingsAdmin { ctx, queues }
    }

    /// The settings in force.
    pub fn current(&self) -> Arc<CallcenterSettings> {
        self.ctx.callcenter.get()
    }

    /// Creates or replaces queue `q` (waiting callers stay and get the new
    /// settings).
    pub async fn put_queue(&self, q: QueueConfig) -> Result<(), SettingsError> {
        self.change(|s, _| {
            match s.queues.iter_mut().find(|x| x.name == q.name) {
                Some(x) => *x = q,
                None => s.queues.push(q),
            }
            Ok(())
        })
        .await
    }

    /// Removes queue `name` and its tiers; refused while something routes
    /// to it (the message names what).
    pub async fn remove_queue(&self, name: &str) -> Result<(), SettingsError> {
        self.change_then(Some(name), |s, apps| {
            if s.queue(name).is_none() {
                return Err(SettingsError::new(
                    format!("queue '{name}'"),
                    None,
                    "no such queue",
                ));
            }
            let users = s.queue_users(name, apps);
            if !users.is_empty() {
                return Err(SettingsError::new(
                    format!("queue '{name}'"),
                    None,
                    format!("is in use by {}", users.join(", ")),
                ));
            }
            s.queues.retain(|q| q.name != name);
            s.tiers.retain(|t| t.queue != name);
            Ok(())
        })
        .await
    }

    /// Creates or replaces agent `a` (its status is kept).
    pub async fn put_agent(&self, a: AgentConfig) -> Result<(), SettingsError> {
        self.change(|s, _| {
            match s.agents.iter_mut().find(|x| x.id == a.id) {
                Some(x) => *x = a,
                None => s.agents.push(a),
            }
            Ok(())
        })
        .await
    }

    /// Removes agent `id` and its tiers.
    pub async fn remove_agent(&self, id: &str) -> Result<(), SettingsError> {
        self.change(|s, _| {
            if !s.agents.iter().any(|a| a.id == id) {
                return Err(SettingsError::new(
                    format!("agent '{id}'"),
                    None,
                    "no such agent",
                ));
            }
            s.agents.retain(|a| a.id != id);
            s.tiers.retain(|t| t.agent != id);
            Ok(())
        })
        .await
    }

    /// Puts an agent in a queue, or changes its level and position there.
    pub async fn put_tier(&self, t: TierConfig) -> Result<(), SettingsError> {
        self.change(|s, _| {
            match s
                .tiers
                .iter_mut()
                .find(|x| x.queue == t.queue && x.agent == t.agent)
            {
                Some(x) => *x = t,
                None => s.tiers.push(t),
            }
            Ok(())
        })
        .await
    }

    /// Takes agent `agent` out of queue `queue`.
    pub async fn remove_tier(&self, queue: &str, agent: &str) -> Result<(), SettingsError> {
        self.change(|s, _| {
            let before = s.tiers.len();
            s.tiers.retain(|t| !(t.queue == queue && t.agent == agent));
            if s.tiers.len() == before {
                return Err(SettingsError::new(
                    format!("tier {queue} / {agent}"),
                    None,
                    "the agent is not in that queue",
                ));
            }
            Ok(())
        })
        .await
    }

    /// Creates or replaces IVR menu `m`; refused (naming the menu and the
    /// entry) if the menus would loop, name a missing prompt, extension,
    /// application or submenu.
    pub async fn put_ivr_menu(&self, m: IvrMenu) -> Result<(), SettingsError> {
        self.change(|s, _| {
            match s.ivr.iter_mut().find(|x| x.id == m.id) {
                Some(x) => *x = m,
                None => s.ivr.push(m),
            }
            Ok(())
        })
        .await
    }

    /// Removes IVR menu `id`; refused while a number, rule or other menu
    /// leads to it.
    pub async fn remove_ivr_menu(&self, id: &str) -> Result<(), SettingsError> {
        self.change(|s, apps| {
            if !s.ivr.iter().any(|m| m.id == id) {
                return Err(SettingsError::new(
                    format!("IVR menu '{id}'"),
                    None,
                    "no such menu",
                ));
            }
            let users = s.menu_users(id, apps);
            if !users.is_empty() {
                return Err(SettingsError::new(
                    format!("IVR menu '{id}'"),
                    None,
                    format!("is in use by {}", users.join(", ")),
                ));
            }
            s.ivr.retain(|m| m.id != id);
            Ok(())
        })
        .await
    }

    /// Replaces the routing rules (admins reorder and edit them as a list).
    pub async fn put_routes(&self, rules: Vec<Rule>) -> Result<(), SettingsError> {
        let table = RouteTable::new(rules)
            .map_err(|e| SettingsError::new("routing rules", None, e.to_string()))?;
        self.change(|s, _| {
            s.routes = table;
            Ok(())
        })
        .await
    }

    /// Reads the settings from the database again and applies what
    /// changed (after another process wrote them).
    pub async fn reload(&self) -> Result<(), SettingsError> {
        let _guard = self.ctx.callcenter.change.lock().await;
        let Some(fresh) = CallcenterSettings::read(&self.ctx.store).await? else {
            return Ok(());
        };
        fresh.validate(&self.ctx.cfg.apps, None)?;
        let old = self.ctx.callcenter.get();
        apply(self.queues, &old, &fresh).await;
        self.ctx.callcenter.set(fresh);
        Ok(())
    }

    async fn change(
        &self,
        edit: impl FnOnce(&mut CallcenterSettings, &AppsConfig) -> Result<(), SettingsError>,
    ) -> Result<(), SettingsError> {
        self.change_then(None, edit).await
    }

    /// Checks and makes a change; `removing` is a queue to take out of the
    /// engine first, which the engine refuses while callers wait in it.
    async fn change_then(
        &self,
        removing: Option<&str>,
        edit: impl FnOnce(&mut CallcenterSettings, &AppsConfig) -> Result<(), SettingsError>,
    ) -> Result<(), SettingsError> {
        let _guard = self.ctx.callcenter.change.lock().await;
        let old = self.ctx.callcenter.get();
        let mut new = (*old).clone();
        edit(&mut new, &self.ctx.cfg.apps)?;
        let refs = References::load(self.ctx).await?;
        new.validate(&self.ctx.cfg.apps, Some(&refs))?;
        if let Some(queue) = removing {
            let input = AcdInput::RemoveQueue {
                queue: queue.to_string(),
            };
            self.queues
                .admin(input)
                .await
                .map_err(|e| SettingsError::new(format!("queue '{queue}'"), None, e))?;
        }
        new.write_all(&self.ctx.store).await?;
        apply(self.queues, &old, &new).await;
        self.ctx.callcenter.set(new);
        Ok(())
    }
}

/// Loads the settings at start: from the database, or (first run) from the
/// config file, written to the database. Returns them checked against what
/// exists (extensions, prompts).
pub async fn load_at_start(
    cfg: &crate::base::config::Config,
    store: &Store,
) -> anyhow::Result<CallcenterSettings> {
    let settings = match CallcenterSettings::read(store).await? {
        Some(s) => s,
        None => {
            let s = CallcenterSettings::from_config(&cfg.callcenter);
            s.write_all(store).await?;
            if !s.queues.is_empty() || !s.ivr.is_empty() || !s.routes.is_empty() {
                tracing::info!("call-center settings seeded from the config file");
            }
            s
        }
    };
    let refs = References::read(cfg, store).await?;
    settings.validate(&cfg.apps, Some(&refs))?;
    Ok(settings)
}

/// Replaces the database's settings with the config file's (the CLI's
/// `callcenter import`); a running server applies them within a second.
pub async fn import(
    cfg: &crate::base::config::Config,
    store: &Store,
) -> anyhow::Result<CallcenterSettings> {
    let s = CallcenterSettings::from_config(&cfg.callcenter);
    let refs = References::read(cfg, store).await?;
    s.validate(&cfg.apps, Some(&refs))?;
    s.write_all(store).await?;
    Ok(s)
}

/// Tells the queue engine what changed between `old` and `new`.
pub(crate) async fn apply(
    queues: &QueueService,
    old: &CallcenterSettings,
    new: &CallcenterSettings,
) {
    let mut inputs = Vec::new();
    for q in &new.queues {
        if old.queue(&q.name) != Some(q) {
            inputs.push(AcdInput::UpsertQueue(q.clone()));
        }
    }
    for a in &new.agents {
        if !old.agents.contains(a) {
            inputs.push(AcdInput::UpsertAgent(a.clone()));
        }
    }
    for t in &new.tiers {
        if !old.tiers.contains(t) {
            inputs.push(AcdInput::UpsertTier(t.clone()));
        }
    }
    for t in &old.tiers {
        if !new
            .tiers
            .iter()
            .any(|x| x.queue == t.queue && x.agent == t.agent)
        {
            inputs.push(AcdInput::RemoveTier {
                queue: t.queue.clone(),
                agent: t.agent.clone(),
            });
        }
    }
    for a in &old.agents {
        if !new.agents.iter().any(|x| x.id == a.id) {
            inputs.push(AcdInput::RemoveAgent {
                agent: a.id.clone(),
            });
        }
    }
    for q in &old.queues {
        if new.queue(&q.name).is_none() {
            inputs.push(AcdInput::RemoveQueue {
                queue: q.name.clone(),
            });
        }
    }
    for input in inputs {
        let what = format!("{input:?}");
        let removal = matches!(input, AcdInput::RemoveQueue { .. });
        match queues.admin(input).await {
            Ok(()) => {}
            // `remove_queue` took the queue out of the engine already.
            Err(e) if removal => tracing::debug!("call-center settings: {e} ({what:.120})"),
            // Checked before: this would be a bug, not bad input.
            Err(e) => tracing::error!("call-center settings: {e} ({what:.120})"),
        }
    }
}

/// What IVR menus may refer to: extensions, built-in prompts and files,
/// applications.
pub(crate) struct References {
    extensions: HashSet<String>,
    sounds: std::path::PathBuf,
    /// Names of uploaded media files.
    media: HashSet<String>,
}

impl References {
    /// From the database and the config (at start, from the CLI).
    pub(crate) async fn read(
        cfg: &crate::base::config::Config,
        store: &Store,
    ) -> anyhow::Result<References> {
        use anyhow::Context;
        let extensions = store
            .list_extensions()
            .await
            .context("reading extensions to check the IVR menus")?
            .into_iter()
            .map(|e| e.number)
            .collect();
        let media = store
            .list_media_files()
            .await
            .context("reading media files to check the IVR menus")?
            .into_iter()
            .map(|m| m.name)
            .collect();
        Ok(References {
            extensions,
            sounds: cfg.media.sounds_dir.join(&cfg.media.language),
            media,
        })
    }

    async fn load(ctx: &crate::base::context::Ctx) -> Result<References, SettingsError> {
        References::read(&ctx.cfg, &ctx.store)
            .await
            .map_err(|e| SettingsError::new("database", None, e.to_string()))
    }
}

impl IvrContext for References {
    fn prompt_exists(&self, prompt: &str) -> bool {
        if self.media.contains(prompt) {
            return true;
        }
        if prompt.contains('/') && std::path::Path::new(prompt).is_file() {
            return true;
        }
        self.sounds.join(format!("{prompt}.wav")).is_file()
    }

    fn extension_exists(&self, number: &str) -> bool {
        self.extensions.contains(number)
    }

    fn app_exists(&self, name: &str) -> bool {
        crate::calls::ports::app_exists(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> (CallcenterSettings, AppsConfig) {
        let cfg = crate::base::config::Config::from_toml(toml_text).expect("config");
        (CallcenterSettings::from_config(&cfg.callcenter), cfg.apps)
    }

    const CENTER: &str = r#"
        [apps]
        queues = { "9400" = "support" }
        ivr = { "9500" = "main" }

        [[callcenter.queues]]
        name = "support"
        strategy = "round-robin"

        [[callcenter.agents]]
        id = "1001"
        contact = "1001"

        [[callcenter.tiers]]
        queue = "support"
        agent = "1001"
        level = 2
        position = 3

        [[callcenter.ivr]]
        id = "main"
        greet_long = "welcome"
        entries = [
            { digits = "1", type = "app", name = "queue", arg = "support" },
            { digits = "2", type = "submenu", menu = "sub" },
        ]

        [[callcenter.ivr]]
        id = "sub"
        greet_long = "welcome"
        entries = [{ digits = "9", type = "back" }]

        [[callcenter.routes]]
        name = "support line"
        pattern = "^4000$"
        kind = { type = "queue", queue = "support" }
    "#;

    #[tokio::test]
    async fn the_database_round_trips_every_setting() {
        let (s, apps) = settings(CENTER);
        s.validate(&apps, None).expect("valid");
        let store = Store::open("sqlite::memory:").await.expect("store");
        assert!(CallcenterSettings::read(&store).await.unwrap().is_none());
        s.write_all(&store).await.expect("written");
        let back = CallcenterSettings::read(&store)
            .await
            .unwrap()
            .expect("seeded");
        assert_eq!(back.queues, s.queues);
        assert_eq!(back.agents, s.agents);
        assert_eq!(back.tiers, s.tiers);
        assert_eq!(back.ivr, s.ivr);
        let rules: Vec<&Rule> = back.routes.rules().collect();
        assert_eq!(rules, s.routes.rules().collect::<Vec<_>>());

        // Writing a smaller set removes what it no longer has.
        let mut less = s.clone();
        less.tiers.clear();
        less.agents.clear();
        less.ivr.retain(|m| m.id == "sub");
        less.write_all(&store).await.expect("written");
        let back = CallcenterSettings::read(&store).await.unwrap().unwrap();
        assert!(back.agents.is_empty() && back.tiers.is_empty());
        assert_eq!(back.ivr.len(), 1);
        assert_eq!(back.queues.len(), 1);
    }

    #[test]
    fn a_broken_set_is_refused_naming_what_is_wrong() {
        let (s, apps) = settings(CENTER);
        let mut t = s.clone();
        t.tiers[0].agent = "2002".into();
        let e = t.validate(&apps, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("agent"), "{e}");
        assert!(e.to_string().contains("no agent '2002'"), "{e}");

        let mut d = s.clone();
        d.queues.push(d.queues[0].clone());
        let e = d.validate(&apps, None).unwrap_err();
        assert!(e.to_string().contains("another queue has this name"), "{e}");

        // A menu whose submenu is missing names the menu and the entry.
        let mut m = s.clone();
        m.ivr.retain(|x| x.id == "main");
        let e = m.validate(&apps, None).unwrap_err();
        assert!(e.thing.contains("main"), "{e}");
        assert_eq!(e.field.as_deref(), Some("entry '2'"), "{e}");

        // apps.ivr naming a menu that is gone.
        let mut g = s.clone();
        g.ivr.clear();
        let e = g.validate(&apps, None).unwrap_err();
        assert!(e.to_string().contains("no IVR menu 'main'"), "{e}");

        let mut q = s.clone();
        q.queues[0].exit_keys = "1x".into();
        let e = q.validate(&apps, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("exit-keys"), "{e}");
    }

    #[test]
    fn users_of_a_queue_and_a_menu_are_named() {
        let (s, apps) = settings(CENTER);
        let users = s.queue_users("support", &apps);
        assert_eq!(
            users,
            [
                "number 9400 in [apps] queues",
                "routing rule \"support line\"",
                "IVR menu 'main' entry 1"
            ]
        );
        assert_eq!(
            s.menu_users("sub", &apps),
            ["IVR menu 'main' entry 2".to_string()]
        );
        assert_eq!(
            s.menu_users("main", &apps),
            ["number 9500 in [apps] ivr".to_string()]
        );
        assert!(s.queue_users("sales", &apps).is_empty());
    }
}
