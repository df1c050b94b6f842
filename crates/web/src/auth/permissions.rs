//! The fixed catalog of permissions and the side menu.
//!
//! A permission is a resource (a menu or an API area, e.g. `system.users`)
//! and an action on it (`view`, `edit`, ...), written `resource:action`
//! in the database and in forms. Roles and departments grant permissions;
//! administrators hold all of them. Holding any action on a resource
//! implies `view` of it.

use std::collections::BTreeSet;

use serde::Serialize;

/// One permission: an action on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    /// Resource key, e.g. `system.users`.
    pub resource: &'static str,
    /// Action, e.g. `edit`.
    pub action: &'static str,
}

impl Permission {
    /// The permission `resource:action`.
    pub const fn new(resource: &'static str, action: &'static str) -> Permission {
        Permission { resource, action }
    }

    /// The stored form, `resource:action`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.resource, self.action)
    }
}

/// One resource of the catalog and the actions it has.
#[derive(Clone, Copy, Debug)]
pub struct Resource {
    /// Key, e.g. `voice.extensions`.
    pub key: &'static str,
    /// Its actions; the first is always `view`.
    pub actions: &'static [&'static str],
}

/// Every resource, in the order of the permission grid. Pages for some of
/// them come later; granting them already is harmless.
pub const CATALOG: &[Resource] = &[
    Resource {
        key: "voice.status",
        actions: &["view"],
    },
    Resource {
        key: "voice.extensions",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.queues",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.routes",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.ivr",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.media",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.gateways",
        actions: &["view", "edit"],
    },
    Resource {
        key: "voice.registrations",
        actions: &["view"],
    },
    Resource {
        key: "voice.lists",
        actions: &["view", "edit"],
    },
    Resource {
        key: "calls",
        actions: &["view", "control"],
    },
    Resource {
        key: "agents",
        actions: &["view", "manage"],
    },
    // Voicemail: "view" opens any mailbox; "manage" marks and deletes
    // messages of any mailbox (a user's own mailbox needs "view" only).
    Resource {
        key: "voicemail",
        actions: &["view", "manage"],
    },
    // Call records and recordings: "view" alone the calls of the user's
    // own extension (an agent's "my calls"), "all" every call.
    Resource {
        key: "records",
        actions: &["view", "all"],
    },
    // Reports and the staffing calculator.
    Resource {
        key: "reports",
        actions: &["view"],
    },
    Resource {
        key: "crm.contacts",
        actions: &["view", "edit"],
    },
    Resource {
        key: "crm.customers",
        actions: &["view", "edit"],
    },
    // Tickets: "edit" creates, changes and replies; "manage" deletes
    // tickets and keeps the ticket types.
    Resource {
        key: "tickets",
        actions: &["view", "edit", "manage"],
    },
    Resource {
        key: "kb",
        actions: &["view", "edit"],
    },
    // Outbound campaigns: batches (their fields, rows, imports and the
    // records of imports and filter runs) and filter forms.
    Resource {
        key: "outbound.batches",
        actions: &["view", "edit"],
    },
    Resource {
        key: "outbound.filters",
        actions: &["view", "edit"],
    },
    Resource {
        key: "outbound.activities",
        actions: &["view", "edit"],
    },
    // Data scope: "view" alone (the baseline) sees the user's own and
    // shared records; "department" adds the records of the users of the
    // user's departments; "all" every record.
    Resource {
        key: "crm.data",
        actions: &["view", "department", "all"],
    },
    Resource {
        key: "system.users",
        actions: &["view", "edit"],
    },
    Resource {
        key: "system.roles",
        actions: &["view", "edit"],
    },
    Resource {
        key: "system.departments",
        actions: &["view", "edit"],
    },
    Resource {
        key: "system.audit",
        actions: &["view"],
    },
    Resource {
        key: "system.settings",
        actions: &["view", "edit"],
    },
];

