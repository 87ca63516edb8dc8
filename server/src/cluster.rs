//! Many nodes as one server: the Socket.IO adapter over Redis and each node's
//! heartbeat.
//!
//! Events reach sockets on other nodes through `socketioxide-redis` (a room
//! emit is published on Redis, and every node delivers it to its own sockets
//! in that room). Its bundled `redis` driver holds one multiplexed
//! connection that never reconnects, so a Redis restart would silence a node
//! for good; [`ManagedDriver`] is the same driver over redis-rs's
//! `ConnectionManager`, which reconnects and subscribes again by itself.
//!
//! [`run`] is the node's heartbeat loop ([`crate::store::redis`]): it keeps
//! `/healthz` and `/metrics` told whether Redis answers, reports the members
//! of dead nodes left (`user_left` to their rooms, within
//! [`NODE_TTL`](crate::store::redis::NODE_TTL) + [`BEAT`] of the death), and
//! writes this node's members back when Redis comes back empty.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, PushInfo, PushKind, Value};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::store::redis::{BEAT, RedisStore, manager_config};

/// Whether this node reaches Redis (`/healthz`, `/metrics`).
#[derive(Debug, Default)]
pub struct Health {
    redis_down: AtomicBool,
}

impl Health {
    /// Whether the last heartbeat reached Redis.
    pub fn redis_up(&self) -> bool {
        !self.redis_down.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) -> bool {
        self.redis_down.swap(!up, Ordering::Relaxed) == up
    }
}

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The `socketioxide-redis` driver over a reconnecting `ConnectionManager`
/// (see the module documentation).
#[derive(Clone)]
pub struct ManagedDriver {
    conn: ConnectionManager,
    handlers: Handlers,
}

/// A pub/sub message pushed on the connection: `(channel, payload)`.
fn message(push: PushInfo) -> Option<ChanItem> {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return None;
    }
    let mut data = push.data.into_iter();
    let (Some(Value::BulkString(chan)), Some(Value::BulkString(payload))) =
        (data.next(), data.next())
    else {
        return None;
    };
    Some((String::from_utf8(chan).ok()?, payload))
}

impl ManagedDriver {
    /// Connects (RESP3: messages arrive as pushes); fails if Redis cannot be reached now.
    pub async fn connect(client: &redis::Client) -> Result<Self, String> {
        let handlers: Handlers = Arc::default();
        let route = handlers.clone();
        let config = manager_config()
            .set_push_sender(move |push: PushInfo| {
                if let Some((chan, payload)) = message(push) {
                    let handlers = route.read().unwrap_or_else(|e| e.into_inner());
                    if let Some(tx) = handlers.get(&chan)
                        && let Err(e) = tx.try_send((chan, payload))
                    {
                        tracing::warn!("Redis adapter message dropped: {e}");
                    }
                }
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        Ok(Self { conn, handlers })
    }
}

impl ManagedDriver {
    /// A round trip on the pub/sub connection. After Redis comes back it is
    /// what makes the connection reconnect and subscribe again (the manager
    /// retries on use, and a node that publishes nothing would otherwise stay
    /// deaf to the others).
    pub async fn ping(&self) -> Result<(), DriverError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<Value>(&mut conn).await?;
        Ok(())
    }
}

/// The driver's error: Redis's.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DriverError(#[from] redis::RedisError);

impl Driver for ManagedDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), DriverError> {
        let mut conn = self.conn.clone();
        conn.publish::<_, _, Value>(chan, val).await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, DriverError> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        self.conn.clone().subscribe(chan).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), DriverError> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, DriverError> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }
}

/// The node's heartbeat loop (runs until aborted): every [`BEAT`], checks
/// the adapter's connection (see [`ManagedDriver::ping`]), renews the
/// heartbeat, writes the members back if Redis lost them (`members` lists
/// this node's), then records whether Redis answers, and reports the members
/// of dead nodes left to their rooms.
pub async fn run<A: Adapter>(
    io: SocketIo<A>,
    driver: ManagedDriver,
    store: Arc<RedisStore>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    members: impl Fn() -> Vec<(socketioxide::socket::Sid, String)> + Send + 'static,
) {
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let beat = match driver.ping().await {
            Ok(()) => store.beat().await,
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        };
        metrics.set_redis_up(beat.is_ok());
        let beat = match beat {
            Ok(b) => b,
            Err(e) => {
                if health.set(false) {
                    tracing::error!("Redis unavailable: {e}; refusing new rooms until it returns");
                }
                continue;
            }
        };
        // Healthy only once this node's members are in Redis again.
        if beat.restore {
            let mine = members();
            if !mine.is_empty() {
                let failed = store.restore(&mine).await;
                tracing::info!(
                    members = mine.len(),
                    failed,
                    "membership written back to Redis"
                );
            }
        }
        if health.set(true) {
            tracing::info!("Redis reachable again");
        }
        for node in beat.dead {
            let reaped = match store.reap(&node).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(node = %node, "cannot reap a dead node: {e}");
                    continue;
                }
            };
            if !reaped.is_empty() {
                tracing::info!(node = %node, members = reaped.len(), "dead node's members left");
                metrics.members_reaped(reaped.len());
            }
            for r in reaped {
                crate::signaling::tell_left(&io, r.user, &r.left).await;
            }
        }
    }
}
