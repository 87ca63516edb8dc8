//! The [`World`]: all mutable game state and the fixed-step update.
//!
//! Owns players, projectiles, the match phase and timer, the world's seeded
//! random generator and the pending join/leave events. It must not read the
//! clock, do I/O or iterate anything in a non-deterministic order: players
//! are kept sorted by id, projectiles in creation order.
//!
//! # One step
//!
//! 1. report queued joins/leaves; if the match is over, count down to the
//!    restart and stop;
//! 2. respawn countdowns; timers (cooldown, spawn protection);
//! 3. movement of every live player (acceleration, friction, speed cap),
//!    moved in sub-steps no longer than half a player radius and pushed out of
//!    walls after each, so nothing tunnels;
//! 4. player–player separation (pairs in id order, each pushed half-way);
//! 5. projectiles: swept against walls, the border and players (not the
//!    owner); the earliest hit wins; damage, deaths, scores;
//! 6. new shots (they first move on the next tick, from the muzzle);
//! 7. match end by kills or timer.
//!
//! Puppets (remote players mirrored in a networked match) skip steps 2, 3
//! and 6 and take no damage in step 5: their owner's states place them.

use super::hash::Fnv1a;
use super::math;
use super::rng::Rng;
use super::{
    DT, InputFrame, MAX_PLAYERS, Map, PLAYER_RADIUS, PROJECTILE_RADIUS, Phase, Player, PlayerId,
    Projectile, Rules, SimEvent, Vec2,
};

/// Longest player displacement per collision sub-step.
const MAX_SUBSTEP: f32 = PLAYER_RADIUS * 0.5;
/// Longest name kept (bytes, cut at a char boundary).
const MAX_NAME: usize = 24;

/// A projectile's earliest contact with a player during one step.
#[derive(Clone, Copy)]
struct Contact {
    /// Where along the step's path (0 = start, 1 = end).
    t: f32,
    /// Index of the player in `World::players`.
    player: usize,
}

/// The whole simulation state. Step it with [`World::step`].
#[derive(Clone, Debug)]
pub struct World {
    /// The arena.
    pub map: Map,
    /// The rules in force.
    pub rules: Rules,
    /// Players, sorted by id.
    pub players: Vec<Player>,
    /// Projectiles in flight, in creation order.
    pub projectiles: Vec<Projectile>,
    /// Ticks stepped since creation (never reset).
    pub tick: u64,
    /// The match phase.
    pub phase: Phase,
    rng: Rng,
    next_projectile: u32,
    match_ticks: u64,
    pending: Vec<SimEvent>,
}

/// Wrap an angle to `-π..=π`.
fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    let w = (a + PI).rem_euclid(TAU) - PI;
    if w.is_finite() { w } else { 0.0 }
}

/// Make an input safe: finite, each axis in `-1..=1`, length at most 1.
fn sanitize_move(v: Vec2) -> Vec2 {
    if !v.is_finite() {
        return Vec2::ZERO;
    }
    v.clamp(Vec2::NEG_ONE, Vec2::ONE).clamp_length_max(1.0)
}

/// First `t` in `[0, 1]` at which the segment `a + t (b - a)` is within `r`
/// of `c` (`Some(0.0)` when `a` already is).
fn segment_circle(a: Vec2, b: Vec2, c: Vec2, r: f32) -> Option<f32> {
    let d = b - a;
    let f = a - c;
    let cc = f.length_squared() - r * r;
    if cc <= 0.0 {
        return Some(0.0);
    }
    let aa = d.length_squared();
    if aa < 1e-12 {
        return None;
    }
    let bb = f.dot(d);
    if bb >= 0.0 {
        return None; // moving away
    }
    let disc = bb * bb - aa * cc;
    if disc < 0.0 {
        return None;
    }
    let t = (-bb - disc.sqrt()) / aa;
    (0.0..=1.0).contains(&t).then_some(t)
}