/// Node status on the home page.
pub const STATUS_VIEW: Permission = Permission::new("voice.status", "view");
/// List live calls (`GET /api/calls`).
pub const CALLS_VIEW: Permission = Permission::new("calls", "view");
/// Hold, transfer, hang up ... live calls.
pub const CALLS_CONTROL: Permission = Permission::new("calls", "control");
/// See queues, their agents and callers.
pub const QUEUES_VIEW: Permission = Permission::new("voice.queues", "view");
/// Add or change queues.
pub const QUEUES_EDIT: Permission = Permission::new("voice.queues", "edit");
/// See the access list, blacklist and number pool.
pub const LISTS_VIEW: Permission = Permission::new("voice.lists", "view");
/// Change the access list, blacklist and number pool.
pub const LISTS_EDIT: Permission = Permission::new("voice.lists", "edit");
/// See the registered phones.
pub const REGISTRATIONS_VIEW: Permission = Permission::new("voice.registrations", "view");
/// See SIP gateways (never their passwords).
pub const GATEWAYS_VIEW: Permission = Permission::new("voice.gateways", "view");
/// Add, change and remove SIP gateways.
pub const GATEWAYS_EDIT: Permission = Permission::new("voice.gateways", "edit");
/// List and play media resources.
pub const MEDIA_VIEW: Permission = Permission::new("voice.media", "view");
/// Upload, rename and remove media resources.
pub const MEDIA_EDIT: Permission = Permission::new("voice.media", "edit");
/// Change agents' status, log them in, dial for them.
pub const AGENTS_MANAGE: Permission = Permission::new("agents", "manage");
/// See extensions.
pub const EXTENSIONS_VIEW: Permission = Permission::new("voice.extensions", "view");
/// Add, edit and remove extensions.
pub const EXTENSIONS_EDIT: Permission = Permission::new("voice.extensions", "edit");
/// See routing rules (and use the tester).
pub const ROUTES_VIEW: Permission = Permission::new("voice.routes", "view");
/// Change routing rules.
pub const ROUTES_EDIT: Permission = Permission::new("voice.routes", "edit");
/// See IVR menus.
pub const IVR_VIEW: Permission = Permission::new("voice.ivr", "view");
/// Change IVR menus.
pub const IVR_EDIT: Permission = Permission::new("voice.ivr", "edit");
/// Read the audit log.
pub const AUDIT_VIEW: Permission = Permission::new("system.audit", "view");
/// See system settings, dictionaries and notification settings.
pub const SETTINGS_VIEW: Permission = Permission::new("system.settings", "view");
/// Change them (and send test messages).
pub const SETTINGS_EDIT: Permission = Permission::new("system.settings", "edit");
/// Read voicemail lists.
pub const VOICEMAIL_VIEW: Permission = Permission::new("voicemail", "view");
/// Mark and delete the messages of any mailbox.
pub const VOICEMAIL_MANAGE: Permission = Permission::new("voicemail", "manage");
/// See contacts, their categories and projects, and look numbers up (the
/// screen pop).
pub const CRM_CONTACTS_VIEW: Permission = Permission::new("crm.contacts", "view");
/// Create, change and delete contacts, their categories and projects.
pub const CRM_CONTACTS_EDIT: Permission = Permission::new("crm.contacts", "edit");
/// See customers.
pub const CRM_CUSTOMERS_VIEW: Permission = Permission::new("crm.customers", "view");
/// Create, change and delete customers.
pub const CRM_CUSTOMERS_EDIT: Permission = Permission::new("crm.customers", "edit");
/// Outbound batches, their rows and import/filter records: see them.
pub const OUTBOUND_BATCHES_VIEW: Permission = Permission::new("outbound.batches", "view");
/// Outbound batches: create, change, import, delete.
pub const OUTBOUND_BATCHES_EDIT: Permission = Permission::new("outbound.batches", "edit");
/// Outbound filter forms: see them and their matches.
pub const OUTBOUND_FILTERS_VIEW: Permission = Permission::new("outbound.filters", "view");
/// Outbound filter forms: create, change, delete.
pub const OUTBOUND_FILTERS_EDIT: Permission = Permission::new("outbound.filters", "edit");
/// Outbound activities: see them and their dial tasks.
pub const OUTBOUND_ACTIVITIES_VIEW: Permission = Permission::new("outbound.activities", "view");
/// Outbound activities: create, change, start (allocate), pause, stop,
/// recall, delete.
pub const OUTBOUND_ACTIVITIES_EDIT: Permission = Permission::new("outbound.activities", "edit");
/// See tickets (within the data scope), their replies, history and files.
pub const TICKETS_VIEW: Permission = Permission::new("tickets", "view");
/// Creates, changes and replies to tickets, attaches files.
pub const TICKETS_EDIT: Permission = Permission::new("tickets", "edit");
/// Deletes tickets; keeps the ticket types.
pub const TICKETS_MANAGE: Permission = Permission::new("tickets", "manage");
/// Reads and searches the knowledge base.
pub const KB_VIEW: Permission = Permission::new("kb", "view");
/// Writes the knowledge base.
pub const KB_EDIT: Permission = Permission::new("kb", "edit");
/// Data scope: every CRM record (without it, the user's own and shared ones).
pub const CRM_DATA_ALL: Permission = Permission::new("crm.data", "all");
/// Data scope: the records of the users of the user's departments (and
/// those below them).
pub const CRM_DATA_DEPARTMENT: Permission = Permission::new("crm.data", "department");
/// The call history and recordings of the user's own extension.
pub const RECORDS_VIEW: Permission = Permission::new("records", "view");
/// Every call's record and recording.
pub const RECORDS_ALL: Permission = Permission::new("records", "all");
/// The reports and the staffing calculator.
pub const REPORTS_VIEW: Permission = Permission::new("reports", "view");
/// See users.
pub const USERS_VIEW: Permission = Permission::new("system.users", "view");
/// Create and change users.
pub const USERS_EDIT: Permission = Permission::new("system.users", "edit");
/// See roles.
pub const ROLES_VIEW: Permission = Permission::new("system.roles", "view");
/// Create, change and delete roles.
pub const ROLES_EDIT: Permission = Permission::new("system.roles", "edit");
/// See departments.
pub const DEPARTMENTS_VIEW: Permission = Permission::new("system.departments", "view");
/// Create, change and delete departments.
pub const DEPARTMENTS_EDIT: Permission = Permission::new("system.departments", "edit");

