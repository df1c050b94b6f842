//! SIP gateways (trunks, manual 3.2.6): one typed row per gateway, so reports
//! can join on its name. The definition and its checks are
//! [`callcenter::gateway::config`]'s; every write is checked with
//! [`Gateway::validate`] inside its transaction and bumps the `gateways`
//! change counter, so a running engine re-reads its gateways.
//!
//! The password is stored as given, not hashed: the engine needs it in
//! clear to answer the carrier's digest challenges. Callers that show
//! gateways (the pages, the API, the CLI) leave it out, and an update with
//! an empty password keeps the stored one (a write-only field).

use callcenter::gateway::config::{Gateway, IdentityHeader, Mode, Privacy, Transport};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Row, Type};

use crate::db::{self, db_err, Backend, Db, RowsAffected, Ts, Tx, Value};
use crate::{dispatch, Store, StoreError};

/// Name of the change counter bumped by every gateway change.
pub const GATEWAYS_VERSION: &str = "gateways";

/// The columns `Db::gateway_from_row` reads (a macro so queries stay string
/// literals).
macro_rules! columns {
    () => {
        "name, note, mode, proxy, port, transport, username, auth_username, password, realm, \
         from_user, from_domain, register_proxy, outbound_proxy, expire_secs, retry_secs, \
         ping_secs, caller_id_in_from, codecs, max_calls, strip_digits, add_prefix, caller_id, \
         privacy, identity, enabled, impu, impi, home_domain, pcscf, addresses, srtp"
    };
}

/// What a write may do with an existing row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    /// Only create: an existing name is [`StoreError::GatewayExists`].
    Create,
    /// Only change: a missing name is [`StoreError::GatewayNotFound`].
    Update,
    /// Either.
    Upsert,
}

impl Store {
    /// Every gateway, by name.
    pub async fn list_gateways(&self) -> Result<Vec<Gateway>, StoreError> {
        dispatch!(self, db => db.list_gateways())
    }

    /// The gateway `name`, if it exists.
    pub async fn get_gateway(&self, name: &str) -> Result<Option<Gateway>, StoreError> {
        dispatch!(self, db => db.get_gateway(name))
    }

    /// Creates `gateway`; fails with [`StoreError::GatewayExists`] if the
    /// name is taken and with [`StoreError::InvalidGateway`] if a setting is
    /// wrong.
    pub async fn add_gateway(&self, gateway: &Gateway) -> Result<(), StoreError> {
        dispatch!(self, db => db.put_gateway(gateway, Put::Create)).map(|_| ())
    }

    /// Replaces every setting of the gateway `gateway.name`; an empty
    /// password keeps the stored one. Fails with
    /// [`StoreError::GatewayNotFound`] if it does not exist and with
    /// [`StoreError::InvalidGateway`] if a setting is wrong.
    pub async fn update_gateway(&self, gateway: &Gateway) -> Result<(), StoreError> {
        dispatch!(self, db => db.put_gateway(gateway, Put::Update)).map(|_| ())
    }

    /// Creates the gateway or replaces its settings (an empty password
    /// keeps the stored one); returns whether it was created.
    pub async fn upsert_gateway(&self, gateway: &Gateway) -> Result<bool, StoreError> {
        dispatch!(self, db => db.put_gateway(gateway, Put::Upsert))
    }

    /// Removes the gateway `name`; whether it existed.
    pub async fn remove_gateway(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, db => db.remove_gateway(name))
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
    pub(crate) async fn list_gateways(&self) -> Result<Vec<Gateway>, StoreError> {
        const CONTEXT: &str = "listing gateways";
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM gateways ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        rows.iter()
            .map(Self::gateway_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err(CONTEXT))
    }

