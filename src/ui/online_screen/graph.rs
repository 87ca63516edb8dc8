//! The net graph panel of the online screen (F3): samples the match's
//! remote players five times a second into a [`NetGraph`] and draws it at
//! the bottom right through its cached [`GraphLayer`].

use std::collections::BTreeMap;

use macroquad::prelude::*;

use crate::online_match::OnlineMatch;
use crate::proto::NetId;
use crate::ui::netgraph::{GraphLayer, GraphSample, NetGraph};
use crate::ui::theme::{self, Text};

/// Net graph samples per second.
const GRAPH_HZ: f64 = 5.0;
/// Seconds of history in the net graph.
const GRAPH_WINDOW: f64 = 10.0;

/// Bookkeeping of one peer: frames and extrapolated frames at the last
/// sample, for the share over the last interval.
#[derive(Debug, Clone, Copy, Default)]
struct GraphPrev {
    frames: u64,
    extrapolated: u64,
}

/// The net graph, whether it shows, and when it samples next.
pub(super) struct GraphPanel {
    /// Shown (F3, the match menu, the `net_graph` setting).
    pub(super) on: bool,
    graph: NetGraph,
    layer: GraphLayer,
    next: f64,
    prev: BTreeMap<NetId, GraphPrev>,
}

impl GraphPanel {
    pub(super) fn new(on: bool) -> GraphPanel {
        GraphPanel {
            on,
            graph: NetGraph::new(GRAPH_WINDOW),
            layer: GraphLayer::new(),
            next: 0.0,
            prev: BTreeMap::new(),
        }
    }

    /// Records every remote player of `game` when a sample is due at `now`.
    pub(super) fn sample(&mut self, game: &OnlineMatch, now: f64) {
        if now < self.next {
            return;
        }
        self.next = now + 1.0 / GRAPH_HZ;
        self.layer.invalidate();
        for r in game.remotes() {
            let s = r.sync.stats();
            let prev = self.prev.entry(r.net).or_default();
            let frames = s.frames.saturating_sub(prev.frames);
            let extrapolated = s.extrapolated.saturating_sub(prev.extrapolated);
            *prev = GraphPrev {
                frames: s.frames,
                extrapolated: s.extrapolated,
            };
            let sample = GraphSample {
                rtt_ms: r.link.rtt_ms.map(|v| v as f32),
                kbps_in: r.kbps_in as f32,
                kbps_out: r.kbps_out as f32,
                loss: r.stats.as_ref().map_or(0.0, |s| s.state_loss as f32),
                buffer_depth: s.buffer_depth as f32,
                extrapolated: if frames == 0 {
                    0.0
                } else {
                    extrapolated as f32 / frames as f32
                },
            };
            self.graph
                .record(now, r.net, &r.name, theme::player_color(r.slot), sample);
        }
    }

    /// A peer left: its lines go.
    pub(super) fn forget(&mut self, peer: NetId) {
        self.graph.forget(peer);
        self.prev.remove(&peer);
    }

    /// Redraws the cached layer when shown; call first in the frame,
    /// while nothing else is drawn (see [`GraphLayer::update`]).
    pub(super) fn update(&mut self, text: &Text, now: f64) {
        if self.on {
            self.layer.update(&self.graph, text, area(), now);
        }
    }

    /// Draws the cached layer when shown.
    pub(super) fn draw(&self) {
        if self.on {
            self.layer.draw(area().point());
        }
    }
}

/// Where the net graph goes: bottom right.
fn area() -> Rect {
    let (w, h) = (420.0f32.min(screen_width() * 0.45), 430.0f32);
    Rect::new(screen_width() - w - 12.0, screen_height() - h - 28.0, w, h)
}
