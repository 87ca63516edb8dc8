//! Two (or more) matches wired back to back without a network: what one
//! sends is handed to the others as the net thread would, on one clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::sim::{DT, PLAYER_RADIUS};
use glam::Vec2;

struct Peers {
    matches: Vec<OnlineMatch>,
    now: f64,
    /// Every command each peer sent, in order.
    sent: Vec<Vec<NetCommand>>,
}

fn id(i: usize) -> NetId {
    0x1000 + i as NetId
}

impl Peers {
    fn new(n: usize) -> Peers {
        let matches = (0..n)
            .map(|i| {
                OnlineMatch::new(
                    Map::open(Vec2::new(1200.0, 800.0)),
                    i as u64,
                    &format!("p{i}"),
                    i as u8,
                    id(i),
                    SyncConfig::default(),
                )
            })
            .collect();
        let mut p = Peers {
            matches,
            now: 0.0,
            sent: vec![Vec::new(); n],
        };
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let ev = NetEvent::PeerJoined {
                        peer: id(j),
                        name: format!("p{j}"),
                        color: j as u8,
                    };
                    p.matches[i].handle(&ev, 0.0);
                }
            }
        }
        p
    }

    /// One tick of every peer with these inputs, then delivery of all it sent.
    fn tick(&mut self, inputs: &[InputFrame]) -> Vec<Vec<SimEvent>> {
        self.now += f64::from(DT);
        let now = self.now;
        let mut all = Vec::new();
        let mut outs = Vec::new();
        for (i, m) in self.matches.iter_mut().enumerate() {
            let mut out = Vec::new();
            all.push(m.step(inputs.get(i).copied().unwrap_or_default(), now, &mut out));
            outs.push(out);
        }
        for (i, out) in outs.into_iter().enumerate() {
            for cmd in &out {
                for j in 0..self.matches.len() {
                    if i == j {
                        continue;
                    }
                    let ev = match cmd {
                        NetCommand::SendState { state, .. } => NetEvent::State {
                            peer: id(i),
                            state: *state,
                            at: now,
                        },
                        NetCommand::SendEvent(e) => NetEvent::Event {
                            peer: id(i),
                            event: e.clone(),
                        },
                        _ => continue,
                    };
                    self.matches[j].handle(&ev, now);
                }
            }
            self.sent[i].extend(out);
        }
        all
    }

    fn place(&mut self, i: usize, pos: Vec2, aim: f32) {
        let m = &mut self.matches[i];
        let p = m.world.player_mut(m.local).unwrap();
        p.pos = pos;
        p.vel = Vec2::ZERO;
        p.aim = aim;
        p.protected_for = 0;
    }
}

#[test]
fn remote_players_appear_where_their_owner_is() {
    let mut p = Peers::new(2);
    p.place(1, Vec2::new(900.0, 400.0), 1.0);
    let aim = InputFrame {
        aim: 1.0,
        ..InputFrame::default()
    };
    for _ in 0..60 {
        p.tick(&[InputFrame::default(), aim]);
    }
    let a = &p.matches[0];
    let b_slot = a.remotes().next().unwrap().slot;
    assert_eq!(b_slot, 1, "its chosen colour");
    let puppet = a.world.player(b_slot).unwrap();
    assert!(puppet.puppet && puppet.alive);
    assert!(
        puppet.pos.distance(Vec2::new(900.0, 400.0)) < 1.0,
        "{}",
        puppet.pos
    );
    assert!((puppet.aim - 1.0).abs() < 0.01);
}

#[test]
fn the_victim_decides_hits_and_the_killer_is_credited() {
    let mut p = Peers::new(2);
    // Let spawn protection run out before the duel.
    for _ in 0..120 {
        p.tick(&[]);
    }
    p.place(0, Vec2::new(300.0, 400.0), 0.0);
    p.place(1, Vec2::new(600.0, 400.0), 0.0);
    let fire = InputFrame {
        aim: 0.0,
        fire: true,
        ..InputFrame::default()
    };
    let mut a_kills_seen = Vec::new();
    for _ in 0..400 {
        // b stays where a aims; a fires every cooldown.
        p.place(1, Vec2::new(600.0, 400.0), 0.0);
        let evs = p.tick(&[fire, InputFrame::default()]);
        a_kills_seen.extend(
            evs[0]
                .iter()
                .filter(|e| matches!(e, SimEvent::Killed { .. }))
                .cloned(),
        );
        if p.matches[0].world.player(p.matches[0].local).unwrap().kills > 0 {
            break;
        }
    }
    // The kill made from b's event is reported by a's next step.
    let evs = p.tick(&[]);
    a_kills_seen.extend(
        evs[0]
            .iter()
            .filter(|e| matches!(e, SimEvent::Killed { .. }))
            .cloned(),
    );
    let (a, b) = (&p.matches[0], &p.matches[1]);
    assert_eq!(
        a.world.player(a.local).unwrap().kills,
        1,
        "a counts b's Killed"
    );
    let me_b = b.world.player(b.local).unwrap();
    assert_eq!(me_b.deaths, 1);
    assert!(!me_b.alive);
    // b announced its hits and its death; a never decided damage on b itself.
    let hits = p.sent[1]
        .iter()
        .filter(|c| matches!(c, NetCommand::SendEvent(GameEvent::Hit { victim, .. }) if *victim == id(1)))
        .count();
    assert_eq!(hits, 5, "100 hp / 20 damage");
    assert!(p.sent[0].iter().all(|c| !matches!(
        c,
        NetCommand::SendEvent(GameEvent::Hit { .. } | GameEvent::Killed { .. })
    )));
    assert!(p.sent[1].iter().any(|c| matches!(
        c,
        NetCommand::SendEvent(GameEvent::Killed { victim, by }) if *victim == id(1) && *by == id(0)
    )));
    // a's feed shows the kill (made from b's event).
    assert_eq!(a_kills_seen, vec![SimEvent::Killed { victim: 1, by: 0 }]);
    // After b's states catch up, a shows b dead with one death.
    for _ in 0..20 {
        p.tick(&[]);
    }
    let a = &p.matches[0];
    let puppet = a.world.player(1).unwrap();
    assert!(!puppet.alive);
    assert_eq!(puppet.deaths, 1);
}

