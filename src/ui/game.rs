//! The match screen: owns a practice [`World`], steps it at the fixed 60 Hz
//! tick from the frame clock, feeds it the local player's input and the AI's,
//! and draws it. Drawing reads the world and never changes it.

use macroquad::prelude::*;

use super::audio::{Effect, Sounds};
use super::effects::Effects;
use super::hud;
use super::theme::{self, Text};
use super::view::View;
use super::widgets::{Focus, button};
use crate::ai::Ai;
use crate::config::PlayConfig;
use crate::sim::{
    DT, InputFrame, PLAYER_RADIUS, PROJECTILE_RADIUS, PlayerId, Rules, SimEvent, World,
};

/// Height of the HUD bar at the top of the window, in pixels.
pub const HUD_HEIGHT: f32 = 44.0;
/// Most simulation steps taken in one frame (after a stall we slow down rather than spiral).
const MAX_STEPS_PER_FRAME: u32 = 8;

/// What the match screen asks the app to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameAction {
    /// Keep playing.
    Continue,
    /// Back to the main menu.
    MainMenu,
    /// Quit the game.
    Quit,
}

/// A practice match against AI opponents.
pub struct Practice {
    world: World,
    local: PlayerId,
    ais: Vec<(PlayerId, Ai)>,
    accumulator: f32,
    effects: Effects,
    menu: Option<Focus>,
    killed_by: Option<String>,
}

impl Practice {
    /// A new match: the local player plus `bots` AI opponents.
    pub fn new(config: &PlayConfig, bots: usize) -> Practice {
        let mut world = World::new(config.map.clone(), Rules::default(), config.seed);
        let settings = &config.settings;
        let local = world
            .add_player_preferring(&settings.name, settings.color)
            .unwrap_or(0);
        let ais = (0..bots)
            .filter_map(|i| {
                let id = world.add_player("Bot")?;
                if let Some(p) = world.player_mut(id) {
                    p.name = format!("Bot {}", theme::PLAYER_COLOR_NAMES[usize::from(id) % 8]);
                }
                Some((id, Ai::new(config.seed.wrapping_add(1 + i as u64))))
            })
            .collect();
        Practice {
            world,
            local,
            ais,
            accumulator: 0.0,
            effects: Effects::default(),
            menu: None,
            killed_by: None,
        }
    }

    /// The simulated world (read-only).
    pub fn world(&self) -> &World {
        &self.world
    }

    fn view(&self) -> View {
        arena_view(&self.world)
    }

    /// One frame: input, fixed-step simulation, effects and drawing.
    pub fn frame(&mut self, text: &Text, sounds: &Sounds) -> GameAction {
        let dt = get_frame_time().min(0.25);
        let view = self.view();
        if is_key_pressed(KeyCode::Escape) {
            self.menu = if self.menu.is_some() {
                None
            } else {
                Some(Focus::default())
            };
        }
        // Practice pauses while the menu is open.
        if self.menu.is_none() {
            let input = local_input(&self.world, self.local, &view);
            self.accumulator += dt;
            let mut steps = 0;
            while self.accumulator >= DT && steps < MAX_STEPS_PER_FRAME {
                self.accumulator -= DT;
                steps += 1;
                let mut inputs = Vec::with_capacity(self.ais.len() + 1);
                inputs.push((self.local, input));
                for (id, ai) in &mut self.ais {
                    inputs.push((*id, ai.think(&self.world, *id)));
                }
                let events = self.world.step(&inputs);
                self.on_events(&events, sounds);
            }
            if steps == MAX_STEPS_PER_FRAME {
                self.accumulator = 0.0;
            }
        }
        self.effects.update(dt);

        self.draw(&view, text);
        let action = self.draw_menu(text);
        if is_quit_requested() {
            GameAction::Quit
        } else {
            action
        }
    }

    fn on_events(&mut self, events: &[SimEvent], sounds: &Sounds) {
        self.effects.on_events(events, &self.world);
        for e in events {
            if let SimEvent::Killed { victim, by } = *e {
                if victim == self.local {
                    self.killed_by = self.world.player(by).map(|p| p.name.clone());
                }
            }
            if let Some((effect, local)) = Effect::for_event(e, self.local) {
                sounds.play(effect, local);
            }
        }
    }

    fn draw(&self, view: &View, text: &Text) {
        draw_arena(&self.world, view);
        self.effects.draw(view);
        draw_projectiles(&self.world, view);
        draw_players(&self.world, view, text, self.local);
        if self.menu.is_none() {
            draw_crosshair();
        }
        hud::draw_bar(&self.world, self.local, text);
        hud::draw_feed(&self.effects.feed, text);
        hud::draw_death_banner(&self.world, self.local, self.killed_by.as_deref(), text);
        hud::draw_match_end(&self.world, text);
        if is_key_down(KeyCode::Tab) {
            hud::draw_scoreboard(&self.world, self.local, text);
        }
        text.draw(
            "WASD move · mouse aim · click fire · Tab scores · Esc menu",
            14.0,
            screen_height() - 10.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );
    }

    /// The Esc menu over a paused match.
    fn draw_menu(&mut self, text: &Text) -> GameAction {
        let Some(focus) = self.menu.as_mut() else {
            return GameAction::Continue;
        };
        draw_rectangle(
            0.0,
            0.0,
            screen_width(),
            screen_height(),
            theme::with_alpha(BLACK, 0.55),
        );
        let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0);
        let (w, h) = (320.0, 56.0);
        text.centered("Paused", cx, cy - 130.0, 44.0, theme::ACCENT, true);
        let activate = focus.update(3);
        let index = focus.index;
        let labels = ["Resume", "Main menu", "Quit"];
        let mut chosen = None;
        for (i, label) in labels.iter().enumerate() {
            let rect = Rect::new(cx - w / 2.0, cy - 90.0 + i as f32 * (h + 14.0), w, h);
            if button(text, rect, label, index == i, activate) {
                chosen = Some(i);
            }
        }
        match chosen {
            Some(0) => {
                self.menu = None;
                GameAction::Continue
            }
            Some(1) => GameAction::MainMenu,
            Some(_) => GameAction::Quit,
            None => GameAction::Continue,
        }
    }
}

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
