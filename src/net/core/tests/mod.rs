//! [`NetCore`] sessions in simulated time: cores wired through an in-memory
//! signaling server and peer links ([`sim`]). Each test runs a whole
//! scenario — seconds to minutes of game time — in milliseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use arena_server::protocol::ErrorCode;

use super::{BLOCK_AFTER, Backlog, Input, NetCore, Output, PeerEvent, ServerEvent};
use crate::net::api::{
    LeaveReason, LinkConditions, NetCommand, NetEvent, PeerStats, RoomErrorKind,
};
use crate::net::route::{NetMode, Route};
use crate::proto::{self, GameEvent, Message};
use sim::{World, state_at};

/// Sends `count` numbered chat events from node `n`, starting at `from`.
fn say(w: &mut World, n: usize, from: usize, count: usize) {
    for k in from..from + count {
        w.command(n, NetCommand::SendEvent(GameEvent::Chat(k.to_string())));
    }
}

/// The numbered chat events node `n` received from node `m`, in order.
fn heard(w: &World, n: usize, m: usize) -> Vec<usize> {
    let id = w.nodes[m].id;
    w.nodes[n]
        .events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Event {
                peer,
                event: GameEvent::Chat(k),
            } if *peer == id => k.parse().ok(),
            _ => None,
        })
        .collect()
}

fn offers(w: &World, n: usize) -> Vec<bool> {
    w.nodes[n]
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::OpenPeer(s) => Some(s.offerer),
            _ => None,
        })
        .collect()
}

fn room_failed(w: &World, n: usize) -> Option<(RoomErrorKind, String)> {
    w.nodes[n].events.iter().find_map(|e| match e {
        NetEvent::RoomFailed { kind, message } => Some((*kind, message.clone())),
        _ => None,
    })
}

fn all(w: &World) -> Vec<usize> {
    (0..w.nodes.len()).collect()
}

// ---- joining and the mesh ---------------------------------------------------------

#[test]
fn two_players_meet_in_a_created_room_and_go_direct() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    assert!(matches!(
        w.nodes[0]
            .events
            .iter()
            .find(|e| matches!(e, NetEvent::RoomJoined { .. })),
        Some(NetEvent::RoomJoined { created: true, .. })
    ));
    assert!(matches!(
        w.nodes[1]
            .events
            .iter()
            .find(|e| matches!(e, NetEvent::RoomJoined { .. })),
        Some(NetEvent::RoomJoined { created: false, .. })
    ));
    assert_eq!(w.code(0), w.code(1));
    let joined = |n: usize| {
        w.nodes[n].events.iter().find_map(|e| match e {
            NetEvent::PeerJoined { name, color, .. } => Some((name.clone(), *color)),
            _ => None,
        })
    };
    assert_eq!(joined(0), Some(("p1".into(), 1)));
    assert_eq!(joined(1), Some(("p0".into(), 0)));
}

/// Open peer connections of node `n` (opened minus closed).
fn open_conns(w: &World, n: usize) -> usize {
    let opened = w.nodes[n]
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::OpenPeer(_)))
        .count();
    let closed = w.nodes[n]
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::ClosePeer { .. }))
        .count();
    opened - closed
}

#[test]
fn leave_room_closes_the_link_and_the_same_client_can_come_back_again_and_again() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    let code = w.code(0).unwrap();
    let (id0, id1) = (w.nodes[0].id, w.nodes[1].id);
    for cycle in 1..=3 {
        w.command(1, NetCommand::LeaveRoom);
        let gone = |w: &World| w.route(0, id1).is_none() && w.route(1, id0).is_none();
        assert!(w.run_until_true(5.0, gone), "cycle {cycle}");
        assert_eq!(
            w.count(1, |e| matches!(
                e,
                NetEvent::PeerLeft {
                    reason: LeaveReason::WeLeft,
                    ..
                }
            )),
            cycle
        );
        assert!(
            w.nodes[1]
                .outputs
                .iter()
                .any(|o| matches!(o, Output::LeaveRoom))
        );
        assert_eq!(
            (open_conns(&w, 0), open_conns(&w, 1)),
            (0, 0),
            "cycle {cycle}"
        );
        w.command(1, NetCommand::JoinRoom(code.clone()));
        let back = |w: &World| w.sees(0, &[1], Route::Direct) && w.sees(1, &[0], Route::Direct);
        assert!(w.run_until_true(10.0, back), "cycle {cycle}");
        assert_eq!(
            (open_conns(&w, 0), open_conns(&w, 1)),
            (1, 1),
            "cycle {cycle}"
        );
    }
}

#[test]
fn leave_room_before_the_join_is_answered_leaves_once_it_is() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    let code = w.code(0).unwrap();
    w.command(1, NetCommand::LeaveRoom);
    assert!(w.run_until_true(5.0, |w| w.route(0, w.nodes[1].id).is_none()));
    let joined_before = w.count(1, |e| matches!(e, NetEvent::RoomJoined { .. }));
    // Join and leave at once: the join is under way when the leave comes.
    w.command(1, NetCommand::JoinRoom(code));
    w.command(1, NetCommand::LeaveRoom);
    w.run_for(10.0);
    assert_eq!(
        w.count(1, |e| matches!(e, NetEvent::RoomJoined { .. })),
        joined_before
    );
    assert_eq!(w.route(0, w.nodes[1].id), None);
    assert_eq!((open_conns(&w, 0), open_conns(&w, 1)), (0, 0));
}

