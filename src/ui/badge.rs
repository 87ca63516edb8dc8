//! Route badges and banners: the small coloured pill that says how traffic to
//! a peer travels ("direct · 12 ms", "TURN · 40 ms", "relay · 85 ms") and the
//! full-width strip for match-wide network notices ("Server connection lost —
//! reconnecting…").
//!
//! It owns the route colours and labels (pure, unit-tested) and their
//! drawing. It must not decide routes or read network state: callers pass the
//! route, candidate type and RTT they got from the net thread's events.

use macroquad::prelude::*;

use super::theme::{self, Text};
use crate::net::{CandidateKind, Route};

/// Direct WebRTC link.
const DIRECT: Color = Color::new(0.30, 0.85, 0.45, 1.0);
/// WebRTC through a TURN server.
const TURN: Color = Color::new(0.22, 0.78, 0.80, 1.0);
/// Through the signaling server's relay.
const RELAY: Color = Color::new(0.97, 0.60, 0.20, 1.0);
/// A WebRTC attempt is under way.
const CONNECTING: Color = Color::new(0.62, 0.65, 0.72, 1.0);
/// No path at all.
const UNREACHABLE: Color = Color::new(0.93, 0.30, 0.26, 1.0);
/// Local player, or route not known yet.
const UNKNOWN: Color = Color::new(0.52, 0.54, 0.58, 1.0);
/// Badge text, dark on the bright pill.
const BADGE_TEXT: Color = Color::new(0.06, 0.07, 0.09, 1.0);

/// Badge text size, pixels.
const BADGE_SIZE: f32 = 12.5;
/// Badge height, pixels.
const BADGE_H: f32 = 18.0;
/// Banner height, pixels.
const BANNER_H: f32 = 32.0;

/// The colour of a route: direct green, TURN teal, relay orange, connecting
/// grey, unreachable red; `None` (the local player, or not known yet) a
/// darker grey.
pub fn route_color(route: Option<Route>) -> Color {
    match route {
        Some(Route::Direct) => DIRECT,
        Some(Route::Turn) => TURN,
        Some(Route::Relay) => RELAY,
        Some(Route::Connecting) => CONNECTING,
        Some(Route::Unreachable) => UNREACHABLE,
        None => UNKNOWN,
    }
}

/// The badge text: "direct · 12 ms", "TURN · 40 ms", "relay · 85 ms",
/// "connecting…", "unreachable"; without a usable RTT just the route name.
///
/// The candidate type only corrects the route name: a WebRTC link whose
/// selected local candidate is `relay` goes through TURN whatever the route
/// says. Host and (server/peer-)reflexive pairs are all "direct". With no
/// route (the local player or not known yet) the label is the RTT alone, or
/// "—".
pub fn route_label(
    route: Option<Route>,
    candidate: Option<CandidateKind>,
    rtt_ms: Option<f64>,
) -> String {
    let rtt = rtt_ms.filter(|r| r.is_finite() && *r >= 0.0).map(|r| {
        if r < 1.0 {
            "<1 ms".to_owned()
        } else {
            format!("{r:.0} ms")
        }
    });
    let name = match route {
        Some(Route::Connecting) => return "connecting…".to_owned(),
        Some(Route::Unreachable) => return "unreachable".to_owned(),
        Some(Route::Direct | Route::Turn) if candidate == Some(CandidateKind::Relay) => "TURN",
        Some(Route::Direct) => "direct",
        Some(Route::Turn) => "TURN",
        Some(Route::Relay) => "relay",
        None => return rtt.unwrap_or_else(|| "—".to_owned()),
    };
    match rtt {
        Some(rtt) => format!("{name} · {rtt}"),
        None => name.to_owned(),
    }
}

/// Where a badge for `label_w` pixels of text goes: centred on `cx`, top at `top`.
pub fn badge_rect(label_w: f32, cx: f32, top: f32) -> Rect {
    let w = (label_w + 14.0).round().max(BADGE_H);
    Rect::new((cx - w / 2.0).round(), top.round(), w, BADGE_H)
}

/// Draws a route badge — a rounded pill in the route's colour with dark text
/// ([`route_label`]) — centred on `cx` with its top at `top`; returns its rect.
pub fn draw_route_badge(
    text: &Text,
    cx: f32,
    top: f32,
    route: Option<Route>,
    candidate: Option<CandidateKind>,
    rtt_ms: Option<f64>,
) -> Rect {
    let label = route_label(route, candidate, rtt_ms);
    let rect = badge_rect(text.measure(&label, BADGE_SIZE, true).width, cx, top);
    fill_rounded_rect(rect, 5.0, theme::with_alpha(route_color(route), 0.85));
    text.centered(
        &label,
        rect.x + rect.w / 2.0,
        rect.y + rect.h / 2.0 + BADGE_SIZE * 0.36,
        BADGE_SIZE,
        BADGE_TEXT,
        true,
    );
    rect
}

