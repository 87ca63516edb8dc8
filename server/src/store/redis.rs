//! The rooms of many nodes, in Redis.
//!
//! Every change is one Lua script, so it is atomic across nodes: two nodes
//! admitting the eighth and ninth player at once run one after the other, and
//! the ninth is refused `full`. The scripts carry out the rules of
//! [`crate::rooms`] (the same contract tests run against both stores); time
//! is Redis's own `TIME`, one clock for every node.
//!
//! Keys (one standalone Redis: the scripts touch keys they compute, so Redis
//! Cluster is not supported):
//! - `arena:rooms` — sorted set of room codes; score `-1` while occupied,
//!   else the millisecond the empty room expires;
//! - `arena:room:{code}` — list of member socket ids, in join order;
//! - `arena:user:{sid}` — hash `{room, node}` of a member;
//! - `arena:nodes` — set of live node ids; `arena:node:{id}` — a node's
//!   heartbeat, a key with a TTL; `arena:node:{id}:users` — its members.
//!
//! A node's [`RedisStore::beat`] renews its heartbeat and names the nodes
//! whose heartbeat lapsed; [`RedisStore::reap`] takes a dead node's members
//! out of their rooms, once (the first node to claim it does it). A beat
//! that finds this node missing from `arena:nodes` (Redis restarted empty,
//! or the node was reaped while cut off) tells the caller to write its
//! members back ([`RedisStore::restore`]).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use socketioxide::socket::Sid;

use super::{RoomStore, StoreError, StoreFuture, Swept};
use crate::rooms::{Joined, Left, RoomError, RoomLimits};

/// How long a node's heartbeat lives without renewal: a node silent for this
/// long is dead, and its members are reported left.
pub const NODE_TTL: Duration = Duration::from_secs(5);

/// How often a node renews its heartbeat and looks for dead nodes. A dead
/// node's members are reported left within `NODE_TTL + BEAT` (6 s).
pub const BEAT: Duration = Duration::from_secs(1);

/// How long a "this user is in that room" answer is reused by
/// [`RoomStore::room_of`] at most (only positive answers are kept, and
/// delivery is addressed to the room, so a stale one can never reach a
/// non-member). Each user's answer lasts between half of it and all of it
/// ([`room_of_ttl`]): a room's answers, all cached at once when it started
/// relaying, would otherwise lapse at once and stall its relays together on
/// Redis round trips.
const ROOM_OF_TTL: Duration = Duration::from_secs(2);

/// How long the cached room of `user` lasts: a fixed share of
/// [`ROOM_OF_TTL`] between 1/2 and 1, drawn from the socket id.
fn room_of_ttl(user: Sid) -> Duration {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(user);
    ROOM_OF_TTL / 2 + ROOM_OF_TTL.mul_f64((h % 1024) as f64 / 2048.0)
}

/// Lua shared by the scripts: the key prefix, Redis's clock, and leaving.
const COMMON: &str = r"
local P = 'arena:'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function leave(sid, grace)
  local ukey = P .. 'user:' .. sid
  local cur = redis.call('HGET', ukey, 'room')
  if not cur then return nil end
  local node = redis.call('HGET', ukey, 'node')
  redis.call('DEL', ukey)
  if node then redis.call('SREM', P .. 'node:' .. node .. ':users', sid) end
  local rkey = P .. 'room:' .. cur
  redis.call('LREM', rkey, 0, sid)
  local rest = redis.call('LRANGE', rkey, 0, -1)
  if #rest == 0 and redis.call('ZSCORE', P .. 'rooms', cur) then
    redis.call('ZADD', P .. 'rooms', now + grace, cur)
  end
  return {cur, rest}
end
";

/// ARGV: code, max_rooms, grace_ms. Returns `ok`, `exists` or `too_many_rooms`.
const CREATE: &str = r"
local code, maxr, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', P .. 'rooms', 0, now)
if redis.call('ZSCORE', P .. 'rooms', code) then return 'exists' end
if redis.call('ZCARD', P .. 'rooms') >= maxr then return 'too_many_rooms' end
redis.call('ZADD', P .. 'rooms', now + grace, code)
return 'ok'
";

/// ARGV: code, sid, node, capacity, max_rooms, grace_ms, create (0/1).
/// Returns `{status, room left, members before, members left behind}`;
/// status `ok`, `same` (already there: members are the room's), `not_found`,
/// `full` or `too_many_rooms`.
const JOIN: &str = r"
local code, sid, node = ARGV[1], ARGV[2], ARGV[3]
local cap, maxr, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local create = ARGV[7] == '1'
local rooms = P .. 'rooms'
local rkey = P .. 'room:' .. code
local score = redis.call('ZSCORE', rooms, code)
if score and tonumber(score) >= 0 and tonumber(score) <= now then
  redis.call('ZREM', rooms, code)
  score = false
end
if redis.call('HGET', P .. 'user:' .. sid, 'room') == code then
  return {'same', '', redis.call('LRANGE', rkey, 0, -1), {}}