#[test]
fn five_players_form_a_full_mesh_each_met_once() {
    let mut w = World::new(5);
    assert!(w.mesh(Route::Direct));
    for n in 0..5 {
        assert_eq!(
            w.count(n, |e| matches!(e, NetEvent::PeerJoined { .. })),
            4,
            "node {n}"
        );
    }
}

#[test]
fn the_joiner_offers_and_members_answer() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    assert_eq!(
        offers(&w, 0),
        vec![false, false],
        "the creator only answers"
    );
    assert_eq!(offers(&w, 1), vec![true, false]);
    assert_eq!(
        offers(&w, 2),
        vec![true, true],
        "the last joiner offers to both"
    );
}

#[test]
fn connecting_is_relayed_in_hybrid_mode_until_the_link_opens() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    let routes: Vec<Route> = w.nodes[1]
        .events
        .iter()
        .filter_map(|e| match e {
            NetEvent::RouteChanged { route, .. } => Some(*route),
            _ => None,
        })
        .collect();
    assert_eq!(routes.last(), Some(&Route::Direct));
    assert!(
        w.nodes[1]
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Relay { .. })),
        "the Hello went through the server before the link opened"
    );
}

#[test]
fn states_reach_every_peer_renumbered_per_link() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    for k in 0..20 {
        w.command(
            0,
            NetCommand::SendState {
                state: state_at(100.0 + k as f32),
                discrete: true,
            },
        );
        w.run_for(0.05);
    }
    for n in [1, 2] {
        let seqs: Vec<u16> = w.nodes[n]
            .events
            .iter()
            .filter_map(|e| match e {
                NetEvent::State { state, .. } => Some(state.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, (1..=20).collect::<Vec<u16>>(), "node {n}");
    }
    w.run_for(1.1);
    let stats = w.stats(1, w.nodes[0].id).expect("stats");
    assert_eq!(stats.states_in, 20);
    assert_eq!(stats.state_loss, 0.0);
    assert!(
        stats.rtt_ms.is_some_and(|r| (20.0..30.0).contains(&r)),
        "{:?}",
        stats.rtt_ms
    );
}

// ---- offer collisions ----------------------------------------------------------

#[test]
fn an_offer_collision_is_won_by_the_smaller_socket_id() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    // Both links fail at the same instant, so both retry (offer) at once.
    w.cut_direct(0, 1, 0.0);
    w.run_for(0.5);
    w.cut.clear();
    let before = (offers(&w, 0).len(), offers(&w, 1).len());
    assert!(w.run_until_true(10.0, |w| w.sees(0, &[1], Route::Direct)
        && w.sees(1, &[0], Route::Direct)));
    let (small, large) = if w.nodes[0].sid < w.nodes[1].sid {
        (0, 1)
    } else {
        (1, 0)
    };
    let new = |n: usize, from: usize| offers(&w, n)[from..].to_vec();
    assert_eq!(
        new(small, [before.0, before.1][small]),
        vec![true],
        "the smaller id keeps its offer"
    );
    assert_eq!(
        new(large, [before.0, before.1][large]),
        vec![true, false],
        "the larger id offered too, then yielded and answered"
    );
}

// ---- core-only servers ---------------------------------------------------------

#[test]
fn on_a_core_only_server_the_probe_finds_our_id_and_the_mesh_forms() {
    let mut w = World::new(3);
    w.server.core_only = true;
    assert!(w.mesh(Route::Direct));
    assert_eq!(
        w.count(0, |e| matches!(e, NetEvent::Connected { core_only: true })),
        1
    );
    let probes = w.nodes[2]
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Signal { signal, .. } if signal.to_string().contains("arena-probe-")))
        .count();
    assert_eq!(
        probes, 3,
        "the last joiner probes every listed id, itself included"
    );
    assert!(
        w.code(0).is_some_and(|c| c.len() == 8),
        "the client made the code"
    );
}

/// Clients run with the same seed (bots) must still send different probes:
/// two of them probing at once would otherwise each take the other's probe
/// for their own and connect to themselves (seen in CI). Each still finds
/// its own id and no one is its own peer.
#[test]
fn same_seed_clients_send_different_probes_and_find_their_own_ids() {
    let mut w = World::with(3, |_, c| c.seed = 7);
    w.server.core_only = true;
    assert!(w.mesh(Route::Direct));
    let nonce = |n: usize| {
        w.nodes[n].outputs.iter().find_map(|o| match o {
            Output::Signal { signal, .. } => signal["candidate"]["usernameFragment"]
                .as_str()
                .filter(|u| u.starts_with("arena-probe-"))
                .map(str::to_owned),
            _ => None,
        })
    };
    let (n1, n2) = (nonce(1), nonce(2));
    assert!(n1.is_some() && n2.is_some(), "{n1:?} {n2:?}");
    assert_ne!(n1, n2, "two clients probed with the same nonce");
    for n in all(&w) {
        let me = w.nodes[n].sid.clone().unwrap_or_default();
        assert!(
            !w.nodes[n].core.peers.contains_key(&me),
            "node {n} is its own peer"
        );
    }
}

