//! The arena renderer the practice screen, the online screen and the main
//! menu's backdrop share: where the arena goes in the window, the floor,
//! walls, projectiles and players, the crosshair, and the local player's
//! input read from the keyboard and mouse. It reads the world and draws;
//! it changes nothing.

use macroquad::prelude::*;

use super::hud::HUD_HEIGHT;
use super::theme::{self, Text};
use super::view::View;
use crate::sim::{DT, InputFrame, PLAYER_RADIUS, PROJECTILE_RADIUS, PlayerId, World};

/// The area of the window the arena is drawn in: below the HUD bar, with a margin.
pub fn arena_view(world: &World) -> View {
    let m = 12.0;
    View::fit(
        world.map.size,
        Rect::new(
            m,
            HUD_HEIGHT + m,
            screen_width() - 2.0 * m,
            screen_height() - HUD_HEIGHT - 2.0 * m,
        ),
    )
}

/// The local player's input: WASD/arrows to move, mouse to aim, left button or Space to fire.
pub fn local_input(world: &World, local: PlayerId, view: &View) -> InputFrame {
    let mut dir = Vec2::ZERO;
    if is_key_down(KeyCode::W) || is_key_down(KeyCode::Up) {
        dir.y -= 1.0;
    }
    if is_key_down(KeyCode::S) || is_key_down(KeyCode::Down) {
        dir.y += 1.0;
    }
    if is_key_down(KeyCode::A) || is_key_down(KeyCode::Left) {
        dir.x -= 1.0;
    }
    if is_key_down(KeyCode::D) || is_key_down(KeyCode::Right) {
        dir.x += 1.0;
    }
    let me = world.player(local);
    let pos = me.map(|p| p.pos).unwrap_or(Vec2::ZERO);
    let to_mouse = view.to_world(Vec2::from(mouse_position())) - pos;
    let aim = if to_mouse.length_squared() > 1.0 {
        to_mouse.y.atan2(to_mouse.x)
    } else {
        me.map(|p| p.aim).unwrap_or(0.0)
    };
    let fire = is_mouse_button_down(MouseButton::Left) || is_key_down(KeyCode::Space);
    InputFrame {
        move_dir: dir,
        aim,
        fire,
    }
}

/// The aiming crosshair at the mouse.
pub fn draw_crosshair() {
    let (mx, my) = mouse_position();
    draw_circle_lines(mx, my, 9.0, 2.0, theme::with_alpha(WHITE, 0.8));
    draw_line(mx - 14.0, my, mx - 5.0, my, 2.0, WHITE);
    draw_line(mx + 5.0, my, mx + 14.0, my, 2.0, WHITE);
    draw_line(mx, my - 14.0, mx, my - 5.0, 2.0, WHITE);
    draw_line(mx, my + 5.0, mx, my + 14.0, 2.0, WHITE);
}

/// The whole frame's background: floor, grid and walls.
///
/// Clears to the floor colour and paints only the margins around the arena
/// in the window background: under software GL (Xvfb, VMs) fill rate is
/// what a frame costs, and a floor drawn over a cleared window would be
/// blended pixel by pixel a second time.
pub fn draw_arena(world: &World, view: &View) {
    let size = world.map.size;
    let o = view.to_screen(Vec2::ZERO);
    let (w, h) = (view.len(size.x), view.len(size.y));
    let (sw, sh) = (screen_width(), screen_height());
    clear_background(theme::FLOOR);
    let bg = theme::BACKGROUND;
    draw_rectangle(0.0, 0.0, sw, o.y.max(0.0), bg);
    draw_rectangle(0.0, o.y + h, sw, (sh - o.y - h).max(0.0), bg);
    draw_rectangle(0.0, o.y, o.x.max(0.0), h, bg);
    draw_rectangle(o.x + w, o.y, (sw - o.x - w).max(0.0), h, bg);
    let step = 100.0;
    let mut x = step;
    while x < size.x {
        let a = view.to_screen(vec2(x, 0.0));
        draw_line(a.x, a.y, a.x, a.y + view.len(size.y), 1.0, theme::GRID);
        x += step;
    }
    let mut y = step;
    while y < size.y {
        let a = view.to_screen(vec2(0.0, y));
        draw_line(a.x, a.y, a.x + view.len(size.x), a.y, 1.0, theme::GRID);
        y += step;
    }
    for wall in &world.map.walls {
        let a = view.to_screen(wall.min);
        let (w, h) = (
            view.len(wall.max.x - wall.min.x),
            view.len(wall.max.y - wall.min.y),
        );
        draw_rectangle(a.x + 3.0, a.y + 4.0, w, h, theme::with_alpha(BLACK, 0.35));
        draw_rectangle(a.x, a.y, w, h, theme::WALL);
        draw_rectangle_lines(a.x, a.y, w, h, 2.0, theme::WALL_EDGE);
    }
    draw_rectangle_lines(
        o.x,
        o.y,
        view.len(size.x),
        view.len(size.y),
        3.0,
        theme::WALL_EDGE,
    );
}

