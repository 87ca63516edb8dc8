//! `arena bot --hostile N`: a malformed and hostile peer, so that tests (and
//! anyone adopting this implementation) can check what a game does with one.
//!
//! It joins and links like any player. Each time another peer is there it
//! sends [`FORGED_VICTIMS`] reliable game events that claim another
//! player's hit or death (forged victims: the match must ignore them). A
//! game event goes to the players known when it is sent, so a peer linked
//! later gets a batch of its own. Then it sends N messages
//! per second to every peer, in two phases:
//! 1. for [`FLOOD_S`] seconds, well-formed messages only (pings), far above
//!    the per-sender rate limit;
//! 2. then garbage on both channels, states out of the arena, and stream
//!    messages addressed to players that do not exist (forged `to`), which
//!    a receiver counts and, past [`crate::net::core::BLOCK_AFTER`], blocks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::net::NetCommand;
use glam::Vec2;

use crate::proto::{self, GameEvent, Message, NetId, PlayerState};

/// Seconds of well-formed flooding before the malformed phase.
pub const FLOOD_S: f64 = 2.0;
/// Forged-victim events sent first (within the receivers' burst allowance,
/// so they arrive before the flood is rate limited).
pub const FORGED_VICTIMS: u64 = 10;

/// The hostile sender's state.
pub(super) struct Hostile {
    rate: f64,
    sent: u64,
    forged_victims: u64,
    /// How many players there were when the last batch of forged events went.
    forged_for: usize,
    me: NetId,
    rng: StdRng,
}

impl Hostile {
    /// `rate` messages per second; `me` is the bot's own id.
    pub(super) fn new(rate: u32, seed: u64, me: NetId) -> Hostile {
        Hostile {
            rate: f64::from(rate),
            sent: 0,
            forged_victims: 0,
            forged_for: 0,
            me,
            rng: StdRng::seed_from_u64(seed ^ 0x0405_7113),
        }
    }

    /// What is due `elapsed` seconds after the first peer appeared (at most a
    /// tenth of a second's worth at once, so a stall does not become a burst
    /// of its own). `victims` are the players in the room.
    pub(super) fn due(&mut self, elapsed: f64, victims: &[NetId]) -> Vec<NetCommand> {
        let target = (elapsed * self.rate) as u64;
        let n = target
            .saturating_sub(self.sent)
            .min((self.rate / 10.0) as u64 + 1);
        let mut out = Vec::with_capacity(n as usize);
        if let Some(&victim) = victims.first()
            && victims.len() > self.forged_for
        {
            self.forged_for = victims.len();
            for _ in 0..FORGED_VICTIMS {
                // Through the real reliable stream: the receiving game must
                // ignore a hit or death claimed for someone else.
                self.forged_victims += 1;
                out.push(NetCommand::SendEvent(if self.forged_victims % 2 == 0 {
                    GameEvent::Hit { victim }
                } else {
                    GameEvent::Killed {
                        victim,
                        by: self.me,
                    }
                }));
            }
        }
        for _ in 0..n {
            self.sent += 1;
            out.push(if elapsed < FLOOD_S {
                self.flood()
            } else {
                self.malformed()
            });
        }
        out
    }

    /// A well-formed ping: only the rate limit stops it.
    fn flood(&mut self) -> NetCommand {
        let ping = Message::Ping {
            nonce: self.rng.random(),
            t: 1.0,
        };
        NetCommand::SendRaw {
            bytes: proto::encode(&ping),
            reliable: false,
        }
    }

    /// Garbage, a state out of the arena, or a message for someone else.
    fn malformed(&mut self) -> NetCommand {
        let (bytes, reliable) = match self.sent % 5 {
            0 | 1 => {
                let len = self.rng.random_range(0..200);
                let garbage: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
                (garbage, self.sent % 5 == 1)
            }
            2 => {
                let state = PlayerState {
                    seq: self.sent as u16,
                    sent_at: 1.0,
                    pos: Vec2::new(1.0e9, -1.0e9),
                    vel: Vec2::new(1.0e9, 0.0),
                    aim: 0.0,
                    hp: 255,
                    alive: true,
                    spawn: 0,
                    kills: u16::MAX,
                    deaths: 0,
                };
                (proto::encode(&Message::State(state)), false)
            }
            3 => {
                let forged = Message::Event {
                    to: self.rng.random(),
                    seq: 1,
                    event: GameEvent::Chat("not for you".into()),
                };
                (proto::encode(&forged), true)
            }
            _ => {
                let forged = Message::Ack {
                    to: self.rng.random(),
                    session: self.rng.random(),
                    upto: u32::MAX,
                };
                (proto::encode(&forged), true)
            }
        };
        NetCommand::SendRaw { bytes, reliable }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::proto::Bounds;

    fn bytes(c: &NetCommand) -> Option<&[u8]> {
        match c {
            NetCommand::SendRaw { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    #[test]
    fn floods_well_formed_then_sends_only_what_a_peer_must_refuse() {
        let bounds = Bounds::new(Vec2::ZERO, Vec2::new(1600.0, 900.0));
        let me = 7;
        let mut h = Hostile::new(1000, 1, me);
        // Phase 1: 1.0 s at 1,000/s, in steps of 10 ms.
        let mut flood = Vec::new();
        for i in 1..=100 {
            flood.extend(h.due(f64::from(i) * 0.01, &[42]));
        }
        let forged_victims = flood
            .iter()
            .take_while(|c| matches!(c, NetCommand::SendEvent(_)))
            .count();
        assert_eq!(forged_victims as u64, FORGED_VICTIMS);
        assert_eq!(flood.len() as u64, 1000 + FORGED_VICTIMS);
        for c in flood.iter().filter_map(bytes) {
            assert!(proto::decode(c, &bounds).is_ok());
        }
        // A second peer appears: a batch for it too (events reach only
        // the players known when they are sent).
        let more = h.due(1.005, &[42, 43]);
        let batch = more
            .iter()
            .filter(|c| matches!(c, NetCommand::SendEvent(_)))
            .count();
        assert_eq!(batch as u64, FORGED_VICTIMS);
        assert!(
            h.due(1.01, &[42, 43])
                .iter()
                .all(|c| !matches!(c, NetCommand::SendEvent(_)))
        );
        // Phase 2: every raw message is refused or addressed to someone else.
        let bad = h.due(FLOOD_S + 0.5, &[42]);
        assert!(bad.len() > 50);
        for c in bad.iter().filter_map(bytes) {
            match proto::decode(c, &bounds) {
                Err(_) => {}
                Ok(Message::Event { to, .. } | Message::Ack { to, .. }) => {
                    assert!(to != me && to != 42);
                }
                Ok(other) => panic!("a hostile message was valid: {other:?}"),
            }
        }
    }
}
