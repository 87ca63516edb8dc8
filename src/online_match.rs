//! The networked match: one [`World`] in which the local avatar is simulated
//! from local input and every remote avatar is a puppet placed from its
//! owner's states through [`PeerSync`].
//!
//! Owns the mapping from network ids to world slots, the per-peer sync,
//! route and statistics shown by the HUD, and the game rules that need the
//! network: who decides a hit (the victim, against its own true position),
//! how kills are credited (the victim announces `Killed`, the killer counts
//! it), and how a match restart is told apart from stale scores.
//!
//! It is pure like `sim` and `sync`: time is an argument, it reads
//! [`NetEvent`]s and returns the [`NetCommand`]s to send, and never touches a
//! socket, a clock or macroquad. The window (`ui::online_screen`) and the headless
//! bot drive the same code.

use std::collections::BTreeMap;

use crate::net::{CandidateKind, LeaveReason, NetCommand, NetEvent, PeerStats, Route};
use crate::proto::{GameEvent, NetId, PlayerState};
use crate::sim::{InputFrame, MAX_PLAYERS, Map, Phase, PlayerId, Rules, SimEvent, World, math};
use crate::sync::{PeerSync, SyncConfig, SyncStats};

/// Rules of a networked match: the practice rules without the match clock,
/// which peers joining at different times could not agree on; a match ends
/// when someone reaches the kill target, which every peer sees in the states.
pub fn online_rules() -> Rules {
    Rules {
        time_limit_ticks: Rules::NO_TIME_LIMIT,
        ..Rules::default()
    }
}

/// News about the players for the person (toasts, the player panel): what
/// the match adds to the net thread's events, which know ids, not names or
/// slots. The server connection and the room are the net events themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A player joined.
    Joined(String),
    /// A player left.
    Left {
        /// Its network id.
        peer: NetId,
        /// Its name.
        name: String,
        /// Why.
        reason: LeaveReason,
        /// Its sync figures until it left (the bot's report keeps them).
        sync: Box<SyncStats>,
    },
    /// A player could not be shown: the arena is full.
    Full(String),
    /// A player's route changed.
    Route {
        /// Its name.
        name: String,
        /// The route before (`None`: first route).
        from: Option<Route>,
        /// The route now.
        to: Route,
    },
    /// A chat line.
    Chat {
        /// Who wrote it.
        name: String,
        /// What.
        text: String,
    },
}

/// How a remote player is reached, as its route badge says it: kept
/// current from route changes and pongs, between the net thread's
/// once-a-second statistics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Link {
    /// The route now (`None` until the first is known).
    pub route: Option<Route>,
    /// The local candidate type of the WebRTC pair.
    pub candidate: Option<CandidateKind>,
    /// The latest round-trip time, milliseconds.
    pub rtt_ms: Option<f64>,
}

/// A remote player as the match sees it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Its network id.
    pub net: NetId,
    /// Its slot (and colour) in the local world.
    pub slot: PlayerId,
    /// Its display name.
    pub name: String,
    /// How it is reached.
    pub link: Link,
    /// Latest statistics from the net thread (once a second).
    pub stats: Option<PeerStats>,
    /// Kilobits per second received from it, over the last statistics period.
    pub kbps_in: f64,
    /// Kilobits per second sent to it.
    pub kbps_out: f64,
    /// Snapshot synchronisation of its avatar.
    pub sync: PeerSync,
    last: Option<PlayerState>,
    /// After a local restart: scores at least this high are from the match
    /// before, until its owner restarts too.
    stale_score: Option<(u16, u16)>,
    stats_at: Option<f64>,
}

impl Remote {
    /// The latest state received.
    pub fn last_state(&self) -> Option<&PlayerState> {
        self.last.as_ref()
    }
}

/// The networked match.
#[derive(Debug, Clone)]
pub struct OnlineMatch {
    /// The world: the local player plus puppets.
    pub world: World,
    /// The local player's slot.
    pub local: PlayerId,
    /// The local player's network id.
    pub me: NetId,
    /// The room, once in it.
    pub room: Option<String>,
    /// Whether the server connection is lost (direct links may still carry the match).
    pub server_lost: bool,
    remotes: BTreeMap<NetId, Remote>,
    sync_config: SyncConfig,
    seq: u16,
    spawn: u8,
    /// Sim events made from remote events (kills, hits), reported by the next step.
    pending: Vec<SimEvent>,
}

impl OnlineMatch {
    /// A match on `map` with the local player `name` in slot `color` when free.
    pub fn new(map: Map, seed: u64, name: &str, color: u8, me: NetId, sync: SyncConfig) -> Self {
        let mut world = World::new(map, online_rules(), seed);
        let local = world
            .add_player_preferring(name, color % MAX_PLAYERS as u8)
            .unwrap_or(0);
        OnlineMatch {
            world,
            local,
            me,
            room: None,
            server_lost: false,
            remotes: BTreeMap::new(),
            sync_config: sync,
            seq: 0,
            spawn: 0,
            pending: Vec::new(),
        }
    }