#[test]
fn without_its_probe_back_a_joiner_assumes_it_is_listed_last() {
    let mut w = World::new(3);
    w.server.core_only = true;
    w.server.signal_to_self = false;
    assert!(w.mesh(Route::Direct));
}

#[test]
fn a_core_only_server_relays_by_broadcast() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    w.server.core_only = true;
    assert!(w.mesh(Route::Relay));
    say(&mut w, 0, 0, 3);
    w.run_for(1.0);
    assert_eq!(heard(&w, 1, 0), vec![0, 1, 2]);
    assert!(
        w.nodes[0]
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Broadcast { .. }))
    );
}

#[test]
fn a_core_only_join_that_is_never_answered_fails_after_five_seconds() {
    let mut w = World::new(1);
    w.server.core_only = true;
    w.server.mute = true;
    // Any room id goes on a core-only server, once we know it is one.
    w.run_for(3.0);
    w.command(0, NetCommand::JoinRoom("some-room".into()));
    assert!(w.run_until_true(20.0, |w| room_failed(w, 0).is_some()));
    let (kind, message) = room_failed(&w, 0).unwrap();
    assert_eq!(kind, RoomErrorKind::Unreachable);
    assert!(message.contains("did not answer"), "{message}");
}

#[test]
fn a_core_only_full_room_is_reported_from_its_arena_error() {
    let mut w = World::new(3);
    w.server.core_only = true;
    w.server.capacity = 2;
    w.run_for(3.0);
    w.command(0, NetCommand::JoinRoom("room".into()));
    w.run_for(3.0);
    w.command(1, NetCommand::JoinRoom("room".into()));
    w.run_for(3.0);
    w.command(2, NetCommand::JoinRoom("room".into()));
    assert!(w.run_until_true(5.0, |w| room_failed(w, 2).is_some()));
    assert_eq!(room_failed(&w, 2).unwrap().0, RoomErrorKind::Full);
}

// ---- failed joins ------------------------------------------------------------------

#[test]
fn a_malformed_code_fails_at_once_without_asking_the_server() {
    let mut w = World::new(1);
    w.run_for(1.0);
    w.command(0, NetCommand::JoinRoom("no!".into()));
    let (kind, message) = room_failed(&w, 0).expect("failed at once");
    assert_eq!(kind, RoomErrorKind::BadCode);
    assert!(message.contains("ABCD-EFGH"), "{message}");
    assert!(
        !w.nodes[0]
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Join(_)))
    );
}

#[test]
fn an_unknown_room_is_not_found() {
    let mut w = World::new(1);
    w.command(0, NetCommand::JoinRoom("abcd-efgh".into()));
    assert!(w.run_until_true(5.0, |w| room_failed(w, 0).is_some()));
    let (kind, message) = room_failed(&w, 0).unwrap();
    assert_eq!(kind, RoomErrorKind::NotFound);
    assert!(
        message.contains("ABCDEFGH") && message.contains("check the code"),
        "{message}"
    );
}

#[test]
fn a_full_room_is_refused() {
    let mut w = World::new(3);
    w.server.capacity = 2;
    w.command(0, NetCommand::CreateRoom);
    assert!(w.run_until_true(5.0, |w| w.code(0).is_some()));
    let code = w.code(0).unwrap();
    w.command(1, NetCommand::JoinRoom(code.clone()));
    w.command(2, NetCommand::JoinRoom(code.clone()));
    assert!(w.run_until_true(5.0, |w| room_failed(w, 1).is_some()
        || room_failed(w, 2).is_some()));
    let failed = room_failed(&w, 2).or(room_failed(&w, 1)).unwrap();
    assert_eq!(failed.0, RoomErrorKind::Full);
    assert!(failed.1.contains("is full"));
}

#[test]
fn creating_without_the_servers_token_is_unauthorized() {
    let mut w = World::with(2, |i, c| {
        if i == 1 {
            c.create_token = Some("secret".into());
        }
    });
    w.server.token = Some("secret".into());
    w.command(0, NetCommand::CreateRoom);
    w.command(1, NetCommand::CreateRoom);
    assert!(w.run_until_true(5.0, |w| room_failed(w, 0).is_some() && w.code(1).is_some()));
    assert_eq!(room_failed(&w, 0).unwrap().0, RoomErrorKind::Unauthorized);
}

#[test]
fn an_unreachable_server_fails_the_request_and_is_retried_with_backoff() {
    let mut w = World::new(1);
    w.server.up = false;
    w.command(0, NetCommand::CreateRoom);
    w.run_for(0.1);
    let (kind, message) = room_failed(&w, 0).expect("the request failed");
    assert_eq!(kind, RoomErrorKind::Unreachable);
    assert!(
        message.contains("cannot reach the signaling server at http://sim"),
        "{message}"
    );
    w.run_for(60.0);
    let connects = w.nodes[0]
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Connect))
        .count();
    // 0 s, then 1, 2, 4, 8, 10, 10, ... seconds apart: 9 attempts in 60 s.
    assert_eq!(connects, 9);
    assert_eq!(
        w.count(0, |e| matches!(e, NetEvent::ServerUnreachable { .. })),
        9
    );
    // The server comes back: the next attempt connects and a room works.
    w.server.up = true;
    w.run_for(11.0);
    w.command(0, NetCommand::CreateRoom);
    assert!(w.run_until_true(5.0, |w| w.code(0).is_some()));
}

