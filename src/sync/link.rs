//! A deterministic, seeded model of one direction of a network link, for the
//! net thread's conditioner (`net::conditioner`), the quality bench and tests.
//!
//! Owns the packet fate: base latency, uniform jitter (`latency ± jitter`,
//! netem's default distribution, which reorders packets when the jitter
//! exceeds the send interval), independent loss, Gilbert–Elliott burst loss,
//! explicit reordering (an extra hold-back for some packets) and duplication.
//! It must not know what the packets carry, and draws randomness only from its
//! own seeded generator ([`crate::sim::rng::Rng`]) so the same seed gives the
//! same run on every machine.

use crate::sim::rng::{GOLDEN_GAMMA, Rng};

/// Two-state burst-loss channel (per packet transitions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving good → bad on a packet.
    pub p_good_to_bad: f64,
    /// Probability of moving bad → good on a packet (1 / mean burst length).
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// Bursts losing everything in the bad state, with mean burst length
    /// `mean_burst` packets and overall loss rate `loss`.
    pub fn bursts(loss: f64, mean_burst: f64) -> Self {
        let r = 1.0 / mean_burst.max(1.0);
        let loss = loss.clamp(0.0, 0.99);
        Self {
            p_good_to_bad: r * loss / (1.0 - loss),
            p_bad_to_good: r,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// Long-run loss rate.
    pub fn mean_loss(&self) -> f64 {
        let pb = self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good);
        pb * self.loss_bad + (1.0 - pb) * self.loss_good
    }
}

/// Parameters of one link direction. Times in seconds, probabilities 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Mean one-way latency.
    pub latency: f64,
    /// Uniform jitter: each packet takes `latency ± jitter`.
    pub jitter: f64,
    /// Independent loss probability.
    pub loss: f64,
    /// Probability a packet is held back by `reorder_delay` extra.
    pub reorder: f64,
    /// Extra hold-back of a reordered packet.
    pub reorder_delay: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Burst loss on top of the independent loss.
    pub gilbert_elliott: Option<GilbertElliott>,
}

impl LinkParams {
    /// A link with only latency and jitter.
    pub fn new(latency: f64, jitter: f64) -> Self {
        Self {
            latency,
            jitter,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: 0.0,
            duplicate: 0.0,
            gilbert_elliott: None,
        }
    }
}

/// One direction of a simulated link.
#[derive(Debug, Clone)]
pub struct LinkModel {
    /// The parameters.
    pub params: LinkParams,
    rng: Rng,
    bad: bool,
}

impl LinkModel {
    /// A link with `params`, seeded.
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Self {
            params,
            // Seeds are mixed with the golden gamma: each seed keeps the
            // fates (and the bench tables) it has always had.
            rng: Rng::new(seed ^ GOLDEN_GAMMA),
            bad: false,
        }
    }

    /// Fate of a packet sent at `send_time`: its arrival times (empty if lost,
    /// two if duplicated). Arrival is never before `send_time`.
    pub fn deliver(&mut self, send_time: f64) -> Vec<f64> {
        let p = self.params;
        // Draw every random number every time so fates stay aligned across
        // parameter changes of one kind (same seed, comparable runs).
        let u_loss = self.rng.next_f64();
        let u_jit = self.rng.range_f64(-1.0, 1.0);
        let u_reo = self.rng.next_f64();
        let u_dup = self.rng.next_f64();
        let u_dup_jit = self.rng.range_f64(-1.0, 1.0);
        let u_ge_state = self.rng.next_f64();
        let u_ge_loss = self.rng.next_f64();

        let mut lost = u_loss < p.loss;
        if let Some(ge) = p.gilbert_elliott {
            self.bad = if self.bad {
                u_ge_state >= ge.p_bad_to_good
            } else {
                u_ge_state < ge.p_good_to_bad
            };
            let l = if self.bad { ge.loss_bad } else { ge.loss_good };
            lost |= u_ge_loss < l;
        }
        if lost {
            return Vec::new();
        }
        let mut t = send_time + (p.latency + p.jitter * u_jit).max(0.0);
        if u_reo < p.reorder {
            t += p.reorder_delay;
        }
        let mut out = vec![t];
        if u_dup < p.duplicate {
            out.push(send_time + (p.latency + p.jitter * u_dup_jit).max(0.0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fates() {
        let mut p = LinkParams::new(0.05, 0.02);
        p.loss = 0.05;
        p.gilbert_elliott = Some(GilbertElliott::bursts(0.1, 2.5));
        let mut a = LinkModel::new(p, 7);
        let mut b = LinkModel::new(p, 7);
        for i in 0..1000 {
            let t = i as f64 * 0.05;
            assert_eq!(a.deliver(t), b.deliver(t));
        }
    }

    #[test]
    fn loss_rates_match() {
        let mut p = LinkParams::new(0.15, 0.05);
        p.gilbert_elliott = Some(GilbertElliott::bursts(0.1, 2.5));
        assert!((p.gilbert_elliott.map_or(0.0, |g| g.mean_loss()) - 0.1).abs() < 1e-9);
        let mut l = LinkModel::new(p, 1);
        let n = 100_000;
        let lost = (0..n).filter(|i| l.deliver(*i as f64).is_empty()).count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.1).abs() < 0.01, "burst loss rate {rate}");

        let mut q = LinkParams::new(0.05, 0.02);
        q.loss = 0.05;
        let mut l = LinkModel::new(q, 2);
        let lost = (0..n).filter(|i| l.deliver(*i as f64).is_empty()).count();
        assert!((lost as f64 / n as f64 - 0.05).abs() < 0.005);
    }

    #[test]
    fn latency_within_jitter() {
        let mut l = LinkModel::new(LinkParams::new(0.05, 0.02), 3);
        for i in 0..1000 {
            let t = i as f64;
            for a in l.deliver(t) {
                assert!(a - t >= 0.03 - 1e-9 && a - t <= 0.07 + 1e-9);
            }
        }
    }
}
