//! The game simulation: arena map, players, projectiles, hits, score and the
//! match cycle, stepped at a fixed 60 Hz.
//!
//! Owns every game rule. It is pure and deterministic: **time is the tick
//! count**, randomness comes from a seeded [`rng::Rng`] stored in the
//! [`World`], and iteration is always in a fixed order (players sorted by id,
//! projectiles in creation order), so the same map, rules, seed and inputs
//! produce the same [`World::state_hash`] on every platform and run. It must
//! not touch macroquad, tokio, the file system, the clock, the OS random
//! source, or the network; the UI reads the state and feeds [`InputFrame`]s,
//! and reacts to the returned [`SimEvent`]s (sounds, effects).
//!
//! # Use
//!
//! ```
//! use arena::sim::{InputFrame, Map, Rules, Vec2, World};
//!
//! let mut world = World::new(Map::builtin(), Rules::default(), 42);
//! let me = world.add_player("me").expect("room is empty");
//! let input = InputFrame { move_dir: Vec2::X, aim: 0.0, fire: true };
//! let events = world.step(&[(me, input)]);
//! assert!(!events.is_empty()); // Joined, Fired
//! ```

mod hash;
mod map;
pub mod math;
pub mod rng;
mod world;

#[cfg(test)]
mod tests;

pub use glam::Vec2;
pub use hash::Fnv1a;
pub use map::{Map, MapError, Rect};
pub use world::World;

/// Simulation rate in ticks per second.
pub const TICK_HZ: u32 = 60;
/// Duration of one tick in seconds.
pub const DT: f32 = 1.0 / 60.0;
/// Maximum number of players in one world (player ids are `0..MAX_PLAYERS`).
pub const MAX_PLAYERS: usize = 8;
/// Collision radius of a player, in world units.
pub const PLAYER_RADIUS: f32 = 18.0;
/// Collision radius of a projectile, in world units.
pub const PROJECTILE_RADIUS: f32 = 4.0;

/// A player slot, `0..MAX_PLAYERS`.
pub type PlayerId = u8;

/// What one player wants to do during one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputFrame {
    /// Desired movement direction; each axis in `-1..=1`. The sim clamps the
    /// length to 1 and treats non-finite values as no movement.
    pub move_dir: Vec2,
    /// Aim angle in radians, `0` = +x, positive towards +y (y grows down,
    /// screen convention). Non-finite values keep the previous aim.
    pub aim: f32,
    /// Whether the trigger is held (fires whenever the cooldown allows).
    pub fire: bool,
}

/// Tunable game rules. All durations are in ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// Hit points after (re)spawning.
    pub max_hp: i32,
    /// Damage of one projectile.
    pub damage: i32,
    /// Ticks between two shots of one player.
    pub fire_cooldown_ticks: u32,
    /// Projectile speed in units per second.
    pub projectile_speed: f32,
    /// Projectile lifetime in ticks.
    pub projectile_ttl_ticks: u32,
    /// Acceleration from input, units per second².
    pub accel: f32,
    /// Velocity damping per second (`vel -= vel * friction * DT` each tick).
    pub friction: f32,
    /// Speed cap in units per second.
    pub max_speed: f32,
    /// Ticks between death and respawn.
    pub respawn_ticks: u32,
    /// Kills that win the match.
    pub kills_to_win: u32,
    /// Length of a match in ticks; [`Rules::NO_TIME_LIMIT`]: none (the
    /// match ends by kills only).
    pub time_limit_ticks: u64,
    /// Ticks between the end of a match and the automatic restart.
    pub restart_ticks: u32,
    /// Ticks after a (re)spawn during which a player takes no damage
    /// (protection ends early when the player fires).
    pub spawn_protect_ticks: u32,
}

impl Rules {
    /// A `time_limit_ticks` meaning "no match clock".
    pub const NO_TIME_LIMIT: u64 = u64::MAX;