// ---- fallback, retries, upgrade ----------------------------------------------------

#[test]
fn a_link_that_does_not_open_falls_back_to_the_relay_after_the_p2p_timeout() {
    let mut w = World::new(2);
    w.nodes[1].p2p_ok = false;
    assert!(w.mesh(Route::Relay));
    w.run_for(1.1);
    // The joiner offered, so its attempt timed out first (the other end saw it close).
    let stats = w.stats(1, w.nodes[0].id).expect("stats");
    let why = stats.p2p_failure.expect("a failure reason");
    assert!(why.starts_with("timed out"), "{why}");
    say(&mut w, 0, 0, 5);
    w.run_for(1.0);
    assert_eq!(heard(&w, 1, 0), vec![0, 1, 2, 3, 4]);
}

#[test]
fn failed_attempts_are_retried_with_doubling_backoff_then_upgrade() {
    let mut w = World::new(2);
    w.nodes[1].p2p_ok = false;
    assert!(w.mesh(Route::Relay));
    w.run_for(40.0);
    // Each attempt lasts the 5 s P2P timeout, then waits 2, 4, 8 s...
    // (retry_max 30 s): attempts at 0, 7, 16 and 29 s. Both ends retry, so
    // the joiner offers every time (a collision or not).
    let attempts = offers(&w, 1).iter().filter(|&&offerer| offerer).count();
    assert_eq!(attempts, 4);
    w.nodes[1].p2p_ok = true;
    assert!(w.run_until_true(40.0, |w| w.sees(0, &[1], Route::Direct)
        && w.sees(1, &[0], Route::Direct)));
    say(&mut w, 1, 0, 3);
    w.run_for(1.0);
    assert_eq!(heard(&w, 0, 1), vec![0, 1, 2]);
}

#[test]
fn webrtc_only_mode_never_relays_game_traffic() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::WebRtcOnly);
    w.nodes[1].p2p_ok = false;
    w.command(0, NetCommand::CreateRoom);
    assert!(w.run_until_true(5.0, |w| w.code(0).is_some()));
    let code = w.code(0).unwrap();
    w.command(1, NetCommand::JoinRoom(code));
    w.run_for(20.0);
    for n in 0..2 {
        assert!(
            !w.nodes[n]
                .outputs
                .iter()
                .any(|o| matches!(o, Output::Relay { .. }))
        );
        assert_eq!(w.count(n, |e| matches!(e, NetEvent::PeerJoined { .. })), 0);
    }
}

#[test]
fn signaling_only_mode_never_opens_a_peer_connection() {
    let mut w = World::with(3, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    for n in 0..3 {
        assert!(offers(&w, n).is_empty());
    }
}

#[test]
fn switching_mode_live_moves_every_link_and_back() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    say(&mut w, 0, 0, 2);
    w.set_mode(NetMode::SignalingOnly);
    let everyone = all(&w);
    assert!(w.run_until_true(2.0, |w| everyone.iter().all(|&n| w.sees(
        n,
        &everyone,
        Route::Relay
    ))));
    say(&mut w, 0, 2, 2);
    w.set_mode(NetMode::Hybrid);
    assert!(w.run_until_true(5.0, |w| everyone.iter().all(|&n| w.sees(
        n,
        &everyone,
        Route::Direct
    ))));
    say(&mut w, 0, 4, 2);
    w.run_for(2.0);
    for n in [1, 2] {
        assert_eq!(heard(&w, n, 0), (0..6).collect::<Vec<_>>(), "node {n}");
        assert_eq!(w.count(n, |e| matches!(e, NetEvent::PeerLeft { .. })), 0);
    }
}

// ---- hello/resume, exactly once ----------------------------------------------------