    pub(crate) async fn get_gateway(&self, name: &str) -> Result<Option<Gateway>, StoreError> {
        const CONTEXT: &str = "reading a gateway";
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM gateways WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err(CONTEXT))?;
        row.as_ref()
            .map(Self::gateway_from_row)
            .transpose()
            .map_err(db_err(CONTEXT))
    }

    /// Writes `g` as `how` allows; returns whether a row was created.
    async fn put_gateway(&self, g: &Gateway, how: Put) -> Result<bool, StoreError> {
        const CONTEXT: &str = "saving a gateway";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT password FROM gateways WHERE name = $1")
                .bind(&g.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err(CONTEXT))?;
        match (&stored, how) {
            (Some(_), Put::Create) => return Err(StoreError::GatewayExists(g.name.clone())),
            (None, Put::Update) => return Err(StoreError::GatewayNotFound(g.name.clone())),
            _ => {}
        }
        let mut checked = g.clone();
        if let (true, Some(old)) = (checked.password.is_empty(), stored.as_ref()) {
            checked.password = old.clone();
        }
        checked.validate().map_err(StoreError::InvalidGateway)?;
        let now = Ts(db::now_ms());
        if stored.is_some() {
            Self::update_gateway_row(&mut tx, &checked, now).await?;
        } else {
            Self::insert_gateway_row(&mut tx, &checked, now).await?;
        }
        Self::bump_version(&mut tx, GATEWAYS_VERSION).await?;
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(stored.is_none())
    }

    async fn insert_gateway_row(tx: &mut Tx<DB>, g: &Gateway, now: Ts) -> Result<(), StoreError> {
        let q = sqlx::query(concat!(
            "INSERT INTO gateways (",
            columns!(),
            ", created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, \
             $28, $29, $30, $31, $32, $33, $33)"
        ));
        Self::bind_gateway(q, g)?
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err("adding a gateway"))?;
        Ok(())
    }

    async fn update_gateway_row(tx: &mut Tx<DB>, g: &Gateway, now: Ts) -> Result<(), StoreError> {
        let q = sqlx::query(
            "UPDATE gateways SET note = $2, mode = $3, proxy = $4, port = $5, transport = $6, \
             username = $7, auth_username = $8, password = $9, realm = $10, from_user = $11, \
             from_domain = $12, register_proxy = $13, outbound_proxy = $14, expire_secs = $15, \
             retry_secs = $16, ping_secs = $17, caller_id_in_from = $18, codecs = $19, \
             max_calls = $20, strip_digits = $21, add_prefix = $22, caller_id = $23, \
             privacy = $24, identity = $25, enabled = $26, impu = $27, impi = $28, \
             home_domain = $29, pcscf = $30, addresses = $31, srtp = $32, updated_at = $33 \
             WHERE name = $1",
        );
        Self::bind_gateway(q, g)?
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err("changing a gateway"))?;
        Ok(())
    }

    /// Binds `$1`..`$32`, the `columns!()` in order.
    fn bind_gateway<'q>(
        q: sqlx::query::Query<'q, DB, DB::Arguments>,
        g: &'q Gateway,
    ) -> Result<sqlx::query::Query<'q, DB, DB::Arguments>, StoreError> {
        // Validation keeps these far below i32::MAX; a value that is not
        // would be a bug, refused rather than stored wrapped.
        let int = |field: &'static str, v: u32| {
            i32::try_from(v).map_err(|_| StoreError::InvalidGateway(too_big(g, field)))
        };
        Ok(q.bind(g.name.as_str())
            .bind(g.note.as_str())
            .bind(g.mode.as_str())
            .bind(g.proxy.as_str())
            .bind(i32::from(g.port))
            .bind(g.transport.as_str())
            .bind(g.username.as_str())
            .bind(g.auth_username.as_str())
            .bind(g.password.as_str())
            .bind(g.realm.as_str())
            .bind(g.from_user.as_str())
            .bind(g.from_domain.as_str())
            .bind(g.register_proxy.as_str())
            .bind(g.outbound_proxy.as_str())
            .bind(int("expire_secs", g.expire_secs)?)
            .bind(int("retry_secs", g.retry_secs)?)
            .bind(int("ping_secs", g.ping_secs)?)
            .bind(g.caller_id_in_from)
            .bind(g.codecs.join(","))
            .bind(int("max_calls", g.max_calls)?)
            .bind(int("strip_digits", g.strip_digits)?)
            .bind(g.add_prefix.as_str())
            .bind(g.caller_id.as_str())
            .bind(g.privacy.as_str())
            .bind(g.identity.as_str())
            .bind(g.enabled)
            .bind(g.impu.as_str())
            .bind(g.impi.as_str())
            .bind(g.home_domain.as_str())
            .bind(g.pcscf.as_str())
            .bind(g.addresses.join(","))
            .bind(g.srtp))
    }

    pub(crate) async fn remove_gateway(&self, name: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a gateway";
        let mut tx = db::begin_write(&self.pool).await.map_err(db_err(CONTEXT))?;
        let removed = sqlx::query("DELETE FROM gateways WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err(CONTEXT))?
            .rows_affected();
        if removed > 0 {
            Self::bump_version(&mut tx, GATEWAYS_VERSION).await?;
        }
        tx.commit().await.map_err(db_err(CONTEXT))?;
        Ok(removed > 0)
    }

    /// Decodes a row of the `columns!()` list. A value this build cannot
    /// read (a mode written by a newer build) is a decode error naming it.
    fn gateway_from_row(row: &DB::Row) -> Result<Gateway, sqlx::Error> {
        fn choice<T: std::str::FromStr<Err = String>>(text: String) -> Result<T, sqlx::Error> {
            text.parse()
                .map_err(|e: String| sqlx::Error::Decode(e.into()))
        }
        fn unsigned<T: TryFrom<i32>>(column: &str, v: i32) -> Result<T, sqlx::Error> {
            T::try_from(v).map_err(|_| {
                sqlx::Error::Decode(format!("gateways.{column} holds {v}, out of range").into())
            })
        }
        let list = |text: String| -> Vec<String> {
            text.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(Gateway {
            name: row.try_get("name")?,
            note: row.try_get("note")?,
            mode: choice::<Mode>(row.try_get("mode")?)?,
            proxy: row.try_get("proxy")?,
            port: unsigned("port", row.try_get("port")?)?,
            transport: choice::<Transport>(row.try_get("transport")?)?,
            username: row.try_get("username")?,
            auth_username: row.try_get("auth_username")?,
            password: row.try_get("password")?,
            realm: row.try_get("realm")?,
            from_user: row.try_get("from_user")?,
            from_domain: row.try_get("from_domain")?,
            register_proxy: row.try_get("register_proxy")?,
            outbound_proxy: row.try_get("outbound_proxy")?,
            expire_secs: unsigned("expire_secs", row.try_get("expire_secs")?)?,
            retry_secs: unsigned("retry_secs", row.try_get("retry_secs")?)?,
            ping_secs: unsigned("ping_secs", row.try_get("ping_secs")?)?,
            caller_id_in_from: row.try_get("caller_id_in_from")?,
            codecs: list(row.try_get("codecs")?),
            max_calls: unsigned("max_calls", row.try_get("max_calls")?)?,
            strip_digits: unsigned("strip_digits", row.try_get("strip_digits")?)?,
            add_prefix: row.try_get("add_prefix")?,
            caller_id: row.try_get("caller_id")?,
            privacy: choice::<Privacy>(row.try_get("privacy")?)?,
            identity: choice::<IdentityHeader>(row.try_get("identity")?)?,
            enabled: row.try_get("enabled")?,
            impu: row.try_get("impu")?,
            impi: row.try_get("impi")?,
            home_domain: row.try_get("home_domain")?,
            pcscf: row.try_get("pcscf")?,
            addresses: list(row.try_get("addresses")?),
            srtp: row.try_get("srtp")?,
        })
    }
}

/// The error for a number that validation let through but a column cannot
/// hold.
fn too_big(g: &Gateway, field: &'static str) -> callcenter::gateway::config::GatewayErrors {
    callcenter::gateway::config::GatewayErrors {
        gateway: g.name.clone(),
        errors: vec![callcenter::gateway::config::FieldError {
            field,
            problem: callcenter::gateway::config::Problem::Range {
                min: 0,
                max: i32::MAX.unsigned_abs(),
                off: false,
            },
        }],
    }
}
