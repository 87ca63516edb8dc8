//! Heads-up display: health, score, match clock and FPS in the top bar, the
//! kill feed, the death banner, the end-of-match banner and the scoreboard.
//! It reads the world and draws; nothing here changes game state.

use macroquad::prelude::*;

use super::effects::FeedLine;
use super::theme::{self, Text};
use crate::sim::{Phase, PlayerId, TICK_HZ, World};

/// Height of the HUD bar at the top of the window, in pixels.
pub const HUD_HEIGHT: f32 = 44.0;

/// `m:ss` of a tick count.
pub fn clock(ticks: u64) -> String {
    let secs = ticks.div_ceil(u64::from(TICK_HZ));
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// The top bar.
pub fn draw_bar(world: &World, local: PlayerId, text: &Text) {
    let w = screen_width();
    draw_rectangle(0.0, 0.0, w, HUD_HEIGHT, theme::PANEL);
    let base = HUD_HEIGHT / 2.0 + 7.0;
    if let Some(me) = world.player(local) {
        let c = theme::player_color(local);
        draw_circle(22.0, HUD_HEIGHT / 2.0, 9.0, c);
        text.draw(&me.name, 38.0, base, 18.0, theme::TEXT, true);
        // Health bar.
        let (bx, bw, bh) = (180.0, 200.0, 16.0);
        let by = (HUD_HEIGHT - bh) / 2.0;
        let frac = if me.alive {
            (me.hp as f32 / world.rules.max_hp.max(1) as f32).clamp(0.0, 1.0)
        } else {
            0.0
        };
        draw_rectangle(bx, by, bw, bh, theme::with_alpha(BLACK, 0.6));
        draw_rectangle(
            bx,
            by,
            bw * frac,
            bh,
            if frac < 0.35 {
                theme::HEALTH_LOW
            } else {
                theme::HEALTH
            },
        );
        draw_rectangle_lines(bx, by, bw, bh, 1.0, theme::TEXT_DIM);
        let hp = if me.alive {
            format!("{} HP", me.hp.max(0))
        } else {
            "DEAD".to_owned()
        };
        text.centered(&hp, bx + bw / 2.0, by + bh - 3.0, 13.0, theme::TEXT, true);
        text.draw(
            &format!("Kills {}   Deaths {}", me.kills, me.deaths),
            bx + bw + 20.0,
            base,
            18.0,
            theme::TEXT,
            false,
        );
    }
    // Networked matches have no clock (see `online_match::online_rules`).
    let centre = if !world.rules.has_clock() {
        format!("first to {}", world.rules.kills_to_win)
    } else {
        format!(
            "{}   first to {}",
            clock(world.ticks_left()),
            world.rules.kills_to_win
        )
    };
    text.centered(&centre, w / 2.0 + 140.0, base, 18.0, theme::ACCENT, true);
    text.right(
        &format!("{} FPS", get_fps()),
        w - 14.0,
        base,
        16.0,
        theme::TEXT_DIM,
        false,
    );
}

/// Recent kills, top right under the bar.
pub fn draw_feed(feed: &[FeedLine], text: &Text) {
    let right = screen_width() - 16.0;
    for (i, line) in feed.iter().enumerate() {
        let y = HUD_HEIGHT + 28.0 + i as f32 * 24.0;
        let a = line.ttl.clamp(0.0, 1.0);
        let victim_w = text.measure(&line.victim.0, 16.0, true).width;
        let mid = "  ▸  ";
        let mid_w = text.measure(mid, 16.0, false).width;
        let killer_w = text.measure(&line.killer.0, 16.0, true).width;
        let left = right - victim_w - mid_w - killer_w;
        draw_rectangle(
            left - 8.0,
            y - 17.0,
            right - left + 16.0,
            23.0,
            theme::with_alpha(BLACK, 0.45 * a),
        );
        text.draw(
            &line.killer.0,
            left,
            y,
            16.0,
            theme::with_alpha(line.killer.1, a),
            true,
        );
        text.draw(
            mid,
            left + killer_w,
            y,
            16.0,
            theme::with_alpha(theme::TEXT_DIM, a),
            false,
        );
        text.draw(
            &line.victim.0,
            left + killer_w + mid_w,
            y,
            16.0,
            theme::with_alpha(line.victim.1, a),
            true,
        );
    }
}

/// "Eliminated" with the respawn countdown while the local player is dead.
pub fn draw_death_banner(world: &World, local: PlayerId, killed_by: Option<&str>, text: &Text) {
    let Some(me) = world.player(local) else {
        return;
    };
    if me.alive || matches!(world.phase, Phase::Ended { .. }) {
        return;
    }
    let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0);
    draw_rectangle(cx - 260.0, cy - 60.0, 520.0, 100.0, theme::PANEL);
    let title = match killed_by {
        Some(k) => format!("Eliminated by {k}"),
        None => "Eliminated".to_owned(),
    };
    text.centered(&title, cx, cy - 14.0, 30.0, theme::HEALTH_LOW, true);
    let secs = me.respawn_in as f32 / TICK_HZ as f32;
    text.centered(
        &format!("respawn in {secs:.1} s"),
        cx,
        cy + 24.0,
        20.0,
        theme::TEXT,
        false,
    );
}

