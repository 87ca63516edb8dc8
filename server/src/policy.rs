//! Room policy: which `join_room` and `create_room` requests are tried, and
//! what each refusal tells the client.
//!
//! It owns the rules around the registry of [`crate::rooms`]: room ids (codes
//! on a full server, any short id on a core-only one), `rejoin`, what a
//! registry failure becomes on the wire (capacity, too many rooms), the
//! room-creation token, and the failed-join budgets that make room codes
//! impractical to guess (per connection and per client IP). Every decision is
//! a function that returns it; the Socket.IO handlers only apply it. Pure like
//! the registry: no sockets, no clock reads (time is an argument), no metrics.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::limits::Bucket;
use crate::protocol::{ErrorCode, JoinRoom, normalize_code};
use crate::rooms::RoomError;

/// Longest room id accepted in core-only mode.
pub(crate) const MAX_CORE_ROOM_ID: usize = 128;

/// Attempts at drawing an unused room code before `create_room` gives up.
pub(crate) const CREATE_ATTEMPTS: usize = 8;

/// A refused request: the error code and message the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The `error` of the ack or `arena_error`.
    pub code: ErrorCode,
    /// The human-readable `message`.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The refusal of a node that cannot reach its room store (Redis).
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "the server cannot reach its room database; retry in a few seconds",
        )
    }

    /// The refusal of a server that holds its maximum number of rooms.
    pub fn too_many_rooms() -> Self {
        Self::new(
            ErrorCode::RateLimited,
            "the server has too many rooms, try later",
        )
    }
}

/// Where a `join_room` goes once the policy lets it through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinPlan {
    /// The room id in the registry (a normalized code on a full server).
    pub room: String,
    /// Create the room if it does not exist (core-only mode, or `rejoin`).
    pub create: bool,
}

/// The join rules of one server and its failed-join budgets. `K` is the
/// connection id (a socket id in the server, anything small in tests).
#[derive(Debug)]
pub(crate) struct JoinPolicy<K> {
    core_only: bool,
    capacity: usize,
    per_conn: u32,
    per_ip: u32,
    conns: HashMap<K, Bucket>,
    ips: HashMap<IpAddr, Bucket>,
}

impl<K: Copy + Eq + Hash> JoinPolicy<K> {
    /// The policy `config` describes, with every budget full.
    pub fn new(config: &Config) -> Self {
        Self {
            core_only: config.core_only,
            capacity: config.rooms.capacity,
            per_conn: config.limits.failed_joins_per_minute,
            per_ip: config.limits.failed_joins_per_hour_per_ip,
            conns: HashMap::new(),
            ips: HashMap::new(),
        }
    }

    /// Decides whether `req` from connection `who` (at `ip`) is tried, and on
    /// which room. On a full server a spent failed-join budget refuses even a
    /// valid code, and a malformed code spends the budget.
    pub fn plan(
        &mut self,
        who: K,
        ip: Option<IpAddr>,
        req: &JoinRoom,
        now: Instant,
    ) -> Result<JoinPlan, Refusal> {
        if self.core_only {
            let id = &req.room_id;
            if id.is_empty() || id.len() > MAX_CORE_ROOM_ID {
                return Err(Refusal::new(
                    ErrorCode::BadRequest,
                    format!("roomId must be 1 to {MAX_CORE_ROOM_ID} bytes"),
                ));
            }
            return Ok(JoinPlan {
                room: id.clone(),
                create: true,
            });
        }
        if let Some(wait) = self.wait(who, ip, now) {
            let secs = wait.as_secs().max(1);
            return Err(Refusal::new(
                ErrorCode::RateLimited,
                format!("too many failed joins, retry in {secs} s"),
            ));
        }
        match normalize_code(&req.room_id) {
            Ok(code) => Ok(JoinPlan {
                room: code.to_string(),
                create: req.rejoin,
            }),
            Err(e) => Err(self.charged(who, ip, now, ErrorCode::BadCode, e.to_string())),
        }
    }

    /// What the client is told when the registry refuses a planned join; a
    /// room that does not exist spends the failed-join budget.
    pub fn refused(&mut self, who: K, ip: Option<IpAddr>, e: RoomError, now: Instant) -> Refusal {
        match e {
            RoomError::NotFound => self.charged(
                who,
                ip,
                now,
                ErrorCode::NotFound,
                "no room with that code (it may have expired)".into(),
            ),
            RoomError::Full => Refusal::new(
                ErrorCode::Full,
                format!("the room is full ({} players)", self.capacity),
            ),
            RoomError::Exists | RoomError::TooManyRooms => Refusal::too_many_rooms(),
        }
    }

    /// Forgets the budget of a connection that closed.
    pub fn forget(&mut self, who: K) {
        self.conns.remove(&who);
    }

    /// Forgets the budgets that have refilled (a full budget is the same as none).
    pub fn sweep(&mut self, now: Instant) {
        self.conns.retain(|_, b| !b.is_full(now));
        self.ips.retain(|_, b| !b.is_full(now));
    }

