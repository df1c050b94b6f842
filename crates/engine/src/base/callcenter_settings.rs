//! The call-center settings: queues, agents, tiers, IVR menus and routing
//! rules. The database holds them (tables of migration 0005); the config
//! file's `[callcenter]` section seeds the database on first run only, or
//! when an admin imports it (`switchboard callcenter import`).
//!
//! They are in the base layer because every layer reads them: the router
//! routes with the rules, a queue call plays its queue's music, the IVR
//! application walks the menus. Calls read the copy in force
//! ([`LiveSettings`], in `Ctx`); the settings service (in the services
//! layer) is the one that changes it: it checks the whole set, writes it,
//! and applies it to the queue service and to new calls.

use crate::base::config::{AppsConfig, CallcenterConfig};
use callcenter::acd::{AgentConfig, QueueConfig, TierConfig};
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
    pub(crate) fn new(
        thing: impl Into<String>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        SettingsError {
            thing: thing.into(),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    pub(crate) fn storage(e: store::StoreError) -> Self {
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
    pub(crate) fn queue_users(&self, name: &str, apps: &AppsConfig) -> Vec<String> {
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
    pub(crate) fn menu_users(&self, id: &str, apps: &AppsConfig) -> Vec<String> {
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
    pub(crate) change: tokio::sync::Mutex<()>,
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