#[test]
fn events_are_delivered_exactly_once_across_a_route_change() {
    let mut w = World::new(2);
    w.command(0, NetCommand::CreateRoom);
    assert!(w.run_until_true(5.0, |w| w.code(0).is_some()));
    let code = w.code(0).unwrap();
    w.command(1, NetCommand::JoinRoom(code));
    // Events start as soon as the peer is known (on the relay) and go on
    // while the link opens.
    assert!(w.run_until_true(
        5.0,
        |w| w.count(0, |e| matches!(e, NetEvent::PeerJoined { .. })) == 1
    ));
    for k in 0..20 {
        say(&mut w, 0, k, 1);
        say(&mut w, 1, k, 1);
        w.run_for(0.01);
    }
    assert!(w.run_until_true(5.0, |w| w.sees(0, &[1], Route::Direct)));
    w.run_for(2.0);
    assert_eq!(heard(&w, 1, 0), (0..20).collect::<Vec<_>>());
    assert_eq!(heard(&w, 0, 1), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_reconnection_to_the_server_keeps_the_room_the_peers_and_the_events() {
    let mut w = World::with(3, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    say(&mut w, 2, 0, 3);
    w.drop_socket(2, Some(1.0));
    say(&mut w, 2, 3, 3);
    say(&mut w, 0, 0, 3);
    let everyone = all(&w);
    assert!(w.run_until_true(10.0, |w| everyone.iter().all(|&n| w.sees(
        n,
        &everyone,
        Route::Relay
    ))));
    w.run_for(3.0);
    assert_eq!(
        w.count(2, |e| matches!(e, NetEvent::Disconnected { .. })),
        1
    );
    assert_eq!(w.count(2, |e| matches!(e, NetEvent::Reconnected)), 1);
    assert_eq!(
        w.count(2, |e| matches!(e, NetEvent::RoomJoined { .. })),
        1,
        "a rejoin is silent"
    );
    for n in [0, 1] {
        assert_eq!(heard(&w, n, 2), (0..6).collect::<Vec<_>>(), "node {n}");
    }
    assert_eq!(heard(&w, 2, 0), vec![0, 1, 2]);
}

#[test]
fn after_a_server_restart_the_room_is_recreated_under_its_code() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let code = w.code(0).unwrap();
    for n in 0..2 {
        w.drop_socket(n, Some(1.0));
    }
    w.server.forget_rooms();
    let back = |w: &World| (0..2).all(|n| w.count(n, |e| matches!(e, NetEvent::Reconnected)) == 1);
    assert!(w.run_until_true(10.0, back));
    w.run_for(2.0);
    for n in 0..2 {
        let joins: Vec<_> = w.nodes[n]
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Join(r) => Some((r.code.clone(), r.rejoin)),
                _ => None,
            })
            .collect();
        assert_eq!(joins.last(), Some(&(code.clone(), true)), "node {n}");
    }
    assert!(w.sees(0, &[1], Route::Relay) && w.sees(1, &[0], Route::Relay));
    say(&mut w, 0, 0, 2);
    w.run_for(1.0);
    assert_eq!(heard(&w, 1, 0), vec![0, 1]);
}

#[test]
fn a_link_broken_by_a_mapping_change_is_rebuilt_and_loses_nothing() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    say(&mut w, 0, 0, 5);
    w.run_for(0.5);
    w.cut_direct(0, 1, 0.2);
    assert!(w.run_until_true(2.0, |w| w.sees(1, &[0], Route::Relay)));
    say(&mut w, 0, 5, 5);
    w.run_for(0.5);
    w.cut.clear();
    assert!(w.run_until_true(10.0, |w| w.sees(0, &[1], Route::Direct)
        && w.sees(1, &[0], Route::Direct)));
    say(&mut w, 0, 10, 5);
    w.run_for(2.0);
    assert_eq!(heard(&w, 1, 0), (0..15).collect::<Vec<_>>());
    assert_eq!(w.count(1, |e| matches!(e, NetEvent::PeerLeft { .. })), 0);
}

// ---- liveness and leaving --------------------------------------------------------------

/// Everyone sends a state every 50 ms for `secs` (the game's 20 Hz).
fn play(w: &mut World, secs: f64) {
    for i in 0..(secs / 0.05) as usize {
        for n in all(w) {
            let state = state_at(i as f32);
            w.command(
                n,
                NetCommand::SendState {
                    state,
                    discrete: false,
                },
            );
        }
        w.run_for(0.05);
    }
}

/// Player 2's signaling node dies: it is back at once through another node
/// (a new socket), while its old socket's `user_left` reaches the others
/// only when the dead node is reaped, 5 s later. Its direct links never
/// needed the server: nobody sees it leave, and no event is lost.
#[test]
fn a_player_whose_signaling_node_died_stays_while_it_talks_directly() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    let opened = |w: &World, n: usize| {
        let open = |o: &&Output| matches!(o, Output::OpenPeer(_));
        w.nodes[n].outputs.iter().filter(open).count()
    };
    let before: Vec<usize> = all(&w).iter().map(|&n| opened(&w, n)).collect();
    w.lose_node(2, true, 5.0);
    say(&mut w, 2, 0, 3);
    play(&mut w, 8.0);
    for n in all(&w) {
        assert_eq!(opened(&w, n), before[n], "node {n} opened a new connection");
    }
    for n in [0, 1] {
        assert_eq!(w.count(n, |e| matches!(e, NetEvent::PeerLeft { .. })), 0);
        assert_eq!(heard(&w, n, 2), vec![0, 1, 2], "node {n}");
        assert_eq!(w.route(n, w.nodes[2].id), Some(Route::Direct), "node {n}");
    }
    assert_eq!(w.count(2, |e| matches!(e, NetEvent::Reconnected)), 1);
}

