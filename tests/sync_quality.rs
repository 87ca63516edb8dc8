//! The sync quality harness (`tests/support/quality.rs`, the engine of
//! `benches/sync_quality.rs`) is deterministic: the same seed gives the same
//! trajectories and the same table, another seed another table.

#[path = "support/quality.rs"]
mod quality;

use quality::{Condition, standard_conditions, synthetic_trajectory, table};

#[test]
fn harness_is_deterministic() {
    let trajs: Vec<_> = (0..2).map(|i| synthetic_trajectory(i, 12.0)).collect();
    assert_eq!(
        trajs,
        (0..2)
            .map(|i| synthetic_trajectory(i, 12.0))
            .collect::<Vec<_>>()
    );
    let conds: Vec<Condition> = standard_conditions().into_iter().take(2).collect();
    let a = table(&conds, &trajs, 42);
    let b = table(&conds, &trajs, 42);
    let c = table(&conds, &trajs, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains("snap to latest") && a.contains("fixed 100 ms linear"));
}