impl World {
    /// An empty world on `map` with `rules`, its randomness seeded by `seed`.
    pub fn new(map: Map, rules: Rules, seed: u64) -> World {
        World {
            map,
            rules,
            players: Vec::with_capacity(MAX_PLAYERS),
            projectiles: Vec::new(),
            tick: 0,
            phase: Phase::Playing,
            rng: Rng::new(seed),
            next_projectile: 0,
            match_ticks: 0,
            pending: Vec::new(),
        }
    }

    /// Add a player in the lowest free slot, at the free spawn point farthest
    /// from the other live players. `None` when the world is full. The
    /// [`SimEvent::Joined`] is reported by the next [`World::step`].
    pub fn add_player(&mut self, name: &str) -> Option<PlayerId> {
        self.add_player_in(name, None, false)
    }

    /// Add a remote player's mirror: a puppet that never moves, fires, takes
    /// damage or respawns by itself. Its owner's states are written into it
    /// (position, aim, health, score); projectiles stop on it with a
    /// zero-damage [`SimEvent::Hit`], because the victim decides hits on
    /// itself. Takes slot `prefer` when free (its colour), else the lowest.
    pub fn add_puppet(&mut self, name: &str, prefer: Option<PlayerId>) -> Option<PlayerId> {
        self.add_player_in(name, prefer, true)
    }

    /// [`World::add_player`] in slot `prefer` when it is free (a chosen colour).
    pub fn add_player_preferring(&mut self, name: &str, prefer: PlayerId) -> Option<PlayerId> {
        self.add_player_in(name, Some(prefer), false)
    }

    fn add_player_in(
        &mut self,
        name: &str,
        prefer: Option<PlayerId>,
        puppet: bool,
    ) -> Option<PlayerId> {
        let free = |id: PlayerId| usize::from(id) < MAX_PLAYERS && self.player(id).is_none();
        let id = match prefer.filter(|p| free(*p)) {
            Some(p) => p,
            None => (0..MAX_PLAYERS as PlayerId).find(|id| free(*id))?,
        };
        let mut name = name.to_owned();
        if name.len() > MAX_NAME {
            let mut cut = MAX_NAME;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
        }
        let pos = self.pick_spawn(id);
        let player = Player {
            id,
            name,
            pos,
            vel: Vec2::ZERO,
            aim: 0.0,
            hp: self.rules.max_hp,
            alive: true,
            respawn_in: 0,
            fire_cooldown: 0,
            kills: 0,
            deaths: 0,
            last_hit_tick: None,
            protected_for: self.rules.spawn_protect_ticks,
            puppet,
        };
        let at = self.players.partition_point(|p| p.id < id);
        self.players.insert(at, player);
        self.pending.push(SimEvent::Joined { id });
        Some(id)
    }

