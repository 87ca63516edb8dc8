//! Benchmark of one fixed simulation tick in a busy mid-game world: 8 players
//! on the built-in map driven by the AI, 64 projectiles in flight. Target:
//! at most 50 µs per `World::step` (a 60 Hz frame has 16 667 µs).
//!
//! Also measures the cost of 8 `Ai::think` calls (one tick of bot input).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use arena::ai::Ai;
use arena::sim::rng::Rng;
use arena::sim::{InputFrame, MAX_PLAYERS, Map, PROJECTILE_RADIUS, PlayerId, Rules, Vec2, World};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// 8 bots that played for 10 s, then exactly 64 projectiles in flight at
/// free points of the map, plus the bots' next inputs.
fn mid_game() -> (World, Vec<Ai>, Vec<(PlayerId, InputFrame)>) {
    let mut world = World::new(Map::builtin(), Rules::default(), 1234);
    let mut bots: Vec<Ai> = (0..MAX_PLAYERS as u64).map(|i| Ai::new(99 + i)).collect();
    for i in 0..MAX_PLAYERS {
        world.add_player(&format!("bot{i}"));
    }
    let think = |world: &World, bots: &mut Vec<Ai>| -> Vec<(PlayerId, InputFrame)> {
        bots.iter_mut()
            .enumerate()
            .map(|(i, ai)| (i as PlayerId, ai.think(world, i as PlayerId)))
            .collect()
    };
    for _ in 0..600 {
        let inputs = think(&world, &mut bots);
        world.step(&inputs);
    }
    // Keep everyone alive so every player is tested against every projectile.
    for p in &mut world.players {
        p.alive = true;
        p.hp = world.rules.max_hp;
        p.respawn_in = 0;
    }
    world.projectiles.clear();
    let mut rng = Rng::new(7);
    while world.projectiles.len() < 64 {
        let p = Vec2::new(
            rng.range_f32(0.0, world.map.size.x),
            rng.range_f32(0.0, world.map.size.y),
        );
        if !world.map.circle_is_free(p, PROJECTILE_RADIUS * 4.0) {
            continue;
        }
        let vel = Vec2::from_angle(rng.range_f32(0.0, std::f32::consts::TAU))
            * world.rules.projectile_speed;
        let owner = rng.below(MAX_PLAYERS as u32) as PlayerId;
        world.spawn_projectile(owner, p, vel, 60);
    }
    let inputs = think(&world, &mut bots);
    (world, bots, inputs)
}

fn bench(c: &mut Criterion) {
    let (world, bots, inputs) = mid_game();
    assert_eq!(world.projectiles.len(), 64);
    assert_eq!(world.players.len(), MAX_PLAYERS);

    c.bench_function("sim_step_8_players_64_projectiles", |b| {
        b.iter_batched_ref(
            || world.clone(),
            |w| black_box(w.step(black_box(&inputs))),
            BatchSize::SmallInput,
        )
    });

    c.bench_function("ai_think_8_players", |b| {
        b.iter_batched_ref(
            || bots.clone(),
            |bots| {
                for (i, ai) in bots.iter_mut().enumerate() {
                    black_box(ai.think(&world, i as PlayerId));
                }
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