    /// Remote players, by network id.
    pub fn remotes(&self) -> impl Iterator<Item = &Remote> {
        self.remotes.values()
    }

    /// The remote player with network id `net`.
    pub fn remote(&self, net: NetId) -> Option<&Remote> {
        self.remotes.get(&net)
    }

    /// The remote player in world slot `slot`.
    pub fn remote_in(&self, slot: PlayerId) -> Option<&Remote> {
        self.remotes.values().find(|r| r.slot == slot)
    }

    fn net_of(&self, slot: PlayerId) -> Option<NetId> {
        if slot == self.local {
            return Some(self.me);
        }
        self.remote_in(slot).map(|r| r.net)
    }

    fn slot_of(&self, net: NetId) -> Option<PlayerId> {
        if net == self.me {
            return Some(self.local);
        }
        self.remotes.get(&net).map(|r| r.slot)
    }

    /// Takes in one event from the net thread, received at local time `now`
    /// (seconds on the net thread's epoch). Returns news about the players, if any.
    pub fn handle(&mut self, event: &NetEvent, now: f64) -> Option<Notice> {
        match event {
            NetEvent::Connected { .. } | NetEvent::Reconnected => {
                self.server_lost = false;
                None
            }
            NetEvent::Disconnected { .. } => {
                self.server_lost = true;
                None
            }
            NetEvent::RoomJoined { code, .. } => {
                self.room = Some(code.clone());
                None
            }
            NetEvent::RoomFailed { .. }
            | NetEvent::ServerUnreachable { .. }
            | NetEvent::PeerBlocked { .. }
            | NetEvent::Error(_) => None,
            NetEvent::PeerJoined { peer, name, color } => self.on_joined(*peer, name, *color),
            NetEvent::PeerLeft { peer, reason } => {
                let r = self.remotes.remove(peer)?;
                self.world.remove_player(r.slot);
                Some(Notice::Left {
                    peer: *peer,
                    sync: Box::new(r.sync.stats()),
                    name: r.name,
                    reason: *reason,
                })
            }
            NetEvent::RouteChanged {
                peer,
                route,
                candidate,
            } => {
                let r = self.remotes.get_mut(peer)?;
                let from = r.link.route.replace(*route);
                r.link.candidate = *candidate;
                (from != Some(*route)).then(|| Notice::Route {
                    name: r.name.clone(),
                    from,
                    to: *route,
                })
            }
            NetEvent::State { peer, state, at } => {
                let r = self.remotes.get_mut(peer)?;
                r.sync.push(state.to_snapshot(), *at);
                if let Some((k, d)) = r.stale_score {
                    if state.kills < k || state.deaths < d || (state.kills, state.deaths) == (0, 0)
                    {
                        r.stale_score = None;
                    }
                }
                r.last = Some(*state);
                None
            }
            NetEvent::Event { peer, event } => self.on_game_event(*peer, event),
            NetEvent::ClockSample {
                peer,
                sent,
                remote,
                received,
            } => {
                let r = self.remotes.get_mut(peer)?;
                r.sync.on_pong(*sent, *remote, *received);
                r.link.rtt_ms = Some((received - sent) * 1000.0);
                None
            }
            NetEvent::Stats(stats) => {
                for s in stats {
                    if let Some(r) = self.remotes.get_mut(&s.peer) {
                        if let (Some(prev), Some(at)) = (&r.stats, r.stats_at) {
                            let dt = (now - at).max(1e-3);
                            let kbps = |new: u64, old: u64| {
                                new.saturating_sub(old) as f64 * 8.0 / 1000.0 / dt
                            };
                            r.kbps_in = kbps(s.bytes_in, prev.bytes_in);
                            r.kbps_out = kbps(s.bytes_out, prev.bytes_out);
                        }
                        if r.link.route.is_none() {
                            r.link.route = s.route;
                            r.link.candidate = s.candidate;
                        }
                        if let Some(rtt) = s.rtt_ms {
                            r.link.rtt_ms = Some(rtt);
                        }
                        r.stats = Some(s.clone());
                        r.stats_at = Some(now);
                    }
                }
                None
            }
        }
    }

    fn on_joined(&mut self, peer: NetId, name: &str, color: u8) -> Option<Notice> {
        if let Some(r) = self.remotes.get_mut(&peer) {
            // Known already (it came back on a new socket): just the name.
            r.name = name.to_owned();
            return None;
        }
        let Some(slot) = self.world.add_puppet(name, Some(color % MAX_PLAYERS as u8)) else {
            return Some(Notice::Full(name.to_owned()));
        };
        // Hidden until its first state says where it is.
        if let Some(p) = self.world.player_mut(slot) {
            p.alive = false;
        }
        self.remotes.insert(
            peer,
            Remote {
                net: peer,
                slot,
                name: name.to_owned(),
                link: Link::default(),
                stats: None,
                kbps_in: 0.0,
                kbps_out: 0.0,
                sync: PeerSync::new(self.sync_config),
                last: None,
                stale_score: None,
                stats_at: None,
            },
        );
        Some(Notice::Joined(name.to_owned()))
    }