end
if not score then
  if not create then return {'not_found', '', {}, {}} end
  redis.call('ZREMRANGEBYSCORE', rooms, 0, now)
  if redis.call('ZCARD', rooms) >= maxr then return {'too_many_rooms', '', {}, {}} end
elseif redis.call('LLEN', rkey) >= cap then
  return {'full', '', {}, {}}
end
local left = leave(sid, grace)
local notify = redis.call('LRANGE', rkey, 0, -1)
redis.call('RPUSH', rkey, sid)
redis.call('ZADD', rooms, -1, code)
redis.call('HSET', P .. 'user:' .. sid, 'room', code, 'node', node)
redis.call('SADD', P .. 'node:' .. node .. ':users', sid)
if left then return {'ok', left[1], notify, left[2]} end
return {'ok', '', notify, {}}
";

/// ARGV: sid, grace_ms. Returns `{room, members left behind}` or nil.
const LEAVE: &str = r"
return leave(ARGV[1], tonumber(ARGV[2]))
";

/// Expires empty rooms. Returns `{rooms expired, rooms}`.
const SWEEP: &str = r"
local expired = redis.call('ZREMRANGEBYSCORE', P .. 'rooms', 0, now)
return {expired, redis.call('ZCARD', P .. 'rooms')}
";

/// ARGV: node, ttl_ms. Renews the heartbeat. Returns `{1 if the node was
/// missing from the live set, dead nodes}`.
const BEAT_SCRIPT: &str = r"
local node, ttl = ARGV[1], tonumber(ARGV[2])
redis.call('SET', P .. 'node:' .. node, '1', 'PX', ttl)
local added = redis.call('SADD', P .. 'nodes', node)
local dead = {}
for _, n in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
  if redis.call('EXISTS', P .. 'node:' .. n) == 0 then table.insert(dead, n) end
end
return {added, dead}
";

/// ARGV: node, grace_ms. Claims the dead node (only one claimer gets its
/// members) and takes each member out of its room. Returns
/// `{{sid, room, members left behind}, ...}`.
const REAP: &str = r"
local node, grace = ARGV[1], tonumber(ARGV[2])
if redis.call('SREM', P .. 'nodes', node) == 0 then return {} end
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', P .. 'node:' .. node .. ':users')) do
  local l = leave(sid, grace)
  if l then table.insert(out, {sid, l[1], l[2]}) end
end
redis.call('DEL', P .. 'node:' .. node .. ':users')
return out
";

/// What one heartbeat found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beat {
    /// This node was not in the live set: its members must be written back.
    pub restore: bool,
    /// Nodes whose heartbeat lapsed (to [`RedisStore::reap`]).
    pub dead: Vec<String>,
}

/// A member a reap took out of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    /// The member (a socket of the dead node).
    pub user: Sid,
    /// What its leaving means: the room and whom to send `user_left`.
    pub left: Left<Sid>,
}

/// The rooms of every node, in Redis; one per node.
pub struct RedisStore {
    conn: ConnectionManager,
    node: String,
    limits: RoomLimits,
    create: Script,
    join: Script,
    leave: Script,
    sweep: Script,
    beat: Script,
    reap: Script,
    room_of: Mutex<HashMap<Sid, (String, Instant)>>,
}

/// How a node talks to Redis: short timeouts (a dead Redis must make requests
/// fail fast, not hang), and reconnection within a second of its return.
pub fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1))
        .set_number_of_retries(1)
}