/// The winner and the restart countdown once the match has ended.
pub fn draw_match_end(world: &World, text: &Text) {
    let Phase::Ended { winner, restart_in } = world.phase else {
        return;
    };
    draw_scoreboard(world, u8::MAX, text);
    let cx = screen_width() / 2.0;
    let y = HUD_HEIGHT + 70.0;
    let (title, color) = match winner.and_then(|w| world.player(w)) {
        Some(p) => (format!("{} wins!", p.name), theme::player_color(p.id)),
        None => ("Draw!".to_owned(), theme::ACCENT),
    };
    text.centered(&title, cx, y, 48.0, color, true);
    let secs = restart_in as f32 / TICK_HZ as f32;
    text.centered(
        &format!("next match in {secs:.0} s"),
        cx,
        y + 34.0,
        20.0,
        theme::TEXT,
        false,
    );
}

/// The scoreboard panel (Tab, or at the end of a match).
pub fn draw_scoreboard(world: &World, local: PlayerId, text: &Text) {
    let rows = world.scoreboard();
    let (w, row_h) = (460.0, 34.0);
    let h = 70.0 + row_h * rows.len() as f32;
    let (x, y) = (
        screen_width() / 2.0 - w / 2.0,
        screen_height() / 2.0 - h / 2.0 + 30.0,
    );
    draw_rectangle(x, y, w, h, theme::PANEL);
    draw_rectangle_lines(x, y, w, h, 2.0, theme::with_alpha(theme::TEXT_DIM, 0.5));
    let (col_k, col_d) = (x + w - 130.0, x + w - 50.0);
    text.draw("Player", x + 24.0, y + 36.0, 18.0, theme::TEXT_DIM, true);
    text.right("Kills", col_k, y + 36.0, 18.0, theme::TEXT_DIM, true);
    text.right(
        "Deaths",
        col_d + 24.0,
        y + 36.0,
        18.0,
        theme::TEXT_DIM,
        true,
    );
    for (i, p) in rows.iter().enumerate() {
        let ry = y + 50.0 + i as f32 * row_h;
        if p.id == local {
            draw_rectangle(
                x + 8.0,
                ry,
                w - 16.0,
                row_h - 4.0,
                theme::with_alpha(WHITE, 0.08),
            );
        }
        let base = ry + row_h / 2.0 + 5.0;
        draw_circle(
            x + 32.0,
            ry + row_h / 2.0 - 2.0,
            8.0,
            theme::player_color(p.id),
        );
        text.draw(&p.name, x + 50.0, base, 18.0, theme::TEXT, p.id == local);
        text.right(&p.kills.to_string(), col_k, base, 18.0, theme::TEXT, true);
        text.right(
            &p.deaths.to_string(),
            col_d + 24.0,
            base,
            18.0,
            theme::TEXT,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_formats_minutes_and_seconds() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(60), "0:01");
        assert_eq!(clock(61), "0:02");
        assert_eq!(clock(60 * 300), "5:00");
    }
}
