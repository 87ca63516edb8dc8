//! The link conditioner: artificial latency, jitter and loss on outgoing game
//! traffic, on every route alike.
//!
//! It decides each message's fate with the same seeded link model the sync
//! bench uses ([`crate::sync::LinkModel`]); [`super::core::NetCore`] then
//! sends the message now, later (it holds it until due), or not at all.
//! Pure: time is an argument.

use super::api::LinkConditions;
use crate::sync::{LinkModel, LinkParams};

/// Decides the fate of each outgoing message.
#[derive(Debug, Clone)]
pub struct Conditioner {
    conditions: LinkConditions,
    model: LinkModel,
}

impl Conditioner {
    /// A conditioner with `conditions`, seeded.
    pub fn new(conditions: LinkConditions, seed: u64) -> Self {
        let conditions = conditions.clamped();
        Self {
            conditions,
            model: LinkModel::new(params(conditions), seed),
        }
    }

    /// The conditions in force.
    pub fn conditions(&self) -> LinkConditions {
        self.conditions
    }

    /// Changes the conditions (the random sequence goes on).
    pub fn set(&mut self, conditions: LinkConditions) {
        self.conditions = conditions.clamped();
        self.model.params = params(self.conditions);
    }

    /// The delay in seconds before sending a message handed over at `now`,
    /// or `None` to drop it. Always `Some(0.0)` when no condition is set.
    pub fn fate(&mut self, now: f64) -> Option<f64> {
        if !self.conditions.is_active() {
            return Some(0.0);
        }
        self.model.deliver(now).first().map(|t| (t - now).max(0.0))
    }
}

fn params(c: LinkConditions) -> LinkParams {
    let mut p = LinkParams::new(c.latency_ms / 1000.0, c.jitter_ms / 1000.0);
    p.loss = c.loss;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_sends_everything_at_once() {
        let mut c = Conditioner::new(LinkConditions::default(), 1);
        assert!((0..100).all(|i| c.fate(f64::from(i)) == Some(0.0)));
    }

    #[test]
    fn latency_jitter_and_loss_apply() {
        let cond = LinkConditions {
            latency_ms: 50.0,
            jitter_ms: 20.0,
            loss: 0.1,
        };
        let mut c = Conditioner::new(cond, 2);
        let fates: Vec<_> = (0..10_000).map(|i| c.fate(f64::from(i) * 0.01)).collect();
        let lost = fates.iter().filter(|f| f.is_none()).count();
        assert!((800..1200).contains(&lost), "lost {lost} of 10000");
        assert!(
            fates
                .iter()
                .flatten()
                .all(|d| (0.03 - 1e-9..=0.07 + 1e-9).contains(d))
        );
    }

    #[test]
    fn nonsense_values_are_clamped() {
        let cond = LinkConditions {
            latency_ms: f64::NAN,
            jitter_ms: -5.0,
            loss: 7.0,
        };
        let c = Conditioner::new(cond, 3);
        assert_eq!(
            c.conditions(),
            LinkConditions {
                latency_ms: 0.0,
                jitter_ms: 0.0,
                loss: 1.0
            }
        );
    }
}
