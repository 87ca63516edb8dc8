//! The arena map: its size, solid rectangles and spawn points, loaded from a
//! TOML data file (`assets/arena.toml`), plus the geometry queries the
//! simulation and the AI need (circle push-out, swept segments, line of sight).
//!
//! Owns parsing and validation of map data. It must not touch the file system
//! (the caller reads the file; [`Map::builtin`] embeds the default map at
//! compile time), the clock, or any game state beyond the static layout.
//!
//! # File format
//!
//! ```toml
//! name = "Example"
//! size = [1600, 1000]          # the arena spans (0,0)..size; its border is solid
//! spawns = [[80, 80], [1520, 920], ...]   # at least MAX_PLAYERS points
//!
//! [[walls]]                    # one table per solid rectangle
//! x = 300                      # top-left corner (y grows down)
//! y = 150
//! w = 30
//! h = 250
//! ```

use glam::Vec2;
use serde::Deserialize;

use super::{MAX_PLAYERS, PLAYER_RADIUS};

/// Everything that can be wrong with a map file.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The text is not valid TOML or does not have the expected shape.
    #[error("map is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// A number in the map is NaN or infinite.
    #[error("map contains a non-finite number in {what}")]
    NonFinite {
        /// Which field.
        what: String,
    },
    /// The arena size is not strictly positive (or absurdly large).
    #[error("map size must be positive and at most 100000 units, got {w} x {h}")]
    BadSize {
        /// Width.
        w: f32,
        /// Height.
        h: f32,
    },
    /// A wall has a non-positive width/height or lies outside the arena.
    #[error("wall #{index} is empty or outside the arena")]
    BadWall {
        /// Index of the wall in the file.
        index: usize,
    },
    /// Too few spawn points for a full room.
    #[error("map needs at least {needed} spawn points, has {got}")]
    TooFewSpawns {
        /// How many are needed ([`MAX_PLAYERS`]).
        needed: usize,
        /// How many the file has.
        got: usize,
    },
    /// A spawn point where a player would overlap a wall or the border.
    #[error("spawn #{index} at ({x}, {y}) is inside a wall or too close to the border")]
    SpawnBlocked {
        /// Index of the spawn point in the file.
        index: usize,
        /// X coordinate.
        x: f32,
        /// Y coordinate.
        y: f32,
    },
}

/// An axis-aligned rectangle, `min` is the top-left corner (y grows down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Top-left corner.
    pub min: Vec2,
    /// Bottom-right corner.
    pub max: Vec2,
}

impl Rect {
    /// A rectangle from its top-left corner and size.
    pub fn from_xywh(x: f32, y: f32, w: f32, h: f32) -> Rect {
        Rect {
            min: Vec2::new(x, y),
            max: Vec2::new(x + w, y + h),
        }
    }

    /// Width and height.
    pub fn size(&self) -> Vec2 {
        self.max - self.min
    }

    /// The centre point.
    pub fn center(&self) -> Vec2 {
        (self.min + self.max) * 0.5
    }

    /// Whether `p` lies inside or on the border.
    pub fn contains(&self, p: Vec2) -> bool {
        p.cmpge(self.min).all() && p.cmple(self.max).all()
    }

    /// The rectangle grown by `r` on every side.
    pub fn expand(&self, r: f32) -> Rect {
        Rect {
            min: self.min - Vec2::splat(r),
            max: self.max + Vec2::splat(r),
        }
    }

    /// Distance from `p` to the rectangle (0 inside).
    pub fn distance(&self, p: Vec2) -> f32 {
        (p - p.clamp(self.min, self.max)).length()
    }

    /// Whether a circle overlaps the rectangle.
    pub fn overlaps_circle(&self, c: Vec2, r: f32) -> bool {
        (c - c.clamp(self.min, self.max)).length_squared() < r * r
    }