    fn on_game_event(&mut self, peer: NetId, event: &GameEvent) -> Option<Notice> {
        let r = self.remotes.get(&peer)?;
        let (slot, name) = (r.slot, r.name.clone());
        match event {
            GameEvent::Fire { pos, aim } => {
                if self.world.phase == Phase::Playing {
                    let rules = &self.world.rules;
                    let vel = math::dir(*aim) * rules.projectile_speed;
                    let ttl = rules.projectile_ttl_ticks.max(1);
                    self.world.spawn_projectile(slot, *pos, vel, ttl);
                    self.pending.push(SimEvent::Fired {
                        by: slot,
                        pos: *pos,
                    });
                }
                None
            }
            GameEvent::Hit { victim } => {
                // Only the victim speaks for itself.
                if *victim == peer {
                    let tick = self.world.tick;
                    if let Some(p) = self.world.player_mut(slot) {
                        p.last_hit_tick = Some(tick);
                    }
                }
                None
            }
            GameEvent::Killed { victim, by } => {
                if *victim != peer {
                    return None; // a player announces only its own deaths
                }
                let killer = self.slot_of(*by).unwrap_or(slot);
                if *by == self.me && self.world.phase == Phase::Playing {
                    if let Some(me) = self.world.player_mut(self.local) {
                        me.kills += 1;
                    }
                }
                self.pending.push(SimEvent::Killed {
                    victim: slot,
                    by: killer,
                });
                None
            }
            GameEvent::Chat(text) => Some(Notice::Chat {
                name,
                text: text.clone(),
            }),
        }
    }

    /// One fixed simulation tick at local time `now`: places the puppets,
    /// steps the world with the local input, and pushes to `out` the state
    /// and the events to send. Returns what happened (for effects and sound).
    pub fn step(
        &mut self,
        input: InputFrame,
        now: f64,
        out: &mut Vec<NetCommand>,
    ) -> Vec<SimEvent> {
        self.place_puppets(now);
        let mut events = std::mem::take(&mut self.pending);
        let stepped = self.world.step(&[(self.local, input)]);
        let mut discrete = false;
        for e in &stepped {
            match *e {
                SimEvent::Fired { by, pos } if by == self.local => {
                    discrete = true;
                    let aim = self.world.player(self.local).map_or(0.0, |p| p.aim);
                    out.push(NetCommand::SendEvent(GameEvent::Fire { pos, aim }));
                }
                SimEvent::Hit { victim, damage, .. } if victim == self.local && damage > 0 => {
                    out.push(NetCommand::SendEvent(GameEvent::Hit { victim: self.me }));
                }
                SimEvent::Killed { victim, by } if victim == self.local => {
                    discrete = true;
                    let by = self.net_of(by).unwrap_or(self.me);
                    out.push(NetCommand::SendEvent(GameEvent::Killed {
                        victim: self.me,
                        by,
                    }));
                }
                SimEvent::Respawned { id, .. } if id == self.local => {
                    self.spawn = self.spawn.wrapping_add(1);
                    discrete = true;
                }
                SimEvent::MatchRestarted => {
                    for r in self.remotes.values_mut() {
                        r.stale_score = r
                            .last
                            .map(|s| (s.kills, s.deaths))
                            .filter(|score| *score != (0, 0));
                    }
                }
                _ => {}
            }
        }
        events.extend(stepped);
        if let Some(p) = self.world.player(self.local) {
            self.seq = self.seq.wrapping_add(1);
            let state = PlayerState {
                seq: self.seq,
                sent_at: now,
                pos: p.pos,
                vel: p.vel,
                aim: p.aim,
                hp: p.hp.clamp(0, 255) as u8,
                alive: p.alive,
                spawn: self.spawn,
                kills: p.kills.min(u32::from(u16::MAX)) as u16,
                deaths: p.deaths.min(u32::from(u16::MAX)) as u16,
            };
            out.push(NetCommand::SendState { state, discrete });
        }
        events
    }

    /// Writes every remote's sampled state into its puppet.
    fn place_puppets(&mut self, now: f64) {
        let tick = self.world.tick;
        for r in self.remotes.values_mut() {
            let Some(state) = r.last else {
                continue;
            };
            let Some(sample) = r.sync.sample(now) else {
                continue; // hidden until there is something to draw
            };
            let Some(p) = self.world.player_mut(r.slot) else {
                continue;
            };
            p.pos = sample.pos;
            p.vel = sample.vel;
            p.aim = sample.aim;
            // Alive once the picture has reached its respawn: the latest state
            // is ahead of the interpolated position by the playout delay.
            let alive = state.alive && sample.spawn == state.spawn;
            let hp = i32::from(state.hp);
            if hp < p.hp && alive && p.alive {
                p.last_hit_tick = Some(tick);
            }
            p.hp = hp;
            p.alive = alive;
            let (kills, deaths) = match r.stale_score {
                Some(_) => (0, 0),
                None => (state.kills, state.deaths),
            };
            p.kills = u32::from(kills);
            p.deaths = u32::from(deaths);
        }
    }
}

#[cfg(test)]
mod tests;