/// A player reconnects to a node that cannot reach its Redis: its rejoin is
/// refused `unavailable`, so it stays in the room (its peers still see it)
/// and asks again every 2 s until the node can take it back.
#[test]
fn a_rejoin_refused_unavailable_is_retried_not_given_up() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    w.server.unavailable = true;
    w.drop_socket(1, Some(0.5));
    w.run_for(5.0);
    let rejoins = |w: &World| {
        let rejoin = |o: &&Output| matches!(o, Output::Join(r) if r.rejoin);
        w.nodes[1].outputs.iter().filter(rejoin).count()
    };
    assert!(rejoins(&w) >= 2, "asked {} times", rejoins(&w));
    assert!(w.nodes[1].core.room.is_some(), "gave up the room");
    w.server.unavailable = false;
    assert!(w.run_until_true(5.0, |w| w.sees(0, &[1], Route::Relay)
        && w.sees(1, &[0], Route::Relay)));
    say(&mut w, 1, 0, 3);
    w.run_for(1.0);
    assert_eq!(heard(&w, 0, 1), vec![0, 1, 2]);
    let errors = |e: &NetEvent| matches!(e, NetEvent::Error(_));
    assert_eq!(w.count(1, errors), 1, "one notice, not one per try");
}

/// A player that died with its signaling node is reported left as soon as
/// the node is reaped (before its own liveness timeout would say so).
#[test]
fn a_player_that_died_with_its_node_leaves_when_the_node_is_reaped() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    let id = w.nodes[2].id;
    w.nodes[2].online = false;
    w.lose_node(2, false, 3.0);
    play(&mut w, 3.1);
    for n in [0, 1] {
        let left: Vec<_> = w.nodes[n]
            .events
            .iter()
            .filter_map(|e| match e {
                NetEvent::PeerLeft { peer, reason } => Some((*peer, *reason)),
                _ => None,
            })
            .collect();
        assert_eq!(left, [(id, LeaveReason::Left)], "node {n}");
    }
}

#[test]
fn a_silent_peer_times_out_and_returns_with_what_it_missed() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    w.nodes[2].online = false;
    let id = w.nodes[2].id;
    assert!(w.run_until_true(
        10.0,
        |w| w.count(0, |e| matches!(e, NetEvent::PeerLeft { .. })) == 1
    ));
    assert!(w.nodes[0].events.iter().any(|e| matches!(
        e,
        NetEvent::PeerLeft { peer, reason: LeaveReason::TimedOut } if *peer == id
    )));
    say(&mut w, 0, 0, 4);
    w.run_for(1.0);
    w.nodes[2].online = true;
    assert!(w.run_until_true(60.0, |w| w.sees(0, &[2], Route::Direct)));
    w.run_for(3.0);
    assert_eq!(heard(&w, 2, 0), vec![0, 1, 2, 3]);
}

#[test]
fn a_player_who_leaves_says_goodbye() {
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    w.command(2, NetCommand::Shutdown);
    assert!(w.nodes[2].core.is_closed());
    let closes = w.nodes[2]
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::ClosePeer { linger: true, .. }))
        .count();
    assert_eq!(closes, 2, "links linger so the Bye leaves first");
    w.run_for(1.0);
    for n in [0, 1] {
        let left: Vec<_> = w.nodes[n]
            .events
            .iter()
            .filter_map(|e| match e {
                NetEvent::PeerLeft { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect();
        assert_eq!(left, vec![LeaveReason::Left], "node {n}");
    }
}

// ---- hostile and heavy input -----------------------------------------------------------

#[test]
fn a_flooding_sender_is_rate_limited_and_counted() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let from = w.nodes[1].sid.clone().unwrap();
    let before = w.count(0, |e| matches!(e, NetEvent::State { .. }));
    let bytes = proto::encode(&Message::State(state_at(10.0)));
    for _ in 0..1000 {
        w.feed(
            0,
            Input::Server(ServerEvent::Data {
                from: from.clone(),
                bytes: bytes.clone(),
            }),
        );
    }
    let accepted = w.count(0, |e| matches!(e, NetEvent::State { .. })) - before;
    assert!(
        (195..=201).contains(&accepted),
        "{accepted} accepted of a burst of 1000"
    );
    w.run_for(1.1);
    let stats = w.stats(0, w.nodes[1].id).unwrap();
    assert!(stats.dropped_rate >= 799, "{}", stats.dropped_rate);
}

#[test]
fn garbage_from_peers_and_server_is_dropped_and_counted() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    let from = w.nodes[1].sid.clone().unwrap();
    for bytes in [vec![], vec![0xff; 3], vec![1; 2000]] {
        w.feed(
            0,
            Input::Server(ServerEvent::Data {
                from: from.clone(),
                bytes,
            }),
        );
    }
    let garbage = serde_json::json!({"type": "nonsense"});
    w.feed(
        0,
        Input::Server(ServerEvent::Signal {
            from,
            signal: garbage,
        }),
    );
    w.feed(
        0,
        Input::Server(ServerEvent::Malformed("relay: not base64".into())),
    );
    assert_eq!(w.nodes[0].core.malformed(), 2);
    w.run_for(1.1);
    assert_eq!(w.stats(0, w.nodes[1].id).unwrap().dropped_invalid, 3);
    assert!(w.sees(0, &[1], Route::Direct), "nothing else changed");
}