    /// First intersection of the segment `a + t (b - a)`, `t` in `[0, 1]`,
    /// with this rectangle (slab method). `Some(0.0)` when `a` is inside.
    pub fn segment_hit(&self, a: Vec2, b: Vec2) -> Option<f32> {
        let d = b - a;
        let mut t_enter = 0.0f32;
        let mut t_exit = 1.0f32;
        for axis in 0..2 {
            let (o, dv, lo, hi) = (a[axis], d[axis], self.min[axis], self.max[axis]);
            if dv.abs() < 1e-12 {
                if o < lo || o > hi {
                    return None;
                }
            } else {
                let inv = 1.0 / dv;
                let (mut t0, mut t1) = ((lo - o) * inv, (hi - o) * inv);
                if t0 > t1 {
                    std::mem::swap(&mut t0, &mut t1);
                }
                t_enter = t_enter.max(t0);
                t_exit = t_exit.min(t1);
                if t_enter > t_exit {
                    return None;
                }
            }
        }
        Some(t_enter)
    }

    /// Push a circle at `pos` with radius `r` out of the rectangle. Returns
    /// the push-out normal (unit) when there was an overlap.
    pub fn push_out_circle(&self, pos: &mut Vec2, r: f32) -> Option<Vec2> {
        let closest = pos.clamp(self.min, self.max);
        let d = *pos - closest;
        let d2 = d.length_squared();
        if d2 >= r * r {
            return None;
        }
        if d2 > 1e-12 {
            let dist = d2.sqrt();
            let n = d / dist;
            *pos = closest + n * r;
            Some(n)
        } else {
            // Centre inside: leave through the nearest side.
            let left = pos.x - self.min.x;
            let right = self.max.x - pos.x;
            let up = pos.y - self.min.y;
            let down = self.max.y - pos.y;
            let m = left.min(right).min(up).min(down);
            let n = if m == left {
                pos.x = self.min.x - r;
                Vec2::NEG_X
            } else if m == right {
                pos.x = self.max.x + r;
                Vec2::X
            } else if m == up {
                pos.y = self.min.y - r;
                Vec2::NEG_Y
            } else {
                pos.y = self.max.y + r;
                Vec2::Y
            };
            Some(n)
        }
    }
}