/// Whether `key` (`resource:action`) names a permission of the catalog.
pub fn is_known(key: &str) -> bool {
    let Some((resource, action)) = key.split_once(':') else {
        return false;
    };
    CATALOG
        .iter()
        .any(|r| r.key == resource && r.actions.contains(&action))
}

/// What a user may do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Administrators may do everything.
    pub admin: bool,
    /// Granted permissions (`resource:action`), from roles and departments.
    pub keys: BTreeSet<String>,
}

impl Grants {
    /// Whether these grants allow `p`.
    pub fn allows(&self, p: Permission) -> bool {
        if self.admin {
            return true;
        }
        if p.action == "view" {
            let prefix = format!("{}:", p.resource);
            return self.keys.iter().any(|k| k.starts_with(&prefix));
        }
        self.keys.contains(&p.key())
    }
}

/// One entry of the side menu.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MenuItem {
    /// Stable id of the link (`menu-users`), for tests.
    pub id: &'static str,
    /// Message key of the label.
    pub label: &'static str,
    /// Where it goes.
    pub href: &'static str,
    /// The heading it sits under (message key); `None` at the top.
    pub group: Option<&'static str>,
    /// What the user needs to see it; `None`: every signed-in user.
    #[serde(skip)]
    pub needs: Option<Permission>,
}