    /// How long `who` must wait before a join is tried, if a budget is spent.
    fn wait(&mut self, who: K, ip: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let conn = self.conns.get_mut(&who);
        let ip = ip.and_then(|ip| self.ips.get_mut(&budget_key(ip)));
        [conn, ip]
            .into_iter()
            .flatten()
            .find_map(|b| (!b.allows(now)).then(|| b.retry_after(now)))
    }

    /// Spends one token of `who`'s budget and of its IP's, and returns the refusal.
    fn charged(
        &mut self,
        who: K,
        ip: Option<IpAddr>,
        now: Instant,
        code: ErrorCode,
        message: String,
    ) -> Refusal {
        let per_conn = self.per_conn;
        self.conns
            .entry(who)
            .or_insert_with(|| Bucket::per_minute(per_conn, now))
            .charge(now);
        if let Some(ip) = ip {
            let per_ip = self.per_ip;
            self.ips
                .entry(budget_key(ip))
                .or_insert_with(|| Bucket::per_hour(per_ip, now))
                .charge(now);
        }
        Refusal::new(code, message)
    }
}

/// The address a per-IP budget is kept for: an IPv4 address as it is, an
/// IPv6 address by its /64 (one subscriber's network: a single host can
/// take any of its 2^64 addresses, so a budget per IPv6 address would not
/// bind anyone).
pub(crate) fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
    }
}

/// Whether `create_room` may create a room: with a configured token (`want`),
/// the connection must have given it at connect (`token_ok`) or in the request.
pub(crate) fn may_create(
    want: Option<&str>,
    token_ok: bool,
    token: Option<&str>,
) -> Result<(), Refusal> {
    match want {
        Some(want) if !token_ok && !token.is_some_and(|t| ct_eq(t, want)) => Err(Refusal::new(
            ErrorCode::Unauthorized,
            "creating a room needs a valid token",
        )),
        _ => Ok(()),
    }
}