/// Draws a full-width strip with its top at `y`, `message` centred on it
/// (shrunk to fit a narrow window), edged and tinted with `color`.
pub fn draw_banner(text: &Text, y: f32, message: &str, color: Color) {
    let w = screen_width();
    let fill = theme::mix(theme::BACKGROUND, color, 0.30);
    draw_rectangle(0.0, y, w, BANNER_H, theme::with_alpha(fill, 0.92));
    draw_rectangle(0.0, y, w, 2.0, color);
    draw_rectangle(0.0, y + BANNER_H - 2.0, w, 2.0, color);
    let mut size = 17.0;
    while size > 11.0 && text.measure(message, size, true).width > w - 24.0 {
        size -= 1.0;
    }
    text.centered(
        message,
        w / 2.0,
        y + BANNER_H / 2.0 + size * 0.36,
        size,
        theme::TEXT,
        true,
    );
}

/// Fills `rect` with rounded corners of `radius` as one triangle fan (no
/// overlapping shapes, so a translucent colour stays even).
fn fill_rounded_rect(rect: Rect, radius: f32, color: Color) {
    const STEPS: usize = 4;
    let r = radius.min(rect.w / 2.0).min(rect.h / 2.0).max(0.0);
    let centre = rect.center();
    // Corner centres, in order around the rect, with each arc's start angle.
    let corners = [
        (
            vec2(rect.right() - r, rect.y + r),
            -std::f32::consts::FRAC_PI_2,
        ),
        (vec2(rect.right() - r, rect.bottom() - r), 0.0),
        (
            vec2(rect.x + r, rect.bottom() - r),
            std::f32::consts::FRAC_PI_2,
        ),
        (vec2(rect.x + r, rect.y + r), std::f32::consts::PI),
    ];
    let mut vertices = Vec::with_capacity(1 + 4 * (STEPS + 1));
    vertices.push(Vertex::new(centre.x, centre.y, 0.0, 0.0, 0.0, color));
    for (c, start) in corners {
        for i in 0..=STEPS {
            let a = start + std::f32::consts::FRAC_PI_2 * i as f32 / STEPS as f32;
            vertices.push(Vertex::new(
                c.x + r * a.cos(),
                c.y + r * a.sin(),
                0.0,
                0.0,
                0.0,
                color,
            ));
        }
    }
    let n = (vertices.len() - 1) as u16;
    let mut indices = Vec::with_capacity(3 * usize::from(n));
    for i in 1..=n {
        indices.extend_from_slice(&[0, i, if i == n { 1 } else { i + 1 }]);
    }
    draw_mesh(&Mesh {
        vertices,
        indices,
        texture: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_route_and_rtt() {
        use CandidateKind::*;
        let direct = Some(Route::Direct);
        let cases = [
            (direct, Some(Srflx), Some(12.4), "direct · 12 ms"),
            (direct, Some(Host), Some(0.3), "direct · <1 ms"),
            (Some(Route::Turn), Some(Relay), Some(40.0), "TURN · 40 ms"),
            (direct, Some(Relay), Some(40.0), "TURN · 40 ms"),
            (Some(Route::Relay), None, Some(85.2), "relay · 85 ms"),
            (Some(Route::Relay), None, None, "relay"),
            (direct, None, Some(f64::NAN), "direct"),
            (Some(Route::Connecting), None, Some(30.0), "connecting…"),
            (Some(Route::Unreachable), None, Some(30.0), "unreachable"),
            (None, None, Some(3.0), "3 ms"),
            (None, None, None, "—"),
        ];
        for (route, candidate, rtt, label) in cases {
            assert_eq!(
                route_label(route, candidate, rtt),
                label,
                "{route:?} {rtt:?}"
            );
        }
    }

    #[test]
    fn colours_differ_per_route() {
        let all = [
            None,
            Some(Route::Connecting),
            Some(Route::Direct),
            Some(Route::Turn),
            Some(Route::Relay),
            Some(Route::Unreachable),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(route_color(*a), route_color(*b), "{a:?} vs {b:?}");
            }
        }
        let green = route_color(Some(Route::Direct));
        assert!(green.g > green.r && green.g > green.b);
        let red = route_color(Some(Route::Unreachable));
        assert!(red.r > red.g && red.r > red.b);
    }

    #[test]
    fn badge_is_centred_and_18_px_high() {
        let r = badge_rect(60.0, 100.0, 40.0);
        assert_eq!(r.h, 18.0);
        assert_eq!(r.y, 40.0);
        assert!((r.x + r.w / 2.0 - 100.0).abs() <= 1.0);
        // Never narrower than it is high, even with no text.
        assert!(badge_rect(0.0, 10.0, 0.0).w >= 18.0);
    }
}