/// One tick of peer a alone, after b's next state (`state`, renumbered and
/// restamped) reached it; b's own match is not stepped.
fn feed_a(p: &mut Peers, state: &mut PlayerState) {
    state.seq = state.seq.wrapping_add(1);
    p.now += f64::from(DT);
    state.sent_at = p.now;
    let ev = NetEvent::State {
        peer: id(1),
        state: *state,
        at: p.now,
    };
    p.matches[0].handle(&ev, p.now);
    p.matches[0].step(InputFrame::default(), p.now, &mut Vec::new());
}

#[test]
fn a_restart_hides_stale_scores_until_the_owner_restarts() {
    let mut p = Peers::new(2);
    p.tick(&[]);
    // b is one kill from winning, as far as everyone knows.
    let target = p.matches[0].world.rules.kills_to_win;
    {
        let b = &mut p.matches[1];
        let local = b.local;
        b.world.player_mut(local).unwrap().kills = target;
    }
    let mut ended = [false; 2];
    for _ in 0..30 {
        let evs = p.tick(&[]);
        for (i, e) in evs.iter().enumerate() {
            ended[i] |= e
                .iter()
                .any(|e| matches!(e, SimEvent::MatchEnded { winner: Some(1) }));
        }
    }
    assert_eq!(ended, [true, true], "both see b win");
    // Run until a restarts.
    let mut restarted = false;
    for _ in 0..1000 {
        let mut out = Vec::new();
        p.now += f64::from(DT);
        let evs = p.matches[0].step(InputFrame::default(), p.now, &mut out);
        if evs.contains(&SimEvent::MatchRestarted) {
            restarted = true;
            break;
        }
    }
    assert!(restarted);
    // b has not restarted yet: its states still carry the old score.
    let mut stale = *p.matches[0].remotes().next().unwrap().last_state().unwrap();
    assert_eq!(u32::from(stale.kills), target);
    for _ in 0..10 {
        feed_a(&mut p, &mut stale);
    }
    let a = &p.matches[0];
    assert_eq!(
        a.world.phase,
        Phase::Playing,
        "a stale score does not end the new match"
    );
    assert_eq!(
        a.world.player(1).unwrap().kills,
        0,
        "b's old score is not shown"
    );
    // b restarts, then scores: that counts again.
    for kills in [0, 1] {
        stale.kills = kills;
        feed_a(&mut p, &mut stale);
    }
    assert_eq!(p.matches[0].world.player(1).unwrap().kills, 1);
}

#[test]
fn leaving_frees_the_slot_and_a_full_arena_says_so() {
    let mut a = OnlineMatch::new(Map::builtin(), 1, "me", 0, 1, SyncConfig::default());
    for i in 0..7u64 {
        let n = a.handle(
            &NetEvent::PeerJoined {
                peer: 100 + i,
                name: format!("r{i}"),
                color: 0,
            },
            0.0,
        );
        assert_eq!(n, Some(Notice::Joined(format!("r{i}"))));
    }
    assert_eq!(a.world.players.len(), 8);
    let full = a.handle(
        &NetEvent::PeerJoined {
            peer: 200,
            name: "late".into(),
            color: 0,
        },
        0.0,
    );
    assert_eq!(full, Some(Notice::Full("late".into())));
    let left = a.handle(
        &NetEvent::PeerLeft {
            peer: 100,
            reason: LeaveReason::Left,
        },
        0.0,
    );
    assert!(matches!(left, Some(Notice::Left { .. })));
    assert_eq!(a.world.players.len(), 7);
    // A second PeerJoined of a known player (new socket) changes nothing.
    assert_eq!(
        a.handle(
            &NetEvent::PeerJoined {
                peer: 101,
                name: "r1".into(),
                color: 3
            },
            0.0
        ),
        None
    );
    assert_eq!(a.world.players.len(), 7);
}

#[test]
fn events_from_strangers_and_lies_are_ignored() {
    let mut p = Peers::new(2);
    p.tick(&[]);
    // A Killed that b sends about someone else, or one from an unknown peer.
    let lie = NetEvent::Event {
        peer: id(1),
        event: GameEvent::Killed {
            victim: id(5),
            by: id(0),
        },
    };
    let stranger = NetEvent::Event {
        peer: 999,
        event: GameEvent::Killed {
            victim: 999,
            by: id(0),
        },
    };
    p.matches[0].handle(&lie, p.now);
    p.matches[0].handle(&stranger, p.now);
    p.tick(&[]);
    let a = &p.matches[0];
    assert_eq!(a.world.player(a.local).unwrap().kills, 0);
}

#[test]
fn the_local_player_is_pushed_off_a_remote_one() {
    let mut p = Peers::new(2);
    p.place(1, Vec2::new(600.0, 400.0), 0.0);
    for _ in 0..30 {
        p.tick(&[]);
    }
    p.place(0, Vec2::new(605.0, 400.0), 0.0);
    p.tick(&[]);
    let a = &p.matches[0];
    let me = a.world.player(a.local).unwrap().pos;
    let d = me.distance(a.world.player(1).unwrap().pos);
    assert!(d >= PLAYER_RADIUS * 2.0 - 0.01, "{d}");
}
