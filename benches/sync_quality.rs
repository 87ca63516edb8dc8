//! Sync quality bench: prints the markdown tables of `arena::sync::quality`
//! — every condition × {ours, snap to latest, fixed 100 ms linear}, then the
//! delay/extrapolation operating points of the 50 ± 20 ms, 5 % loss link.
//!
//! Run: `cargo bench -p arena --bench sync_quality`. Deterministic: the same
//! seed prints the same tables on every machine.

use arena::sync::quality::{
    Condition, Strategy, Trajectory, run, standard_conditions, synthetic_trajectory, table,
};
use arena::sync::{DelayMode, SyncConfig};

const SEED: u64 = 0x5EED;

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

fn main() {
    let trajectories: Vec<_> = (0..6)
        .map(|i| synthetic_trajectory(SEED + i, 60.0))
        .collect();
    println!(
        "Synthetic player trajectories: {} × 60 s at 60 Hz; states sent at 20 Hz; frames at 60 Hz; seed {SEED:#x}.\n",
        trajectories.len()
    );
    println!("{}", table(&standard_conditions(), &trajectories, SEED));
    println!("Operating points of `ours` on 50 ± 20 ms, 5 % loss:\n");
    println!("{}", operating_points(&trajectories));
}
