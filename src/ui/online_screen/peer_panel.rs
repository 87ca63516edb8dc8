//! The player panel at the top left of the online screen: a row per
//! player with its colour, name and route badge.

use macroquad::prelude::*;

use crate::online_match::OnlineMatch;
use crate::ui::badge::{route_color, route_label};
use crate::ui::hud::HUD_HEIGHT;
use crate::ui::theme::{self, Text};

/// The list of players at the top left: colour, name, route badge.
pub fn draw(text: &Text, game: &OnlineMatch) {
    // Below the reconnecting banner while it shows.
    let shift = if game.server_lost { 36.0 } else { 0.0 };
    let me = game.world.player(game.local);
    let mut i = 0;
    if let Some(me) = me {
        let name = format!("{} (you)", me.name);
        let you = theme::with_alpha(theme::TEXT_DIM, 0.5);
        peer_panel_row(text, i, shift, me.id, &name, you, "you");
        i += 1;
    }
    for r in game.remotes() {
        let color = theme::with_alpha(route_color(r.link.route), 0.9);
        let label = route_label(r.link.route, r.link.candidate, r.link.rtt_ms);
        peer_panel_row(text, i, shift, r.slot, &r.name, color, &label);
        i += 1;
    }
}

/// Row `i` of the player panel, moved down by `shift`: colour dot, name,
/// and a badge of `badge_color` saying `label`.
fn peer_panel_row(
    text: &Text,
    i: usize,
    shift: f32,
    slot: u8,
    name: &str,
    badge_color: Color,
    label: &str,
) {
    let mut row = peer_row(i);
    row.y += shift;
    draw_rectangle(row.x, row.y, row.w, row.h, theme::with_alpha(BLACK, 0.45));
    let x = row.x + 4.0;
    draw_circle(x + 9.0, row.y + row.h / 2.0, 6.0, theme::player_color(slot));
    text.draw(name, x + 20.0, row.y + 16.0, 14.0, theme::TEXT, false);
    let mut badge = badge_cell(i);
    badge.y += shift;
    draw_rectangle(badge.x, badge.y, badge.w, badge.h, badge_color);
    text.centered(
        label,
        badge.x + badge.w / 2.0,
        badge.y + badge.h - 4.0,
        12.0,
        theme::BACKGROUND,
        true,
    );
}

/// Row `i` of the player panel (top left, under the HUD bar).
pub fn peer_row(i: usize) -> Rect {
    Rect::new(10.0, HUD_HEIGHT + 12.0 + i as f32 * 26.0, 300.0, 23.0)
}

/// Where the route badge of row `i` is drawn (tests read its pixels).
pub fn badge_cell(i: usize) -> Rect {
    let row = peer_row(i);
    Rect::new(row.x + row.w - 118.0, row.y + 3.0, 114.0, row.h - 6.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_sit_inside_their_rows() {
        for i in 0..8 {
            let (row, badge) = (peer_row(i), badge_cell(i));
            assert!(row.contains(vec2(badge.x, badge.y)));
            assert!(row.contains(vec2(badge.right() - 1.0, badge.bottom() - 1.0)));
            assert!(peer_row(i + 1).y >= row.bottom());
        }
    }
}
