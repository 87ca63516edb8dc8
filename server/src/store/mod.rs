//! Where the rooms live: the [`RoomStore`] the handlers talk to, in memory
//! (one node, [`MemoryStore`]) or in Redis (many nodes, [`redis::RedisStore`]).
//!
//! The rules are [`crate::rooms`]'s: the memory store *is* that pure registry
//! behind a lock, and the Redis store carries the same rules out atomically
//! in Lua scripts, so that two nodes admitting at once cannot seat a ninth
//! player. One contract — join order, idempotent re-join, capacity, moving
//! rooms, empty-room grace, the room limit — and one test suite
//! (`server/tests/store.rs`) runs against both.
//!
//! The trait returns boxed futures so the handlers hold one
//! `Arc<dyn RoomStore>` whichever store the server was started with.

pub mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use socketioxide::socket::Sid;

use crate::rooms::{Joined, Left, RoomError, RoomLimits, RoomRegistry};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The rules refused it (not found, full, code taken, too many rooms).
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The store cannot be reached (Redis down); nothing was changed that the
    /// caller must undo.
    #[error("the room store is unavailable: {0}")]
    Unavailable(String),
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Empty rooms that expired.
    pub expired: usize,
    /// Rooms left (occupied or within their grace period), on every node.
    pub rooms: usize,
}

/// The future every store operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The room registry as the handlers see it. Users are socket ids, unique
/// across nodes; `now` is only read by the memory store (Redis uses its own
/// clock, one for every node).
pub trait RoomStore: Send + Sync {
    /// Creates the empty room `id` ([`RoomRegistry::create`]).
    fn create<'a>(&'a self, id: &'a str, now: Instant) -> StoreFuture<'a, ()>;
    /// Puts `user` in room `id`, creating it when `create`
    /// ([`RoomRegistry::join`], [`RoomRegistry::join_or_create`]).
    fn join<'a>(
        &'a self,
        id: &'a str,
        user: Sid,
        create: bool,
        now: Instant,
    ) -> StoreFuture<'a, Joined<Sid>>;
    /// Takes `user` out of their room ([`RoomRegistry::leave`]).
    fn leave(&self, user: Sid, now: Instant) -> StoreFuture<'_, Option<Left<Sid>>>;
    /// The room `user` is in, wherever they are connected.
    fn room_of(&self, user: Sid) -> StoreFuture<'_, Option<String>>;
    /// The members of room `id`, in join order (empty for no room).
    fn members<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Sid>>;
    /// Rooms (occupied or within their grace period), on every node.
    fn count(&self) -> StoreFuture<'_, usize>;
    /// Expires empty rooms past their grace period.
    fn sweep(&self, now: Instant) -> StoreFuture<'_, Swept>;
}

/// One node's rooms, in memory: the pure [`RoomRegistry`] behind a lock.
#[derive(Debug)]
pub struct MemoryStore {
    rooms: Mutex<RoomRegistry<Sid>>,
}

impl MemoryStore {
    /// An empty store with these limits.
    pub fn new(limits: RoomLimits) -> Self {
        Self {
            rooms: Mutex::new(RoomRegistry::new(limits)),
        }
    }

    fn rooms(&self) -> MutexGuard<'_, RoomRegistry<Sid>> {
        // A panic while holding the lock cannot leave the registry half-updated
        // in a way that matters more than losing the server: keep serving.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A store answer that is ready at once.
fn ready<'a, T: Send + 'a>(v: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

impl RoomStore for MemoryStore {
    fn create<'a>(&'a self, id: &'a str, now: Instant) -> StoreFuture<'a, ()> {
        ready(self.rooms().create(id, now).map_err(StoreError::from))
    }

    fn join<'a>(
        &'a self,
        id: &'a str,
        user: Sid,
        create: bool,
        now: Instant,
    ) -> StoreFuture<'a, Joined<Sid>> {
        let mut rooms = self.rooms();
        let joined = if create {
            rooms.join_or_create(id, user, now)
        } else {
            rooms.join(id, user, now)
        };
        ready(joined.map_err(StoreError::from))
    }

    fn leave(&self, user: Sid, now: Instant) -> StoreFuture<'_, Option<Left<Sid>>> {
        ready(Ok(self.rooms().leave(user, now)))
    }

    fn room_of(&self, user: Sid) -> StoreFuture<'_, Option<String>> {
        ready(Ok(self.rooms().room_of(user).map(str::to_owned)))
    }

    fn members<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Sid>> {
        ready(Ok(self
            .rooms()
            .members(id)
            .map(<[Sid]>::to_vec)
            .unwrap_or_default()))
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        ready(Ok(self.rooms().room_count()))
    }

    fn sweep(&self, now: Instant) -> StoreFuture<'_, Swept> {
        let mut rooms = self.rooms();
        let expired = rooms.expire(now).len();
        ready(Ok(Swept {
            expired,
            rooms: rooms.room_count(),
        }))
    }
}
