//! A Redis store for pending authorizations and sessions, with a
//! distributed refresh lock (feature `redis`): for web apps that run on
//! several machines and share their sessions.
//!
//! Keys (under a prefix, `atmo-oauth:` by default):
//! - `state:<state>`: a pending authorization, JSON, expiring after the
//!   state lifetime; taken with `GETDEL`, so it is used at most once even
//!   when two callbacks race.
//! - `session:<did>`: a session, JSON.
//! - `lock:<did>`: the refresh lock: `SET NX PX` with a random token,
//!   released by a script that deletes the key only if it still holds that
//!   token, so a holder whose lock expired cannot release another's. The
//!   lock expires by itself (default 30 s) if its holder dies.

use std::fmt;
use std::time::Duration;

use atmo_session::{StoreError, StoreErrorKind, StoreLock};
use atmo_types::Did;
use atmo_xrpc::BoxFuture;
use redis::aio::MultiplexedConnection;

use crate::store::{AuthState, OAuthSessionData, OAuthSessionStore, StateStore};

/// Deletes the lock key only when it still holds our token.
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// State and session store in Redis (see the module docs). Cheap to clone:
/// clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: MultiplexedConnection,
    prefix: String,
    state_ttl: Duration,
    lock_ttl: Duration,
    lock_wait: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn io(e: impl fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Io, format!("redis: {e}"))
}

fn corrupt(e: serde_json::Error) -> StoreError {
    // serde's message may quote values (tokens): keep only its category.
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("redis: the stored value is not valid ({:?})", e.classify()),
    )
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`; credentials in the URL
    /// are Redis's own, not printed by this store).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(io)?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(io)?;
        Ok(RedisStore {
            conn,
            prefix: "atmo-oauth:".into(),
            state_ttl: Duration::from_secs(600),
            lock_ttl: Duration::from_secs(30),
            lock_wait: Duration::from_secs(35),
        })
    }

    /// The key prefix (default `atmo-oauth:`), to share a database.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a pending authorization is kept (default 10 minutes).
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// How long a refresh lock lasts if its holder never releases it
    /// (default 30 s), and how long to wait for it (default 35 s).
    pub fn lock_times(mut self, ttl: Duration, wait: Duration) -> Self {
        self.lock_ttl = ttl;
        self.lock_wait = wait;
        self
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }
}

/// A held Redis lock; dropping it releases the key (if still ours) from a
/// background task.
struct RedisLockGuard {
    conn: MultiplexedConnection,
    key: String,
    token: String,
}

impl Drop for RedisLockGuard {
    fn drop(&mut self) {
        let (mut conn, key, token) = (
            self.conn.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        // Without a runtime the key simply expires.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _: Result<i64, _> = redis::cmd("EVAL")
                    .arg(RELEASE)
                    .arg(1)
                    .arg(&key)
                    .arg(&token)
                    .query_async(&mut conn)
                    .await;
            });
        }
    }
}

impl StateStore for RedisStore {
    fn save_state<'a>(
        &'a self,
        key: &'a str,
        state: &'a AuthState,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let json = serde_json::to_string(state).map_err(corrupt)?;
            let mut conn = self.conn.clone();
            redis::cmd("SET")
                .arg(self.key("state", key))
                .arg(json)
                .arg("PX")
                .arg(
                    u64::try_from(self.state_ttl.as_millis())
                        .unwrap_or(u64::MAX)
                        .max(1),
                )
                .query_async::<()>(&mut conn)
                .await
                .map_err(io)
        })
    }

    fn take_state<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<AuthState>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let v: Option<String> = redis::cmd("GETDEL")
                .arg(self.key("state", key))
                .query_async(&mut conn)
                .await
                .map_err(io)?;
            v.map(|s| serde_json::from_str(&s).map_err(corrupt))
                .transpose()
        })
    }
}

impl OAuthSessionStore for RedisStore {
    fn load_session<'a>(
        &'a self,
        did: &'a Did,
    ) -> BoxFuture<'a, Result<Option<OAuthSessionData>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let v: Option<String> = redis::cmd("GET")
                .arg(self.key("session", did.as_str()))
                .query_async(&mut conn)
                .await
                .map_err(io)?;
            v.map(|s| serde_json::from_str(&s).map_err(corrupt))
                .transpose()
        })
    }

    fn save_session<'a>(
        &'a self,
        session: &'a OAuthSessionData,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let json = serde_json::to_string(session).map_err(corrupt)?;
            let mut conn = self.conn.clone();
            redis::cmd("SET")
                .arg(self.key("session", session.did.as_str()))
                .arg(json)
                .query_async::<()>(&mut conn)
                .await
                .map_err(io)
        })
    }

    fn clear_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            redis::cmd("DEL")
                .arg(self.key("session", did.as_str()))
                .query_async::<()>(&mut conn)
                .await
                .map_err(io)
        })
    }

    fn lock_session<'a>(&'a self, did: &'a Did) -> BoxFuture<'a, Result<StoreLock, StoreError>> {
        Box::pin(async move {
            let key = self.key("lock", did.as_str());
            let token = crate::util::random_token::<16>()
                .map_err(|e| StoreError::new(StoreErrorKind::Io, e.to_string()))?;
            let mut conn = self.conn.clone();
            let deadline = tokio::time::Instant::now() + self.lock_wait;
            let ttl = u64::try_from(self.lock_ttl.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            loop {
                let got: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut conn)
                    .await
                    .map_err(io)?;
                if got.is_some() {
                    return Ok(StoreLock::new(RedisLockGuard { conn, key, token }));
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(StoreError::new(
                        StoreErrorKind::LockTimeout,
                        format!("redis: the refresh lock of {did} is held elsewhere"),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    }
}