/// The Redis client of `url`, speaking RESP3 (pub/sub messages arrive as
/// pushes on the shared connection); the error says what is wrong with it.
pub fn client(url: &str) -> Result<redis::Client, String> {
    let url = if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    redis::Client::open(url).map_err(|e| format!("bad Redis URL: {e}"))
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn sids(v: Vec<String>) -> Vec<Sid> {
    v.iter().filter_map(|s| Sid::from_str(s).ok()).collect()
}

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}{body}"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisStore {
    /// Connects to Redis as node `node`. Fails if Redis cannot be reached now.
    pub async fn connect(
        client: &redis::Client,
        node: String,
        limits: RoomLimits,
    ) -> Result<Self, String> {
        let conn = ConnectionManager::new_with_config(client.clone(), manager_config())
            .await
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        Ok(Self {
            conn,
            node,
            limits,
            create: script(CREATE),
            join: script(JOIN),
            leave: script(LEAVE),
            sweep: script(SWEEP),
            beat: script(BEAT_SCRIPT),
            reap: script(REAP),
            room_of: Mutex::new(HashMap::new()),
        })
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn grace(&self) -> u64 {
        millis(self.limits.empty_grace)
    }

    fn forget(&self, user: Sid) {
        self.room_of
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user);
    }

    /// Renews this node's heartbeat; see [`Beat`].
    pub async fn beat(&self) -> Result<Beat, StoreError> {
        let mut conn = self.conn.clone();
        let (added, mut dead): (i64, Vec<String>) = self
            .beat
            .arg(&self.node)
            .arg(millis(NODE_TTL))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        dead.retain(|n| *n != self.node);
        self.room_of
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, at)| at.elapsed() < ROOM_OF_TTL);
        Ok(Beat {
            restore: added == 1,
            dead,
        })
    }

    /// Takes the members of the dead node `node` out of their rooms, if this
    /// node is the first to claim it; what each leaving means.
    pub async fn reap(&self, node: &str) -> Result<Vec<Reaped>, StoreError> {
        let mut conn = self.conn.clone();
        let out: Vec<(String, String, Vec<String>)> = self
            .reap
            .arg(node)
            .arg(self.grace())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(out
            .into_iter()
            .filter_map(|(sid, room, rest)| {
                let user = Sid::from_str(&sid).ok()?;
                self.forget(user);
                Some(Reaped {
                    user,
                    left: Left {
                        room,
                        notify: sids(rest),
                    },
                })
            })
            .collect())
    }

    /// Writes this node's members back (after Redis lost them): each is put
    /// in its room again, the room re-created if needed, nobody notified (for
    /// the players nothing changed). Returns how many could not be.
    pub async fn restore(&self, members: &[(Sid, String)]) -> usize {
        let mut failed = 0;
        for (user, room) in members {
            if let Err(e) = self.join_room(room, *user, true).await {
                tracing::warn!(sid = %user, room = %room, "cannot restore membership: {e}");
                failed += 1;
            }
        }
        failed
    }

    async fn join_room(
        &self,
        id: &str,
        user: Sid,
        create: bool,
    ) -> Result<Joined<Sid>, StoreError> {
        let mut conn = self.conn.clone();
        let (status, left_room, before, rest): (String, String, Vec<String>, Vec<String>) = self
            .join
            .arg(id)
            .arg(user.to_string())
            .arg(&self.node)
            .arg(self.limits.capacity)
            .arg(self.limits.max_rooms)
            .arg(self.grace())
            .arg(u8::from(create))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let before = sids(before);
        let joined = match status.as_str() {
            "same" => Joined {
                users: before,
                notify: Vec::new(),
                left: None,
            },
            "ok" => {
                let mut users = before.clone();
                users.push(user);
                let left = (!left_room.is_empty()).then(|| Left {
                    room: left_room,
                    notify: sids(rest),
                });
                Joined {
                    users,
                    notify: before,
                    left,
                }
            }
            "not_found" => return Err(RoomError::NotFound.into()),
            "full" => return Err(RoomError::Full.into()),
            "too_many_rooms" => return Err(RoomError::TooManyRooms.into()),
            other => {
                return Err(StoreError::Unavailable(format!(
                    "unexpected answer {other}"
                )));
            }
        };
        self.forget(user);
        Ok(joined)
    }
}

impl RoomStore for RedisStore {
    fn create<'a>(&'a self, id: &'a str, _now: Instant) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let status: String = self
                .create
                .arg(id)
                .arg(self.limits.max_rooms)
                .arg(self.grace())
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            match status.as_str() {
                "ok" => Ok(()),
                "exists" => Err(RoomError::Exists.into()),
                _ => Err(RoomError::TooManyRooms.into()),
            }
        })
    }

    fn join<'a>(
        &'a self,
        id: &'a str,
        user: Sid,
        create: bool,
        _now: Instant,
    ) -> StoreFuture<'a, Joined<Sid>> {
        Box::pin(self.join_room(id, user, create))
    }

    fn leave(&self, user: Sid, _now: Instant) -> StoreFuture<'_, Option<Left<Sid>>> {
        Box::pin(async move {
            self.forget(user);
            let mut conn = self.conn.clone();
            let left: Option<(String, Vec<String>)> = self
                .leave
                .arg(user.to_string())
                .arg(self.grace())
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(left.map(|(room, rest)| Left {
                room,
                notify: sids(rest),
            }))
        })
    }

    fn room_of(&self, user: Sid) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move {
            let cached = {
                let cache = self.room_of.lock().unwrap_or_else(|e| e.into_inner());
                cache
                    .get(&user)
                    .filter(|(_, at)| at.elapsed() < room_of_ttl(user))
                    .map(|(room, _)| room.clone())
            };
            if cached.is_some() {
                return Ok(cached);
            }
            let mut conn = self.conn.clone();
            let room: Option<String> = conn
                .hget(format!("arena:user:{user}"), "room")
                .await
                .map_err(unavailable)?;
            if let Some(r) = &room {
                self.room_of
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(user, (r.clone(), Instant::now()));
            }
            Ok(room)
        })
    }

    fn members<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Vec<Sid>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let members: Vec<String> = conn
                .lrange(format!("arena:room:{id}"), 0, -1)
                .await
                .map_err(unavailable)?;
            Ok(sids(members))
        })
    }

    fn count(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            conn.zcard("arena:rooms").await.map_err(unavailable)
        })
    }

    fn sweep(&self, _now: Instant) -> StoreFuture<'_, Swept> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let (expired, rooms): (i64, i64) = self
                .sweep
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(Swept {
                expired: usize::try_from(expired).unwrap_or(0),
                rooms: usize::try_from(rooms).unwrap_or(0),
            })
        })
    }
}
