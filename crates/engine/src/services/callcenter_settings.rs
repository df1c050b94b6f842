//! The settings service: changes to the call-center settings of a running
//! engine (queues, agents, tiers, IVR menus, routing rules). The admin
//! pages and the JSON API change them through [`SettingsAdmin`], which
//! checks the whole set, writes it, and applies it without a restart: to
//! the queue service (waiting callers stay in their queues) and to new
//! calls. The settings themselves, as calls read them, are in the base
//! layer (re-exported here).
//!
//! A change written by another process (the CLI on the same database)
//! moves the database's `callcenter` change counter; the engine's refresh
//! loop then calls [`SettingsAdmin::reload`], which applies the difference.

pub use crate::base::callcenter_settings::{CallcenterSettings, LiveSettings, SettingsError};
use crate::base::config::AppsConfig;
use crate::services::queues::QueueService;
use callcenter::acd::{AcdInput, AgentConfig, QueueConfig, TierConfig};
use callcenter::ivr::{IvrContext, IvrMenu};
use callcenter::routing::{RouteTable, Rule};
use std::collections::HashSet;
use std::sync::Arc;
use store::Store;

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