#[test]
fn a_peer_sending_invalid_or_forged_messages_is_blocked_and_stays_blocked() {
    let mut w = World::with(3, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let hostile = w.nodes[1].sid.clone().unwrap();
    let data = |bytes: Vec<u8>| {
        Input::Server(ServerEvent::Data {
            from: hostile.clone(),
            bytes,
        })
    };
    // Messages addressed to a player that does not exist: forged.
    let forged = proto::encode(&Message::Event {
        to: 0xF0F0,
        seq: 1,
        event: GameEvent::Chat("not for you".into()),
    });
    for _ in 0..BLOCK_AFTER / 2 {
        w.feed(0, data(forged.clone()));
    }
    for _ in 0..BLOCK_AFTER / 2 - 1 {
        w.feed(0, data(vec![0xff; 3]));
    }
    assert_eq!(w.count(0, |e| matches!(e, NetEvent::PeerBlocked { .. })), 0);
    w.feed(0, data(vec![0xff; 3]));
    let blocked: Vec<PeerStats> = w.nodes[0]
        .events
        .iter()
        .filter_map(|e| match e {
            NetEvent::PeerBlocked { stats } => Some((**stats).clone()),
            _ => None,
        })
        .collect();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].dropped_forged, BLOCK_AFTER / 2);
    assert_eq!(blocked[0].dropped_invalid, BLOCK_AFTER / 2);
    let left = w.count(0, |e| {
        matches!(
            e,
            NetEvent::PeerLeft {
                reason: LeaveReason::Blocked,
                ..
            }
        )
    });
    assert_eq!(left, 1);
    // From now on nothing it sends counts, valid or not, relayed or signalled.
    let (bad, good) = (w.nodes[1].id, w.nodes[2].id);
    let states_of = |w: &World, id| {
        w.count(
            0,
            |e| matches!(e, NetEvent::State { peer, .. } if *peer == id),
        )
    };
    let (bad_before, good_before) = (states_of(&w, bad), states_of(&w, good));
    w.feed(0, data(proto::encode(&Message::State(state_at(10.0)))));
    w.feed(
        0,
        Input::Server(ServerEvent::Signal {
            from: hostile.clone(),
            signal: serde_json::json!({"type": "offer", "sdp": "v=0"}),
        }),
    );
    w.run_for(2.0);
    assert_eq!(
        states_of(&w, bad),
        bad_before,
        "nothing from the blocked peer"
    );
    let third = w.nodes[2].sid.clone().unwrap();
    w.feed(
        0,
        Input::Server(ServerEvent::Data {
            from: third,
            bytes: proto::encode(&Message::State(state_at(10.0))),
        }),
    );
    assert_eq!(
        states_of(&w, good),
        good_before + 1,
        "the third player is heard"
    );
    let last = w.nodes[0].events.iter().rev().find_map(|e| match e {
        NetEvent::Stats(all) => Some(all.clone()),
        _ => None,
    });
    assert!(
        last.unwrap().iter().all(|s| s.sid != hostile),
        "no peer entry comes back"
    );
    assert!(w.sees(0, &[2], Route::Relay), "the others are unaffected");
}

#[test]
fn on_a_core_only_server_messages_for_others_are_not_forged() {
    let mut w = World::with(3, |_, c| c.mode = NetMode::SignalingOnly);
    w.server.core_only = true;
    assert!(w.mesh(Route::Relay));
    let from = w.nodes[1].sid.clone().unwrap();
    let other = w.nodes[2].id;
    for seq in 1..=(BLOCK_AFTER as u32 * 2) {
        let msg = Message::Event {
            to: other,
            seq,
            event: GameEvent::Chat("broadcast".into()),
        };
        w.feed(
            0,
            Input::Server(ServerEvent::Data {
                from: from.clone(),
                bytes: proto::encode(&msg),
            }),
        );
    }
    assert_eq!(w.count(0, |e| matches!(e, NetEvent::PeerBlocked { .. })), 0);
    w.run_for(1.1);
    assert_eq!(w.stats(0, w.nodes[1].id).unwrap().dropped_forged, 0);
}

#[test]
fn reports_of_replaced_connections_are_ignored() {
    let mut w = World::new(2);
    assert!(w.mesh(Route::Direct));
    let sid = w.nodes[1].sid.clone().unwrap();
    w.feed(
        0,
        Input::Peer {
            sid,
            generation: 999,
            event: PeerEvent::Failed("stale".into()),
        },
    );
    w.run_for(1.0);
    assert!(w.sees(0, &[1], Route::Direct));
}

#[test]
fn refusals_worth_showing_are_shown_and_others_are_not() {
    let mut w = World::new(1);
    w.run_for(1.0);
    let refuse = |error, event: &str| {
        Input::Server(ServerEvent::ServerError(
            arena_server::protocol::ArenaError {
                error,
                message: "no".into(),
                event: event.into(),
            },
        ))
    };
    w.feed(0, refuse(ErrorCode::RateLimited, "relay"));
    w.feed(0, refuse(ErrorCode::NotFound, "relay"));
    assert_eq!(w.count(0, |e| matches!(e, NetEvent::Error(_))), 0);
    w.feed(0, refuse(ErrorCode::BadRequest, "signal"));
    assert_eq!(
        w.count(
            0,
            |e| matches!(e, NetEvent::Error(m) if m == "server: no (signal)")
        ),
        1
    );
}