/// Projectiles with a short trail in their owner's colour.
pub fn draw_projectiles(world: &World, view: &View) {
    for p in &world.projectiles {
        let s = view.to_screen(p.pos);
        let tail = view.to_screen(p.pos - p.vel * DT * 2.5);
        let c = theme::player_color(p.owner);
        draw_line(
            tail.x,
            tail.y,
            s.x,
            s.y,
            view.len(PROJECTILE_RADIUS * 1.4).max(1.5),
            theme::with_alpha(c, 0.5),
        );
        draw_circle(
            s.x,
            s.y,
            view.len(PROJECTILE_RADIUS).max(2.0),
            theme::mix(c, WHITE, 0.55),
        );
    }
}

/// Players: body, gun barrel, hit flash, name and health bar; the dead as a faint marker.
pub fn draw_players(world: &World, view: &View, text: &Text, local: PlayerId) {
    let r = view.len(PLAYER_RADIUS);
    for p in &world.players {
        let c = theme::player_color(p.id);
        let s = view.to_screen(p.pos);
        if !p.alive {
            let a = 0.35;
            draw_line(
                s.x - r * 0.6,
                s.y - r * 0.6,
                s.x + r * 0.6,
                s.y + r * 0.6,
                3.0,
                theme::with_alpha(c, a),
            );
            draw_line(
                s.x - r * 0.6,
                s.y + r * 0.6,
                s.x + r * 0.6,
                s.y - r * 0.6,
                3.0,
                theme::with_alpha(c, a),
            );
            continue;
        }
        let flash = p
            .last_hit_tick
            .map(|t| world.tick.saturating_sub(t))
            .filter(|age| *age < 8)
            .map(|age| 1.0 - age as f32 / 8.0)
            .unwrap_or(0.0);
        let body = theme::mix(c, WHITE, flash * 0.85);
        let dir = Vec2::from_angle(p.aim);
        let muzzle = s + dir * r * 1.6;
        draw_circle(s.x + 2.0, s.y + 3.0, r, theme::with_alpha(BLACK, 0.35));
        draw_line(
            s.x,
            s.y,
            muzzle.x,
            muzzle.y,
            (r * 0.45).max(3.0),
            theme::mix(c, BLACK, 0.45),
        );
        draw_circle(s.x, s.y, r, body);
        draw_circle_lines(s.x, s.y, r, 2.0, theme::mix(c, BLACK, 0.5));
        if p.id == local {
            draw_circle_lines(s.x, s.y, r + 5.0, 2.0, theme::with_alpha(WHITE, 0.7));
        }
        // Name above, health below.
        let size = (r * 0.8).clamp(11.0, 18.0);
        text.centered(
            &p.name,
            s.x,
            s.y - r - 8.0,
            size,
            theme::TEXT,
            p.id == local,
        );
        let frac = (p.hp as f32 / world.rules.max_hp.max(1) as f32).clamp(0.0, 1.0);
        let (bw, bh) = (r * 2.2, 5.0);
        let (bx, by) = (s.x - bw / 2.0, s.y + r + 6.0);
        draw_rectangle(bx, by, bw, bh, theme::with_alpha(BLACK, 0.6));
        let hc = if frac < 0.35 {
            theme::HEALTH_LOW
        } else {
            theme::HEALTH
        };
        draw_rectangle(bx, by, bw * frac, bh, hc);
    }
}