/// The side menu, in order. Only pages that exist are listed.
pub const MENU: &[MenuItem] = &[
    MenuItem {
        id: "menu-home",
        label: "nav.home",
        href: "/",
        group: None,
        needs: None,
    },
    MenuItem {
        id: "menu-crm-contacts",
        label: "nav.crm_contacts",
        href: "/crm/contacts",
        group: Some("nav.group_crm"),
        needs: Some(CRM_CONTACTS_VIEW),
    },
    MenuItem {
        id: "menu-crm-customers",
        label: "nav.crm_customers",
        href: "/crm/customers",
        group: Some("nav.group_crm"),
        needs: Some(CRM_CUSTOMERS_VIEW),
    },
    MenuItem {
        id: "menu-tickets",
        label: "nav.tickets",
        href: "/tickets",
        group: Some("nav.group_crm"),
        needs: Some(TICKETS_VIEW),
    },
    MenuItem {
        id: "menu-kb",
        label: "nav.kb",
        href: "/kb",
        group: Some("nav.group_crm"),
        needs: Some(KB_VIEW),
    },
    MenuItem {
        id: "menu-records-calls",
        label: "nav.records_calls",
        href: "/records/calls",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-waiting",
        label: "nav.records_waiting",
        href: "/records/waiting",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-missed",
        label: "nav.records_missed",
        href: "/records/missed",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-agents",
        label: "nav.records_agents",
        href: "/records/agents",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-traffic",
        label: "nav.records_traffic",
        href: "/records/traffic",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-wallboard",
        label: "nav.records_wallboard",
        href: "/records/wallboard",
        group: Some("nav.group_records"),
        needs: Some(RECORDS_VIEW),
    },
    MenuItem {
        id: "menu-records-voicemail",
        label: "nav.records_voicemail",
        href: "/records/voicemail",
        group: Some("nav.group_records"),
        needs: Some(VOICEMAIL_VIEW),
    },
    MenuItem {
        id: "menu-reports-service-level",
        label: "nav.reports_service_level",
        href: "/reports/service-level",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-erlang-c",
        label: "nav.reports_erlang_c",
        href: "/reports/erlang-c",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-traffic",
        label: "nav.reports_traffic",
        href: "/reports/traffic",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-agent-traffic",
        label: "nav.reports_agent_traffic",
        href: "/reports/agent-traffic",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-work-time",
        label: "nav.reports_work_time",
        href: "/reports/work-time",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-inbound",
        label: "nav.reports_inbound",
        href: "/reports/inbound",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-outbound",
        label: "nav.reports_outbound",
        href: "/reports/outbound",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-satisfaction",
        label: "nav.reports_satisfaction",
        href: "/reports/satisfaction",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-hourly",
        label: "nav.reports_hourly",
        href: "/reports/hourly",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-reports-tickets",
        label: "nav.reports_tickets",
        href: "/reports/tickets",
        group: Some("nav.group_records"),
        needs: Some(REPORTS_VIEW),
    },
    MenuItem {
        id: "menu-outbound-batches",
        label: "nav.outbound_batches",
        href: "/campaigns/batches",
        group: Some("nav.group_outbound"),
        needs: Some(OUTBOUND_BATCHES_VIEW),
    },
    MenuItem {
        id: "menu-outbound-filters",
        label: "nav.outbound_filters",
        href: "/campaigns/filters",
        group: Some("nav.group_outbound"),
        needs: Some(OUTBOUND_FILTERS_VIEW),
    },
    MenuItem {
        id: "menu-outbound-imports",
        label: "nav.outbound_imports",
        href: "/campaigns/imports",
        group: Some("nav.group_outbound"),
        needs: Some(OUTBOUND_BATCHES_VIEW),
    },
    MenuItem {
        id: "menu-outbound-filter-runs",
        label: "nav.outbound_filter_runs",
        href: "/campaigns/filter-runs",
        group: Some("nav.group_outbound"),
        needs: Some(OUTBOUND_BATCHES_VIEW),
    },
    MenuItem {
        id: "menu-voice-status",
        label: "nav.voice_status",
        href: "/voice/status",
        group: Some("nav.group_voice"),
        needs: Some(STATUS_VIEW),
    },
    MenuItem {
        id: "menu-voice-extensions",
        label: "nav.voice_extensions",
        href: "/voice/extensions",
        group: Some("nav.group_voice"),
        needs: Some(EXTENSIONS_VIEW),
    },
    MenuItem {
        id: "menu-voice-queues",
        label: "nav.voice_queues",
        href: "/voice/queues",
        group: Some("nav.group_voice"),
        needs: Some(QUEUES_VIEW),
    },
    MenuItem {
        id: "menu-voice-routes",
        label: "nav.voice_routes",
        href: "/voice/routes",
        group: Some("nav.group_voice"),
        needs: Some(ROUTES_VIEW),
    },
    MenuItem {
        id: "menu-voice-ivr",
        label: "nav.voice_ivr",
        href: "/voice/ivr",
        group: Some("nav.group_voice"),
        needs: Some(IVR_VIEW),
    },
    MenuItem {
        id: "menu-voice-acl",
        label: "nav.voice_acl",
        href: "/voice/lists/acl",
        group: Some("nav.group_voice"),
        needs: Some(LISTS_VIEW),
    },
    MenuItem {
        id: "menu-voice-media",
        label: "nav.voice_media",
        href: "/voice/media",
        group: Some("nav.group_voice"),
        needs: Some(MEDIA_VIEW),
    },
    MenuItem {
        id: "menu-voice-gateways",
        label: "nav.voice_gateways",
        href: "/voice/gateways",
        group: Some("nav.group_voice"),
        needs: Some(GATEWAYS_VIEW),
    },
    MenuItem {
        id: "menu-voice-registrations",
        label: "nav.voice_registrations",
        href: "/voice/registrations",
        group: Some("nav.group_voice"),
        needs: Some(REGISTRATIONS_VIEW),
    },
    MenuItem {
        id: "menu-voice-number-pool",
        label: "nav.voice_number_pool",
        href: "/voice/lists/number_pool",
        group: Some("nav.group_voice"),
        needs: Some(LISTS_VIEW),
    },
    MenuItem {
        id: "menu-voice-blacklist",
        label: "nav.voice_blacklist",
        href: "/voice/lists/blacklist",
        group: Some("nav.group_voice"),
        needs: Some(LISTS_VIEW),
    },
    MenuItem {
        id: "menu-voice-dnc",
        label: "nav.voice_dnc",
        href: "/voice/lists/dnc",
        group: Some("nav.group_voice"),
        needs: Some(LISTS_VIEW),
    },
    MenuItem {
        id: "menu-users",
        label: "nav.users",
        href: "/users",
        group: Some("nav.group_system"),
        needs: Some(USERS_VIEW),
    },
    MenuItem {
        id: "menu-roles",
        label: "nav.roles",
        href: "/roles",
        group: Some("nav.group_system"),
        needs: Some(ROLES_VIEW),
    },
    MenuItem {
        id: "menu-departments",
        label: "nav.departments",
        href: "/departments",
        group: Some("nav.group_system"),
        needs: Some(DEPARTMENTS_VIEW),
    },
    MenuItem {
        id: "menu-audit",
        label: "nav.audit",
        href: "/system/audit",
        group: Some("nav.group_system"),
        needs: Some(AUDIT_VIEW),
    },
    MenuItem {
        id: "menu-settings",
        label: "nav.settings",
        href: "/system/settings",
        group: Some("nav.group_system"),
        needs: Some(SETTINGS_VIEW),
    },
    MenuItem {
        id: "menu-tokens",
        label: "nav.tokens",
        href: "/account/tokens",
        group: Some("nav.group_account"),
        needs: None,
    },
    MenuItem {
        id: "menu-notifications",
        label: "nav.notifications",
        href: "/account/notifications",
        group: Some("nav.group_account"),
        needs: None,
    },
    MenuItem {
        id: "menu-password",
        label: "nav.password",
        href: "/password",
        group: Some("nav.group_account"),
        needs: None,
    },
];

