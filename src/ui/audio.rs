//! Sound effects, synthesised at start-up into small WAV files in memory
//! (no sample files to license), played through macroquad's audio.
//!
//! Without the `sound` feature, or with `--mute`, every call is a no-op.

use crate::sim::SimEvent;

/// The effects the game plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A shot fired.
    Shoot,
    /// A projectile hit a player.
    Hit,
    /// A player died.
    Death,
    /// A player respawned.
    Respawn,
    /// The match ended.
    MatchEnd,
}

impl Effect {
    /// The effect (if any) an event makes, and whether it concerns the local player.
    pub fn for_event(event: &SimEvent, local: u8) -> Option<(Effect, bool)> {
        match *event {
            SimEvent::Fired { by, .. } => Some((Effect::Shoot, by == local)),
            SimEvent::Hit { victim, by, .. } => Some((Effect::Hit, victim == local || by == local)),
            SimEvent::Killed { victim, by } => {
                Some((Effect::Death, victim == local || by == local))
            }
            SimEvent::Respawned { id, .. } => Some((Effect::Respawn, id == local)),
            SimEvent::MatchEnded { .. } => Some((Effect::MatchEnd, true)),
            _ => None,
        }
    }

    /// Synthesised mono 16-bit samples at [`SAMPLE_RATE`].
    pub fn samples(self) -> Vec<i16> {
        match self {
            // A short laser "pew": square wave sweeping down.
            Effect::Shoot => synth(
                0.09,
                |t, p| square(p) * 0.35 * env(t, 0.09),
                |t| 1100.0 - 7000.0 * t,
            ),
            // A thud: low sine plus a noise transient.
            Effect::Hit => {
                let mut noise = Noise(0x9E37_79B9);
                synth(
                    0.12,
                    move |t, p| {
                        (sine(p) * 0.6 + noise.next() * 0.4 * (1.0 - t / 0.04).max(0.0))
                            * env(t, 0.12)
                    },
                    |t| 180.0 - 600.0 * t,
                )
            }
            // A falling tone.
            Effect::Death => synth(
                0.45,
                |t, p| (square(p) * 0.25 + sine(p) * 0.25) * env(t, 0.45),
                |t| 420.0 - 700.0 * t,
            ),
            // A rising chirp.
            Effect::Respawn => synth(
                0.22,
                |t, p| sine(p) * 0.4 * env(t, 0.22),
                |t| 300.0 + 3000.0 * t,
            ),
            // Two notes.
            Effect::MatchEnd => synth(
                0.6,
                |t, p| sine(p) * 0.4 * env(t, 0.6),
                |t| if t < 0.25 { 523.0 } else { 784.0 },
            ),
        }
    }
}

/// Sample rate of the synthesised effects.
pub const SAMPLE_RATE: u32 = 22_050;

/// Generates `secs` of audio: `freq(t)` drives the phase, `wave(t, phase)` the amplitude.
fn synth(secs: f32, mut wave: impl FnMut(f32, f32) -> f32, freq: impl Fn(f32) -> f32) -> Vec<i16> {
    let n = (secs * SAMPLE_RATE as f32) as usize;
    let mut phase = 0.0_f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE as f32;
            phase = (phase + freq(t).max(20.0) / SAMPLE_RATE as f32).fract();
            (wave(t, phase).clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
        })
        .collect()
}

fn sine(phase: f32) -> f32 {
    (phase * std::f32::consts::TAU).sin()
}

fn square(phase: f32) -> f32 {
    if phase < 0.5 { 1.0 } else { -1.0 }
}

/// Fast attack, linear release over `len` seconds.
fn env(t: f32, len: f32) -> f32 {
    (t / 0.005).min(1.0) * (1.0 - t / len).max(0.0)
}

/// A tiny deterministic noise source (xorshift).
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

/// Wraps mono 16-bit samples in a WAV (RIFF) container.
pub fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The loaded effects.
pub struct Sounds {
    #[cfg(feature = "sound")]
    loaded: Vec<(Effect, macroquad::audio::Sound)>,
}

impl Sounds {
    /// Synthesises and loads every effect; with `mute` loads nothing.
    pub async fn load(mute: bool) -> Sounds {
        #[cfg(feature = "sound")]
        {
            let mut loaded = Vec::new();
            if !mute {
                for effect in [
                    Effect::Shoot,
                    Effect::Hit,
                    Effect::Death,
                    Effect::Respawn,
                    Effect::MatchEnd,
                ] {
                    match macroquad::audio::load_sound_from_bytes(&wav(&effect.samples())).await {
                        Ok(s) => loaded.push((effect, s)),
                        Err(e) => tracing::warn!("cannot load sound {effect:?}: {e}"),
                    }
                }
            }
            Sounds { loaded }
        }
        #[cfg(not(feature = "sound"))]
        {
            let _ = mute;
            Sounds {}
        }
    }

    /// Plays `effect`, louder when it concerns the local player.
    pub fn play(&self, effect: Effect, local: bool) {
        #[cfg(feature = "sound")]
        if let Some((_, s)) = self.loaded.iter().find(|(e, _)| *e == effect) {
            let volume = if local { 0.8 } else { 0.25 };
            macroquad::audio::play_sound(
                s,
                macroquad::audio::PlaySoundParams {
                    looped: false,
                    volume,
                },
            );
        }
        #[cfg(not(feature = "sound"))]
        let _ = (effect, local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_header_is_consistent() {
        let samples = Effect::Shoot.samples();
        let w = wav(&samples);
        assert_eq!(&w[0..4], b"RIFF");
        assert_eq!(&w[8..16], b"WAVEfmt ");
        assert_eq!(w.len(), 44 + samples.len() * 2);
        let riff_len = u32::from_le_bytes([w[4], w[5], w[6], w[7]]) as usize;
        assert_eq!(riff_len + 8, w.len());
    }

    #[test]
    fn effects_are_audible_and_bounded() {
        for e in [
            Effect::Shoot,
            Effect::Hit,
            Effect::Death,
            Effect::Respawn,
            Effect::MatchEnd,
        ] {
            let s = e.samples();
            assert!(!s.is_empty());
            let peak = s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
            assert!(peak > 3000, "{e:?} is silent");
        }
    }
}