// ---- sending: congestion and the conditioner --------------------------------------------

/// States node 0 sends (to anyone, by any route) while it ticks at 60 Hz
/// for `secs`.
fn states_sent_in(w: &mut World, secs: f64) -> usize {
    let is_state = |bytes: &[u8]| {
        let bounds = proto::Bounds::new(glam::Vec2::ZERO, glam::Vec2::splat(2000.0));
        matches!(proto::decode(bytes, &bounds), Ok(Message::State(_)))
    };
    let count = |w: &World| {
        w.nodes[0]
            .outputs
            .iter()
            .filter(|o| match o {
                Output::Relay { bytes, .. } | Output::PeerSend { bytes, .. } => is_state(bytes),
                _ => false,
            })
            .count()
    };
    let start = count(w);
    for k in 0..(secs * 60.0) as usize {
        w.command(
            0,
            NetCommand::SendState {
                state: state_at(k as f32),
                discrete: false,
            },
        );
        w.run_for(1.0 / 60.0);
    }
    count(w) - start
}

#[test]
fn states_go_at_60_hz_direct_and_within_the_relay_budget_through_the_server() {
    // Direct: every tick to each peer.
    let mut w = World::new(3);
    assert!(w.mesh(Route::Direct));
    let direct = states_sent_in(&mut w, 2.0);
    assert!((230..=242).contains(&direct), "{direct} to 2 peers in 2 s");
    // One relayed peer: 60 Hz too.
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let one = states_sent_in(&mut w, 2.0);
    assert!((115..=121).contains(&one), "{one} to 1 relayed peer in 2 s");
    // Seven relayed peers share the server's budget: 20 Hz each.
    let mut w = World::with(8, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let seven = states_sent_in(&mut w, 2.0);
    assert!(
        (seven as f64) <= 2.0 * super::messages::RELAY_STATES_PER_S,
        "{seven} to 7 relayed peers in 2 s"
    );
    assert!(seven >= 7 * 38, "{seven} to 7 relayed peers in 2 s");
}

#[test]
fn a_congested_route_lowers_the_state_rate() {
    let mut w = World::with(2, |_, c| c.mode = NetMode::SignalingOnly);
    assert!(w.mesh(Route::Relay));
    let sent = |w: &World| {
        w.nodes[0]
            .outputs
            .iter()
            .filter(|o| match o {
                Output::Relay { bytes, .. } => matches!(
                    proto::decode(
                        bytes,
                        &proto::Bounds::new(glam::Vec2::ZERO, glam::Vec2::splat(2000.0))
                    ),
                    Ok(Message::State(_))
                ),
                _ => false,
            })
            .count()
    };
    let run = |w: &mut World, backlog: usize| {
        let start = sent(w);
        for k in 0..120 {
            let b = Backlog {
                relay: backlog,
                peers: Vec::new(),
            };
            w.feed(0, Input::Backlog(b));
            w.command(
                0,
                NetCommand::SendState {
                    state: state_at(k as f32),
                    discrete: false,
                },
            );
            w.run_for(1.0 / 60.0);
        }
        sent(w) - start
    };
    let free = run(&mut w, 0);
    let congested = run(&mut w, 1000);
    assert!(
        congested * 2 <= free,
        "{congested} states sent congested vs {free} free"
    );
}

#[test]
fn the_link_conditioner_delays_and_drops_outgoing_messages() {
    let conditions = LinkConditions {
        latency_ms: 100.0,
        jitter_ms: 0.0,
        loss: 0.0,
    };
    let mut w = World::with(2, |i, c| {
        c.mode = NetMode::SignalingOnly;
        if i == 0 {
            c.conditions = conditions;
        }
    });
    assert!(w.mesh(Route::Relay));
    // Until node 1's Resume comes back, node 0 holds its events.
    w.run_for(1.0);
    say(&mut w, 0, 0, 1);
    w.run_for(0.09);
    assert!(heard(&w, 1, 0).is_empty(), "not before the added latency");
    w.run_for(0.05);
    assert_eq!(heard(&w, 1, 0), vec![0]);
    // Everything lost: node 0's Hello never arrives.
    let mut lossy = World::with(2, |i, c| {
        c.mode = NetMode::SignalingOnly;
        if i == 0 {
            c.conditions = LinkConditions {
                loss: 1.0,
                ..LinkConditions::default()
            };
        }
    });
    lossy.mesh(Route::Relay);
    assert!(
        !lossy.sees(1, &[0], Route::Relay),
        "node 0's Hello never arrives"
    );
}

#[test]
fn the_core_wants_a_timeout_at_least_every_tick() {
    let cfg = crate::net::api::NetConfig::new(
        "http://sim",
        "p",
        proto::Bounds::new(glam::Vec2::ZERO, glam::Vec2::ONE),
    );
    let epoch = cfg.epoch;
    let mut core = NetCore::new(cfg, 1);
    let out: Vec<Output> = core.handle(Input::Timeout, epoch).collect();
    assert!(matches!(out.as_slice(), [Output::Connect]));
    assert_eq!(
        core.poll_timeout(),
        epoch + super::TICK + std::time::Duration::from_nanos(1)
    );
}