    /// Whether matches have a clock (the HUD shows it).
    pub fn has_clock(&self) -> bool {
        self.time_limit_ticks != Self::NO_TIME_LIMIT
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_hp: 100,
            damage: 20,
            fire_cooldown_ticks: 12, // 5 shots per second
            projectile_speed: 900.0,
            projectile_ttl_ticks: 90, // 1.5 s, ~1350 units
            accel: 3000.0,
            friction: 8.0,
            max_speed: 300.0,
            respawn_ticks: 3 * TICK_HZ,
            kills_to_win: 10,
            time_limit_ticks: 5 * 60 * u64::from(TICK_HZ),
            restart_ticks: 5 * TICK_HZ,
            spawn_protect_ticks: 90, // 1.5 s
        }
    }
}

/// One player's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Player {
    /// Slot id, `0..MAX_PLAYERS`.
    pub id: PlayerId,
    /// Display name.
    pub name: String,
    /// Centre position in world units.
    pub pos: Vec2,
    /// Velocity in units per second.
    pub vel: Vec2,
    /// Aim angle in radians (see [`InputFrame::aim`]), wrapped to `-π..=π`.
    pub aim: f32,
    /// Hit points; `<= 0` only while dead.
    pub hp: i32,
    /// Whether the player is in play (false while waiting to respawn).
    pub alive: bool,
    /// Ticks until respawn while dead, 0 otherwise.
    pub respawn_in: u32,
    /// Ticks until the next shot is allowed.
    pub fire_cooldown: u32,
    /// Kills this match.
    pub kills: u32,
    /// Deaths this match.
    pub deaths: u32,
    /// Tick of the last damage taken (for hit flashes).
    pub last_hit_tick: Option<u64>,
    /// Ticks of spawn protection left (no damage while > 0).
    pub protected_for: u32,
    /// A remote player mirrored here: its owner moves, damages, scores and
    /// respawns it, and its states overwrite it; this world only draws it and
    /// stops projectiles on it (see [`World::add_puppet`]).
    pub puppet: bool,
}

/// A projectile in flight.
#[derive(Clone, Debug, PartialEq)]
pub struct Projectile {
    /// Unique per world (increasing).
    pub id: u32,
    /// Who fired it.
    pub owner: PlayerId,
    /// Centre position.
    pub pos: Vec2,
    /// Velocity in units per second.
    pub vel: Vec2,
    /// Ticks left before it expires.
    pub ttl: u32,
}

/// The match cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// The match is running.
    Playing,
    /// The match is over; nobody moves or fires until the restart.
    Ended {
        /// Most kills, `None` on a tie (or with no players).
        winner: Option<PlayerId>,
        /// Ticks until the automatic restart.
        restart_in: u32,
    },
}

/// Something that happened during a step, for sounds, effects and the net.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// A player was added (reported by the next step).
    Joined {
        /// The new player.
        id: PlayerId,
    },
    /// A player was removed (reported by the next step).
    Left {
        /// The removed player.
        id: PlayerId,
    },
    /// A shot was fired.
    Fired {
        /// The shooter.
        by: PlayerId,
        /// The muzzle position.
        pos: Vec2,
    },
    /// A projectile hit a player.
    Hit {
        /// Who was hit.
        victim: PlayerId,
        /// Who fired.
        by: PlayerId,
        /// Damage dealt (0 when spawn protection absorbed it, or on a puppet:
        /// its owner decides).
        damage: i32,
        /// Where the projectile was at impact.
        pos: Vec2,
    },
    /// A player died.
    Killed {
        /// Who died.
        victim: PlayerId,
        /// Who fired the last shot.
        by: PlayerId,
    },
    /// A dead player came back.
    Respawned {
        /// Who.
        id: PlayerId,
        /// The spawn point.
        pos: Vec2,
    },
    /// A projectile hit a wall or the border and was removed.
    WallHit {
        /// Impact point.
        pos: Vec2,
    },
    /// The match ended.
    MatchEnded {
        /// Most kills, `None` on a tie.
        winner: Option<PlayerId>,
    },
    /// A new match started (scores reset, everyone respawned).
    MatchRestarted,
}