/// Constant-time string comparison for tokens.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const OTHER_IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    fn policy(core_only: bool) -> (JoinPolicy<u32>, Instant) {
        let mut config = Config {
            core_only,
            ..Config::default()
        };
        config.rooms.capacity = 4;
        config.limits.failed_joins_per_minute = 3;
        config.limits.failed_joins_per_hour_per_ip = 5;
        (JoinPolicy::new(&config), Instant::now())
    }

    fn join(room_id: &str, rejoin: bool) -> JoinRoom {
        JoinRoom {
            room_id: room_id.into(),
            rejoin,
        }
    }

    #[test]
    fn codes_are_normalized_and_rejoin_creates() {
        let (mut p, t) = policy(false);
        let plan = p.plan(1, IP, &join("abcd-efgh", false), t).unwrap();
        assert_eq!(
            plan,
            JoinPlan {
                room: "ABCDEFGH".into(),
                create: false
            }
        );
        assert!(p.plan(1, IP, &join("ABCDEFGH", true), t).unwrap().create);
        let bad = p.plan(1, IP, &join("nope", false), t).unwrap_err();
        assert_eq!(bad.code, ErrorCode::BadCode);
    }

    #[test]
    fn core_only_takes_any_short_id_and_always_creates() {
        let (mut p, t) = policy(true);
        let plan = p.plan(1, IP, &join("any room", false), t).unwrap();
        assert_eq!((plan.room.as_str(), plan.create), ("any room", true));
        for id in [String::new(), "x".repeat(MAX_CORE_ROOM_ID + 1)] {
            let r = p.plan(1, IP, &join(&id, false), t).unwrap_err();
            assert_eq!(r.code, ErrorCode::BadRequest);
        }
        assert!(
            p.plan(1, IP, &join(&"x".repeat(MAX_CORE_ROOM_ID), false), t)
                .is_ok()
        );
    }

    #[test]
    fn guesses_spend_the_budget_and_then_even_a_valid_code_waits() {
        let (mut p, t) = policy(false);
        p.plan(1, IP, &join("bad", false), t).unwrap_err();
        let r = p.refused(1, IP, RoomError::NotFound, t);
        assert_eq!(r.code, ErrorCode::NotFound);
        // Full and too-many-rooms are not guesses: they spend nothing.
        assert_eq!(p.refused(1, IP, RoomError::Full, t).code, ErrorCode::Full);
        p.refused(1, IP, RoomError::TooManyRooms, t);
        assert!(p.plan(1, IP, &join("ABCDEFGH", false), t).is_ok());
        p.refused(1, IP, RoomError::NotFound, t);
        let r = p.plan(1, IP, &join("ABCDEFGH", false), t).unwrap_err();
        assert_eq!(r.code, ErrorCode::RateLimited);
        assert_eq!(r.message, "too many failed joins, retry in 20 s");
        // One token back after 20 s (3 per minute).
        assert!(
            p.plan(1, IP, &join("ABCDEFGH", false), t + Duration::from_secs(20))
                .is_ok()
        );
    }

    #[test]
    fn the_ip_budget_spans_connections() {
        let (mut p, t) = policy(false);
        for who in 1..=5 {
            p.refused(who, IP, RoomError::NotFound, t);
        }
        // A fresh connection from the same IP waits; another IP does not.
        let r = p.plan(6, IP, &join("ABCDEFGH", false), t).unwrap_err();
        assert_eq!(r.code, ErrorCode::RateLimited);
        assert!(p.plan(6, OTHER_IP, &join("ABCDEFGH", false), t).is_ok());
        assert!(p.plan(6, None, &join("ABCDEFGH", false), t).is_ok());
    }

    #[test]
    fn an_ipv6_budget_covers_its_64() {
        let (mut p, t) = policy(false);
        let v6 = |last: u16| -> Option<IpAddr> {
            Some(IpAddr::V6(std::net::Ipv6Addr::new(
                0x2001, 0xdb8, 0, 7, 0, 0, 0, last,
            )))
        };
        // Five addresses of one /64 (one host can use them all) share one budget.
        for who in 1..=5 {
            p.refused(who, v6(who as u16), RoomError::NotFound, t);
        }
        let r = p.plan(6, v6(999), &join("ABCDEFGH", false), t).unwrap_err();
        assert_eq!(r.code, ErrorCode::RateLimited);
        let next_64 = Some(IpAddr::V6(std::net::Ipv6Addr::new(
            0x2001, 0xdb8, 0, 8, 0, 0, 0, 1,
        )));
        assert!(p.plan(6, next_64, &join("ABCDEFGH", false), t).is_ok());
        assert_eq!(budget_key(IP.unwrap()), IP.unwrap());
    }

    /// The defaults keep guessing hopeless: the chance that one address hits
    /// any of 1,000 live rooms in a day stays below one in a million.
    #[test]
    fn default_budgets_make_a_day_of_guessing_hit_less_than_one_in_a_million() {
        let c = Config::default();
        let space = 32f64.powi(crate::protocol::CODE_LEN as i32);
        let per_ip = f64::from(c.limits.failed_joins_per_hour_per_ip);
        // A full bucket at the start of the day, then the hourly refill.
        let guesses_per_day = per_ip + per_ip * 24.0;
        let p = guessing_odds(1000.0, space, guesses_per_day);
        assert!(p < 1e-6, "{guesses_per_day} guesses a day: p = {p:e}");
        // The simulated bucket agrees with the formula's guess count.
        let (mut pol, t) = (JoinPolicy::<u32>::new(&c), Instant::now());
        let mut tried = 0u32;
        let mut now = t;
        while now < t + Duration::from_secs(86_400) {
            // A fresh connection each time: only the per-IP budget binds.
            if pol.plan(tried, IP, &join("ABCDEFGH", false), now).is_ok() {
                pol.refused(tried, IP, RoomError::NotFound, now);
                tried += 1;
            } else {
                now += Duration::from_secs(1);
            }
        }
        assert!(f64::from(tried) <= guesses_per_day, "{tried}");
        assert!(f64::from(tried) >= guesses_per_day - 2.0, "{tried}");
    }

    /// `1 - (1 - rooms/space)^guesses`, the chance that at least one of
    /// `guesses` distinct random codes names one of `rooms` live rooms.
    fn guessing_odds(rooms: f64, space: f64, guesses: f64) -> f64 {
        -(guesses * (-rooms / space).ln_1p()).exp_m1()
    }

    #[test]
    fn refusals_name_capacity_and_room_limits() {
        let (mut p, t) = policy(false);
        let full = p.refused(1, IP, RoomError::Full, t);
        assert_eq!(full.message, "the room is full (4 players)");
        assert_eq!(
            p.refused(1, IP, RoomError::Exists, t),
            Refusal::too_many_rooms()
        );
    }

    #[test]
    fn refilled_and_forgotten_budgets_are_dropped() {
        let (mut p, t) = policy(false);
        p.refused(1, IP, RoomError::NotFound, t);
        p.refused(2, None, RoomError::NotFound, t);
        p.forget(2);
        assert_eq!((p.conns.len(), p.ips.len()), (1, 1));
        // One token back takes 20 s per connection (3 per minute), 720 s per IP (5 per hour).
        p.sweep(t + Duration::from_secs(20));
        assert_eq!((p.conns.len(), p.ips.len()), (0, 1));
        p.sweep(t + Duration::from_secs(720));
        assert_eq!((p.conns.len(), p.ips.len()), (0, 0));
    }

    #[test]
    fn creating_needs_the_token_when_one_is_set() {
        assert!(may_create(None, false, None).is_ok());
        assert!(may_create(Some("s3cret"), true, None).is_ok());
        assert!(may_create(Some("s3cret"), false, Some("s3cret")).is_ok());
        for token in [None, Some("wrong"), Some("s3cre")] {
            let r = may_create(Some("s3cret"), false, token).unwrap_err();
            assert_eq!(r.code, ErrorCode::Unauthorized);
        }
    }
}