    /// Remove a player and their projectiles in flight. Returns whether the
    /// player existed. [`SimEvent::Left`] is reported by the next step.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        let Some(i) = self.index_of(id) else {
            return false;
        };
        self.players.remove(i);
        self.projectiles.retain(|p| p.owner != id);
        self.pending.push(SimEvent::Left { id });
        true
    }

    /// The player in slot `id`, if any.
    pub fn player(&self, id: PlayerId) -> Option<&Player> {
        self.index_of(id).map(|i| &self.players[i])
    }

    /// Mutable access to the player in slot `id` (for tests and for
    /// applying authoritative remote state).
    pub fn player_mut(&mut self, id: PlayerId) -> Option<&mut Player> {
        self.index_of(id).map(move |i| &mut self.players[i])
    }

    fn index_of(&self, id: PlayerId) -> Option<usize> {
        self.players.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// Ticks left on the match timer (0 once it ran out; frozen while the
    /// match is over).
    pub fn ticks_left(&self) -> u64 {
        self.rules.time_limit_ticks.saturating_sub(self.match_ticks)
    }

    /// Players sorted by kills (desc), deaths (asc), then id.
    pub fn scoreboard(&self) -> Vec<&Player> {
        let mut v: Vec<&Player> = self.players.iter().collect();
        v.sort_by(|a, b| {
            b.kills
                .cmp(&a.kills)
                .then(a.deaths.cmp(&b.deaths))
                .then(a.id.cmp(&b.id))
        });
        v
    }

    /// A stable FNV-1a hash over the bit patterns of the whole state
    /// (excluding the map and rules), identical on every platform and run.
    pub fn state_hash(&self) -> u64 {
        let mut h = Fnv1a::default();
        h.u64(self.tick);
        h.u64(self.match_ticks);
        h.u64(self.rng.state());
        h.u32(self.next_projectile);
        match self.phase {
            Phase::Playing => h.bytes(&[0]),
            Phase::Ended { winner, restart_in } => {
                h.bytes(&[1, winner.map_or(0xFF, |w| w)]);
                h.u32(restart_in);
            }
        }
        h.u64(self.players.len() as u64);
        for p in &self.players {
            h.bytes(&[p.id]);
            h.str(&p.name);
            h.vec2(p.pos);
            h.vec2(p.vel);
            h.f32(p.aim);
            h.i32(p.hp);
            h.bool(p.alive);
            h.u32(p.respawn_in);
            h.u32(p.fire_cooldown);
            h.u32(p.kills);
            h.u32(p.deaths);
            h.u64(p.last_hit_tick.map_or(u64::MAX, |t| t));
            h.u32(p.protected_for);
            h.bool(p.puppet);
        }
        h.u64(self.projectiles.len() as u64);
        for p in &self.projectiles {
            h.u32(p.id);
            h.bytes(&[p.owner]);
            h.vec2(p.pos);
            h.vec2(p.vel);
            h.u32(p.ttl);
        }
        h.finish()
    }

    /// Spawn the given projectile directly (tests, benches, and replaying a
    /// remote peer's shot). Its id is assigned here and returned.
    pub fn spawn_projectile(&mut self, owner: PlayerId, pos: Vec2, vel: Vec2, ttl: u32) -> u32 {
        let id = self.next_projectile;
        self.next_projectile = self.next_projectile.wrapping_add(1);
        let pos = if pos.is_finite() { pos } else { Vec2::ZERO };
        let vel = if vel.is_finite() { vel } else { Vec2::ZERO };
        self.projectiles.push(Projectile {
            id,
            owner,
            pos,
            vel,
            ttl,
        });
        id
    }

    /// Choose a spawn point for `me`: the one farthest from every other live
    /// player (ties broken by the world's random generator).
    fn pick_spawn(&mut self, me: PlayerId) -> Vec2 {
        let others: Vec<Vec2> = self
            .players
            .iter()
            .filter(|p| p.alive && p.id != me)
            .map(|p| p.pos)
            .collect();
        self.pick_spawn_away_from(&others)
    }

    fn pick_spawn_away_from(&mut self, others: &[Vec2]) -> Vec2 {
        let n = self.map.spawns.len();
        if n == 0 {
            return self.map.size * 0.5;
        }
        // Start the scan at a random index so ties are not always the first.
        let start = self.rng.below(n as u32) as usize;
        let mut best = self.map.spawns[start];
        let mut best_d = f32::NEG_INFINITY;
        for k in 0..n {
            let s = self.map.spawns[(start + k) % n];
            let d = others
                .iter()
                .map(|o| o.distance_squared(s))
                .fold(f32::INFINITY, f32::min);
            if d > best_d {
                best_d = d;
                best = s;
            }
        }
        best
    }

    fn respawn(&mut self, i: usize, pos: Vec2) {
        let max_hp = self.rules.max_hp;
        let protect = self.rules.spawn_protect_ticks;
        let p = &mut self.players[i];
        p.pos = pos;
        p.vel = Vec2::ZERO;
        p.hp = max_hp;
        p.alive = true;
        p.respawn_in = 0;
        p.fire_cooldown = 0;
        p.protected_for = protect;
    }

    /// Advance one fixed tick. `inputs` holds at most one frame per player
    /// (later duplicates win; unknown ids are ignored); players without an
    /// input get [`InputFrame::default`]. Returns what happened, in order.
    pub fn step(&mut self, inputs: &[(PlayerId, InputFrame)]) -> Vec<SimEvent> {
        let mut events = std::mem::take(&mut self.pending);
        self.tick += 1;

        if let Phase::Ended { winner, restart_in } = self.phase {
            for p in &mut self.players {
                p.vel = Vec2::ZERO;
            }
            if restart_in <= 1 {
                self.restart(&mut events);
            } else {
                self.phase = Phase::Ended {
                    winner,
                    restart_in: restart_in - 1,
                };
            }
            return events;
        }
        self.match_ticks += 1;

        // Inputs, indexed like `players`.
        let mut frames = [InputFrame::default(); MAX_PLAYERS];
        for (id, frame) in inputs {
            if let Some(i) = self.index_of(*id) {
                frames[i] = *frame;
            }
        }

        // Respawns and timers.
        for i in 0..self.players.len() {
            let p = &mut self.players[i];
            p.fire_cooldown = p.fire_cooldown.saturating_sub(1);
            p.protected_for = p.protected_for.saturating_sub(1);
            if !p.alive && !p.puppet {
                p.respawn_in = p.respawn_in.saturating_sub(1);
                if p.respawn_in == 0 {
                    let id = p.id;
                    let pos = self.pick_spawn(id);
                    self.respawn(i, pos);
                    events.push(SimEvent::Respawned { id, pos });
                }
            }
        }

        self.move_players(&frames);
        self.separate_players();
        self.update_projectiles(&mut events);
        self.fire(&frames, &mut events);
        self.check_match_end(&mut events);
        events
    }

    fn move_players(&mut self, frames: &[InputFrame; MAX_PLAYERS]) {
        let rules = &self.rules;
        let map = &self.map;
        for (p, f) in self.players.iter_mut().zip(frames.iter()) {
            if p.puppet {
                continue; // its owner's states place it
            }
            if f.aim.is_finite() {
                p.aim = wrap_angle(f.aim);
            }
            if !p.alive {
                continue;
            }
            let dir = sanitize_move(f.move_dir);
            let mut vel = p.vel + dir * rules.accel * DT;
            vel -= vel * (rules.friction * DT).clamp(0.0, 1.0);
            vel = vel.clamp_length_max(rules.max_speed.max(0.0));
            if !vel.is_finite() || vel.length_squared() < 1e-6 {
                vel = Vec2::ZERO;
            }
            let delta = vel * DT;
            let steps = (delta.length() / MAX_SUBSTEP).ceil().clamp(1.0, 64.0) as u32;
            let sub = delta / steps as f32;
            let mut pos = p.pos;
            for _ in 0..steps {
                pos += sub;
                let n = map.resolve_circle(&mut pos, PLAYER_RADIUS);
                if n != Vec2::ZERO {
                    // Slide along walls: drop the velocity into the wall.
                    let n = n.normalize_or_zero();
                    let vn = vel.dot(n);
                    if vn < 0.0 {
                        vel -= n * vn;
                    }
                }
            }
            p.pos = pos;
            p.vel = vel;
        }
    }

    fn separate_players(&mut self) {
        let min_d = PLAYER_RADIUS * 2.0;
        for _ in 0..3 {
            let mut moved = false;
            for i in 0..self.players.len() {
                for j in i + 1..self.players.len() {
                    let (a, b) = (&self.players[i], &self.players[j]);
                    if !a.alive || !b.alive {
                        continue;
                    }
                    let d = b.pos - a.pos;
                    let dist = d.length();
                    if dist >= min_d {
                        continue;
                    }
                    // Exactly on top of each other: a fixed direction from the ids.
                    let n = if dist > 1e-4 {
                        d / dist
                    } else {
                        math::dir(f32::from(a.id) * 0.7 + f32::from(b.id) * 1.3)
                    };
                    // A puppet is placed by its owner: the other player
                    // takes the whole push; two puppets are left alone.
                    let (share_a, share_b) = match (a.puppet, b.puppet) {
                        (false, false) => (0.5, 0.5),
                        (true, false) => (0.0, 1.0),
                        (false, true) => (1.0, 0.0),
                        (true, true) => continue,
                    };
                    let overlap = min_d - dist;
                    let mut pa = self.players[i].pos - n * (overlap * share_a);
                    let mut pb = self.players[j].pos + n * (overlap * share_b);
                    self.map.resolve_circle(&mut pa, PLAYER_RADIUS);
                    self.map.resolve_circle(&mut pb, PLAYER_RADIUS);
                    self.players[i].pos = pa;
                    self.players[j].pos = pb;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn update_projectiles(&mut self, events: &mut Vec<SimEvent>) {
        let bounds_min = Vec2::splat(PROJECTILE_RADIUS);
        let bounds_max = self.map.size - Vec2::splat(PROJECTILE_RADIUS);
        let mut k = 0;
        while k < self.projectiles.len() {
            let proj = &self.projectiles[k];
            let a = proj.pos;
            let b = a + proj.vel * DT;
            let owner = proj.owner;

            // Earliest wall or border contact.
            let mut wall_t = self.map.sweep(a, b, PROJECTILE_RADIUS);
            if !(b.cmpge(bounds_min).all() && b.cmple(bounds_max).all()) {
                let d = b - a;
                let mut t_exit = 1.0f32;
                for axis in 0..2 {
                    if d[axis] > 0.0 {
                        t_exit = t_exit.min((bounds_max[axis] - a[axis]) / d[axis]);
                    } else if d[axis] < 0.0 {
                        t_exit = t_exit.min((bounds_min[axis] - a[axis]) / d[axis]);
                    }
                }
                let t_exit = t_exit.clamp(0.0, 1.0);
                wall_t = Some(wall_t.map_or(t_exit, |t| t.min(t_exit)));
            }

            // Earliest player contact (not the owner).
            let mut hit: Option<Contact> = None;
            for (i, p) in self.players.iter().enumerate() {
                if !p.alive || p.id == owner {
                    continue;
                }
                if let Some(t) = segment_circle(a, b, p.pos, PLAYER_RADIUS + PROJECTILE_RADIUS) {
                    if hit.is_none_or(|h| t < h.t) {
                        hit = Some(Contact { t, player: i });
                    }
                }
            }

            match (hit, wall_t) {
                (Some(Contact { t, player }), w) if w.is_none_or(|wt| t <= wt) => {
                    let pos = a.lerp(b, t);
                    self.projectiles.remove(k);
                    self.apply_hit(player, owner, pos, events);
                }
                (_, Some(t)) => {
                    let pos = a.lerp(b, t);
                    self.projectiles.remove(k);
                    events.push(SimEvent::WallHit { pos });
                }
                _ => {
                    let proj = &mut self.projectiles[k];
                    proj.pos = b;
                    proj.ttl = proj.ttl.saturating_sub(1);
                    if proj.ttl == 0 {
                        self.projectiles.remove(k);
                    } else {
                        k += 1;
                    }
                }
            }
        }
    }

    fn apply_hit(&mut self, i: usize, by: PlayerId, pos: Vec2, events: &mut Vec<SimEvent>) {
        let tick = self.tick;
        let respawn_ticks = self.rules.respawn_ticks.max(1);
        let victim = &mut self.players[i];
        let damage = if victim.protected_for > 0 || victim.puppet {
            0
        } else {
            self.rules.damage
        };
        let vid = victim.id;
        events.push(SimEvent::Hit {
            victim: vid,
            by,
            damage,
            pos,
        });
        if damage == 0 {
            return;
        }
        victim.hp -= damage;
        victim.last_hit_tick = Some(tick);
        if victim.hp > 0 {
            return;
        }
        victim.alive = false;
        victim.vel = Vec2::ZERO;
        victim.respawn_in = respawn_ticks;
        victim.deaths += 1;
        if by != vid {
            if let Some(k) = self.index_of(by) {
                self.players[k].kills += 1;
            }
        }
        events.push(SimEvent::Killed { victim: vid, by });
    }

    fn fire(&mut self, frames: &[InputFrame; MAX_PLAYERS], events: &mut Vec<SimEvent>) {
        let muzzle_d = PLAYER_RADIUS + PROJECTILE_RADIUS + 1.0;
        for (i, frame) in frames.iter().enumerate().take(self.players.len()) {
            let p = &self.players[i];
            if !frame.fire || !p.alive || p.puppet || p.fire_cooldown > 0 {
                continue;
            }
            let (by, origin, dir) = (p.id, p.pos, math::dir(p.aim));
            let muzzle = origin + dir * muzzle_d;
            let cooldown = self.rules.fire_cooldown_ticks;
            let p = &mut self.players[i];
            p.fire_cooldown = cooldown;
            p.protected_for = 0; // shooting ends spawn protection
            events.push(SimEvent::Fired { by, pos: muzzle });
            // Muzzle inside a wall or outside the border: the shot hits it at once.
            let inside = muzzle.cmpge(Vec2::splat(PROJECTILE_RADIUS)).all()
                && muzzle
                    .cmple(self.map.size - Vec2::splat(PROJECTILE_RADIUS))
                    .all();
            if let Some(t) = self.map.sweep(origin, muzzle, PROJECTILE_RADIUS) {
                events.push(SimEvent::WallHit {
                    pos: origin.lerp(muzzle, t),
                });
                continue;
            }
            if !inside {
                events.push(SimEvent::WallHit { pos: muzzle });
                continue;
            }
            let vel = dir * self.rules.projectile_speed;
            let ttl = self.rules.projectile_ttl_ticks.max(1);
            self.spawn_projectile(by, muzzle, vel, ttl);
        }
    }

    fn winner(&self) -> Option<PlayerId> {
        let best = self.players.iter().map(|p| p.kills).max()?;
        let mut top = self.players.iter().filter(|p| p.kills == best);
        let first = top.next()?;
        if top.next().is_some() {
            None
        } else {
            Some(first.id)
        }
    }

    fn check_match_end(&mut self, events: &mut Vec<SimEvent>) {
        let by_kills = self
            .players
            .iter()
            .any(|p| p.kills >= self.rules.kills_to_win.max(1));
        if !by_kills && self.ticks_left() > 0 {
            return;
        }
        let winner = self.winner();
        self.phase = Phase::Ended {
            winner,
            restart_in: self.rules.restart_ticks.max(1),
        };
        self.projectiles.clear();
        for p in &mut self.players {
            p.vel = Vec2::ZERO;
        }
        events.push(SimEvent::MatchEnded { winner });
    }

    fn restart(&mut self, events: &mut Vec<SimEvent>) {
        self.phase = Phase::Playing;
        self.match_ticks = 0;
        self.projectiles.clear();
        events.push(SimEvent::MatchRestarted);
        let mut placed: Vec<Vec2> = Vec::with_capacity(self.players.len());
        for i in 0..self.players.len() {
            let pos = self.pick_spawn_away_from(&placed);
            placed.push(pos);
            self.respawn(i, pos);
            let p = &mut self.players[i];
            p.kills = 0;
            p.deaths = 0;
            p.last_hit_tick = None;
            events.push(SimEvent::Respawned { id: p.id, pos });
        }
    }
}