/// The menu entries `grants` may see.
pub fn menu_for(grants: &Grants) -> Vec<MenuItem> {
    MENU.iter()
        .filter(|m| m.needs.is_none_or(|p| grants.allows(p)))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(keys: &[&str]) -> Grants {
        Grants {
            admin: false,
            keys: keys.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn edit_implies_view_but_not_the_reverse() {
        let g = grants(&["system.users:edit", "calls:view"]);
        assert!(g.allows(USERS_VIEW));
        assert!(g.allows(USERS_EDIT));
        assert!(g.allows(CALLS_VIEW));
        assert!(!g.allows(CALLS_CONTROL));
        assert!(!g.allows(ROLES_VIEW));
        // A resource whose key is a prefix of another does not leak.
        let g = grants(&["voice.queues_extra:edit"]);
        assert!(!g.allows(QUEUES_VIEW));
        let admin = Grants {
            admin: true,
            ..Default::default()
        };
        assert!(admin.allows(DEPARTMENTS_EDIT));
    }

    #[test]
    fn catalog_is_consistent() {
        for r in CATALOG {
            assert_eq!(r.actions[0], "view", "{}", r.key);
        }
        for p in [
            STATUS_VIEW,
            CALLS_CONTROL,
            QUEUES_EDIT,
            AGENTS_MANAGE,
            VOICEMAIL_VIEW,
            USERS_EDIT,
            ROLES_EDIT,
            DEPARTMENTS_EDIT,
            LISTS_VIEW,
            LISTS_EDIT,
            REGISTRATIONS_VIEW,
            MEDIA_VIEW,
            MEDIA_EDIT,
            GATEWAYS_VIEW,
            GATEWAYS_EDIT,
        ] {
            assert!(is_known(&p.key()), "{}", p.key());
        }
        assert!(!is_known("system.users:destroy"));
        assert!(!is_known("nonsense"));
        for m in MENU {
            if let Some(p) = m.needs {
                assert!(is_known(&p.key()));
            }
        }
    }

    #[test]
    fn menu_is_filtered() {
        let ids = |g: &Grants| menu_for(g).iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(&grants(&[])),
            [
                "menu-home",
                "menu-tokens",
                "menu-notifications",
                "menu-password"
            ]
        );
        assert_eq!(
            ids(&grants(&["system.roles:view"])),
            [
                "menu-home",
                "menu-roles",
                "menu-tokens",
                "menu-notifications",
                "menu-password"
            ]
        );
        assert_eq!(
            ids(&Grants {
                admin: true,
                ..Default::default()
            })
            .len(),
            MENU.len()
        );
    }
}
