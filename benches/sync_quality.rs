//! Sync quality bench: prints the markdown tables of the quality harness
//! (`tests/support/quality.rs`) — every condition × {ours, snap to latest,
//! fixed 100 ms linear}, for ground truth from the real simulation driven by
//! the AI and from the synthetic generator, then the delay/extrapolation operating points of the
//! 50 ± 20 ms, 5 % loss link.
//!
//! Run: `cargo bench -p arena --bench sync_quality`. Deterministic: the same
//! seed prints the same tables on every machine.

#[path = "../tests/support/quality.rs"]
mod quality;

use arena::ai::Ai;
use arena::sim::{DT, Map, Rules, World};
use arena::sync::{DelayMode, SyncConfig};
use quality::{
    Condition, Strategy, Trajectory, TruthState, run, standard_conditions, synthetic_trajectory,
    table,
};

const SEED: u64 = 0x5EED;
const SECONDS: f64 = 60.0;

/// Ground truth from the game itself: `players` AI bots in the built-in arena,
/// stepped at the sim's 60 Hz; one trajectory per bot. A death and a respawn
/// are discrete changes (sent at once); a respawn (or the teleport of a match
/// restart) starts a new life.
fn sim_trajectories(seed: u64, players: usize, seconds: f64) -> Vec<Trajectory> {
    let mut world = World::new(Map::builtin(), Rules::default(), seed);
    let ids: Vec<_> = (0..players)
        .filter_map(|i| world.add_player(&format!("bot{i}")))
        .collect();
    let mut ais: Vec<Ai> = (0..ids.len()).map(|i| Ai::new(seed + i as u64)).collect();
    let dt = f64::from(DT);
    let ticks = (seconds / dt).ceil() as usize;
    let mut out: Vec<Trajectory> = ids
        .iter()
        .map(|_| Trajectory {
            dt,
            states: Vec::with_capacity(ticks),
        })
        .collect();
    let mut spawn = vec![0u8; ids.len()];
    let mut alive = vec![true; ids.len()];
    for _ in 0..ticks {
        let inputs: Vec<_> = ids
            .iter()
            .zip(ais.iter_mut())
            .map(|(id, ai)| (*id, ai.think(&world, *id)))
            .collect();
        world.step(&inputs);
        for (i, (id, traj)) in ids.iter().zip(out.iter_mut()).enumerate() {
            let Some(p) = world.player(*id) else {
                continue;
            };
            // A match restart also teleports living players: any one-tick move
            // far beyond running speed starts a new life too.
            let teleported = traj
                .states
                .last()
                .is_some_and(|last| last.pos.distance(p.pos) > 40.0);
            let discrete = p.alive != alive[i] || teleported;
            if (p.alive && !alive[i]) || teleported {
                spawn[i] = spawn[i].wrapping_add(1);
            }
            alive[i] = p.alive;
            traj.states.push(TruthState {
                pos: p.pos,
                vel: p.vel,
                aim: p.aim,
                spawn: spawn[i],
                discrete,
            });
        }
    }
    out
}

fn operating_points(trajectories: &[Trajectory]) -> String {
    let mut out = String::from(
        "| send rate | delay rule | mean delay ms | p95 delay ms | RMS err | extrapolated % | held % |\n\
         |---:|---|---:|---:|---:|---:|---:|\n",
    );
    let Some(base) = standard_conditions().into_iter().nth(1) else {
        return out;
    };
    for rate in [20.0, 30.0] {
        for (quantile, margin) in [(0.85, 0.0), (0.90, 0.005), (0.95, 0.005), (0.95, 0.015)] {
            let cond = Condition {
                send_rate: rate,
                auto: false,
                ..base.clone()
            };
            let config = SyncConfig {
                delay: DelayMode::Adaptive {
                    quantile,
                    margin,
                    min: 0.0,
                    max: 0.5,
                },
                nominal_interval: 1.0 / rate,
                ..SyncConfig::default()
            };
            let m = run(&cond, trajectories, Strategy::Ours(config), SEED);
            out.push_str(&format!(
                "| {rate:.0} Hz | p{:.0} needed + {:.0} ms | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |\n",
                quantile * 100.0,
                margin * 1000.0,
                m.mean_delay_ms,
                m.p95_delay_ms,
                m.rms_error,
                m.extrapolated_pct,
                m.held_pct,
            ));
        }
    }
    out
}

/// Fixed 20 Hz, fixed 30 Hz and the automatic rate side by side, with the
/// game's default renderer, on every condition.
fn send_rates(conditions: &[Condition], trajectories: &[Trajectory]) -> String {
    let mut out = String::from(
        "| condition | send rate | states/s | state upstream kbit/s | mean delay ms | age mean ms | age p95 ms | RMS err | extrapolated % | held % |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for base in conditions {
        for (label, rate, auto) in [
            ("20 Hz fixed", 20.0, false),
            ("30 Hz fixed", 30.0, false),
            ("auto", 60.0, true),
        ] {
            let cond = Condition {
                send_rate: rate,
                auto,
                ..base.clone()
            };
            let config = SyncConfig {
                nominal_interval: 1.0 / rate,
                ..SyncConfig::default()
            };
            let m = run(&cond, trajectories, Strategy::Ours(config), SEED);
            out.push_str(&format!(
                "| {} | {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |\n",
                base.name,
                m.rate_hz,
                m.state_kbps,
                m.mean_delay_ms,
                m.mean_age_ms,
                m.p95_age_ms,
                m.rms_error,
                m.extrapolated_pct,
                m.held_pct,
            ));
        }
    }
    out
}

fn main() {
    let conditions = standard_conditions();
    let sim = sim_trajectories(SEED, 6, SECONDS);
    println!("### Send rate: fixed 20 Hz, fixed 30 Hz, auto (sim trajectories, seed {SEED:#x})\n");
    println!("{}", send_rates(&conditions, &sim));
    println!(
        "### Ground truth: the game's sim, {} AI bots in the built-in arena, {SECONDS} s\n\n\
         States sent at 20 Hz, frames at 60 Hz, seed {SEED:#x}.\n",
        sim.len()
    );
    println!("{}", table(&conditions, &sim, SEED));
    println!("Operating points of `ours` on 50 ± 20 ms, 5 % loss (sim trajectories):\n");
    println!("{}", operating_points(&sim));

    let synthetic: Vec<_> = (0..6)
        .map(|i| synthetic_trajectory(SEED + i, SECONDS))
        .collect();
    println!(
        "### Ground truth: synthetic player-like trajectories, {} × {SECONDS} s\n\n\
         Sharp turns, stops, wall stops, aim across ±π, death + respawn every 6–10 s.\n",
        synthetic.len()
    );
    println!("{}", table(&conditions, &synthetic, SEED));
}