/// A validated arena map.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// Display name.
    pub name: String,
    /// The arena spans `(0,0)..size`; the outer boundary is solid.
    pub size: Vec2,
    /// Solid rectangles (walls and obstacles), all inside the arena.
    pub walls: Vec<Rect>,
    /// Spawn points, at least [`MAX_PLAYERS`], none blocked.
    pub spawns: Vec<Vec2>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    name: String,
    size: [f32; 2],
    spawns: Vec<[f32; 2]>,
    #[serde(default)]
    walls: Vec<RawWall>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWall {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

const BUILTIN: &str = include_str!("../../assets/arena.toml");

impl Map {
    /// Parse and validate a map: finite numbers, positive size, non-empty
    /// walls inside the arena, at least [`MAX_PLAYERS`] spawns where a player
    /// fits without touching a wall or the border.
    pub fn parse(toml_text: &str) -> Result<Map, MapError> {
        let raw: RawMap = toml::from_str(toml_text)?;
        let finite = |what: &str, vals: &[f32]| {
            if vals.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(MapError::NonFinite {
                    what: what.to_owned(),
                })
            }
        };
        finite("size", &raw.size)?;
        let [w, h] = raw.size;
        if !(w > 0.0 && h > 0.0 && w <= 100_000.0 && h <= 100_000.0) {
            return Err(MapError::BadSize { w, h });
        }
        let size = Vec2::new(w, h);
        let mut walls = Vec::with_capacity(raw.walls.len());
        for (index, rw) in raw.walls.iter().enumerate() {
            finite(&format!("walls[{index}]"), &[rw.x, rw.y, rw.w, rw.h])?;
            let r = Rect::from_xywh(rw.x, rw.y, rw.w, rw.h);
            let inside = r.min.cmpge(Vec2::ZERO).all() && r.max.cmple(size).all();
            if !(rw.w > 0.0 && rw.h > 0.0 && inside) {
                return Err(MapError::BadWall { index });
            }
            walls.push(r);
        }
        let mut spawns = Vec::with_capacity(raw.spawns.len());
        for (index, s) in raw.spawns.iter().enumerate() {
            finite(&format!("spawns[{index}]"), s)?;
            let p = Vec2::new(s[0], s[1]);
            let in_arena = p.cmpge(Vec2::splat(PLAYER_RADIUS)).all()
                && p.cmple(size - Vec2::splat(PLAYER_RADIUS)).all();
            if !in_arena || walls.iter().any(|r| r.overlaps_circle(p, PLAYER_RADIUS)) {
                return Err(MapError::SpawnBlocked {
                    index,
                    x: p.x,
                    y: p.y,
                });
            }
            spawns.push(p);
        }
        if spawns.len() < MAX_PLAYERS {
            return Err(MapError::TooFewSpawns {
                needed: MAX_PLAYERS,
                got: spawns.len(),
            });
        }
        Ok(Map {
            name: raw.name,
            size,
            walls,
            spawns,
        })
    }

    /// The built-in arena (`assets/arena.toml`, embedded at compile time).
    ///
    /// The file is validated by a unit test; should it ever fail to parse, a
    /// plain open arena of the same size is returned instead of panicking.
    pub fn builtin() -> Map {
        match Map::parse(BUILTIN) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("built-in map is invalid ({e}); using an empty arena");
                Map::open(Vec2::new(1600.0, 1000.0))
            }
        }
    }

    /// An arena without walls with spawns spread on a ring (for tests,
    /// benches and as a fallback).
    pub fn open(size: Vec2) -> Map {
        let c = size * 0.5;
        let r = (size.min_element() * 0.5 - PLAYER_RADIUS * 2.0).max(0.0);
        let spawns = (0..MAX_PLAYERS)
            .map(|i| {
                let a = i as f32 * std::f32::consts::TAU / MAX_PLAYERS as f32;
                c + super::math::dir(a) * r
            })
            .collect();
        Map {
            name: "Open".to_owned(),
            size,
            walls: Vec::new(),
            spawns,
        }
    }

    /// The arena itself as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect {
            min: Vec2::ZERO,
            max: self.size,
        }
    }

    /// Whether the straight line `a`–`b` crosses no wall.
    pub fn line_of_sight(&self, a: Vec2, b: Vec2) -> bool {
        self.walls.iter().all(|w| w.segment_hit(a, b).is_none())
    }

    /// First hit of the segment `a`–`b` with a wall grown by `radius` (a
    /// swept circle), as the fraction `t` in `[0, 1]` along the segment.
    pub fn sweep(&self, a: Vec2, b: Vec2, radius: f32) -> Option<f32> {
        self.walls
            .iter()
            .filter_map(|w| w.expand(radius).segment_hit(a, b))
            .min_by(f32::total_cmp)
    }

    /// Whether a circle of radius `r` at `p` fits: inside the arena and
    /// overlapping no wall.
    pub fn circle_is_free(&self, p: Vec2, r: f32) -> bool {
        p.is_finite()
            && p.cmpge(Vec2::splat(r)).all()
            && p.cmple(self.size - Vec2::splat(r)).all()
            && !self.walls.iter().any(|w| w.overlaps_circle(p, r))
    }

    /// Push a circle out of every wall and keep it inside the border.
    /// Returns the sum of the push-out normals (zero when nothing touched).
    pub fn resolve_circle(&self, pos: &mut Vec2, r: f32) -> Vec2 {
        let mut normals = Vec2::ZERO;
        // Two passes settle corners where two walls meet.
        for _ in 0..2 {
            for w in &self.walls {
                if let Some(n) = w.push_out_circle(pos, r) {
                    normals += n;
                }
            }
            let clamped = pos.clamp(
                Vec2::splat(r),
                (self.size - Vec2::splat(r)).max(Vec2::splat(r)),
            );
            if clamped != *pos {
                normals += (clamped - *pos).normalize_or_zero();
                *pos = clamped;
            }
        }
        normals
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spawns_toml() -> String {
        let pts: Vec<String> = (0..MAX_PLAYERS)
            .map(|i| format!("[{}, 50]", 50 + i * 60))
            .collect();
        format!("spawns = [{}]", pts.join(", "))
    }

    #[test]
    fn builtin_parses_and_is_symmetric() {
        let m = Map::parse(BUILTIN).expect("assets/arena.toml must be valid");
        assert!(m.spawns.len() >= MAX_PLAYERS);
        assert!(!m.walls.is_empty());
        assert_eq!(Map::builtin(), m);
        // Point symmetry: every wall has a mirror image through the centre.
        for w in &m.walls {
            let mirrored = Rect {
                min: m.size - w.max,
                max: m.size - w.min,
            };
            assert!(
                m.walls
                    .iter()
                    .any(|o| (o.min - mirrored.min).length() < 0.01
                        && (o.max - mirrored.max).length() < 0.01),
                "wall {w:?} has no mirror image"
            );
        }
    }

    #[test]
    fn parse_minimal_and_errors() {
        let ok = format!("name = \"t\"\nsize = [1000, 600]\n{}\n", spawns_toml());
        let m = Map::parse(&ok).unwrap();
        assert_eq!(m.size, Vec2::new(1000.0, 600.0));
        assert!(m.walls.is_empty());

        assert!(matches!(Map::parse("name = "), Err(MapError::Toml(_))));
        assert!(matches!(Map::parse("name = \"x\""), Err(MapError::Toml(_))));

        let nan = format!("name = \"t\"\nsize = [nan, 600]\n{}\n", spawns_toml());
        assert!(matches!(Map::parse(&nan), Err(MapError::NonFinite { .. })));
        let inf = format!(
            "name = \"t\"\nsize = [1000, 600]\n{}\n[[walls]]\nx = 1\ny = inf\nw = 3\nh = 3\n",
            spawns_toml()
        );
        assert!(matches!(Map::parse(&inf), Err(MapError::NonFinite { .. })));
        let neg = format!("name = \"t\"\nsize = [-5, 600]\n{}\n", spawns_toml());
        assert!(matches!(Map::parse(&neg), Err(MapError::BadSize { .. })));
        let outside = format!(
            "name = \"t\"\nsize = [1000, 600]\n{}\n[[walls]]\nx = 990\ny = 0\nw = 30\nh = 3\n",
            spawns_toml()
        );
        assert!(matches!(
            Map::parse(&outside),
            Err(MapError::BadWall { index: 0 })
        ));
        let blocked = format!(
            "name = \"t\"\nsize = [1000, 600]\n{}\n[[walls]]\nx = 100\ny = 40\nw = 20\nh = 20\n",
            spawns_toml()
        );
        assert!(matches!(
            Map::parse(&blocked),
            Err(MapError::SpawnBlocked { index: 1, .. })
        ));
        let few = "name = \"t\"\nsize = [1000, 600]\nspawns = [[100, 100]]\n";
        assert!(matches!(
            Map::parse(few),
            Err(MapError::TooFewSpawns { got: 1, .. })
        ));
        let at_border = format!("name = \"t\"\nsize = [1000, 600]\n{}\n", spawns_toml())
            .replace("[50, 50]", "[5, 50]");
        assert!(matches!(
            Map::parse(&at_border),
            Err(MapError::SpawnBlocked { index: 0, .. })
        ));
    }

    #[test]
    fn segment_and_push_out() {
        let r = Rect::from_xywh(10.0, 10.0, 10.0, 10.0);
        assert_eq!(
            r.segment_hit(Vec2::new(0.0, 15.0), Vec2::new(30.0, 15.0)),
            Some(10.0 / 30.0)
        );
        assert_eq!(
            r.segment_hit(Vec2::new(0.0, 0.0), Vec2::new(30.0, 0.0)),
            None
        );
        assert_eq!(
            r.segment_hit(Vec2::new(15.0, 15.0), Vec2::new(30.0, 15.0)),
            Some(0.0)
        );
        assert_eq!(
            r.segment_hit(Vec2::new(0.0, 15.0), Vec2::new(5.0, 15.0)),
            None
        );
        let mut p = Vec2::new(12.0, 15.0);
        assert_eq!(r.push_out_circle(&mut p, 3.0), Some(Vec2::NEG_X));
        assert_eq!(p, Vec2::new(7.0, 15.0));
        let mut q = Vec2::new(8.0, 15.0);
        r.push_out_circle(&mut q, 3.0);
        assert!((q.x - 7.0).abs() < 1e-5);
    }
}
