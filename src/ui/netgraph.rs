//! The net graph overlay (toggled with F3 by the caller): a short history of
//! each remote peer's link quality — round-trip time, throughput in and out,
//! state loss, snapshot buffer depth and the share of extrapolated frames —
//! as five small stacked charts with one line per peer, and a legend with the
//! latest values.
//!
//! [`NetGraph`] is pure state: the caller records samples with the time as an
//! argument (it never reads a clock) and the graph keeps the last `window`
//! seconds per peer. [`NetGraph::draw`] only reads that state. It must not
//! touch the network, the net thread's statistics or the simulation; the
//! caller turns those into [`GraphSample`]s. Drawing is built to be cheap
//! (line segments, one text per chart and per legend row, never per point).

use std::collections::VecDeque;

use macroquad::prelude::*;

use super::theme::{self, Text};
use crate::proto::NetId;

/// Most points kept per peer, whatever the sampling rate (bounds memory and drawing).
const MAX_POINTS: usize = 512;
/// Two points further apart than this (seconds) are not joined by a line.
const GAP_BREAK: f64 = 2.0;
/// Points closer than this horizontally (pixels) to the last one drawn are skipped.
const MIN_DX: f32 = 0.75;
/// A peer whose latest sample is older than this (seconds) is shown as stale.
const STALE_AFTER: f64 = 2.0;
/// The widest usual long legend line, to decide whether the long form fits.
const LONG_LEGEND_TEMPLATE: &str = "888 ms  88.8/88.8 kbps  8.8% loss  buf 8.8  extrap 88%";
/// Legend rows shown at most.
const MAX_LEGEND_ROWS: usize = 8;

/// One measurement of one peer's link, in display-friendly units.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GraphSample {
    /// Latest round-trip time, milliseconds (`None` before the first pong).
    pub rtt_ms: Option<f32>,
    /// Throughput received from the peer, kilobits per second.
    pub kbps_in: f32,
    /// Throughput sent to the peer, kilobits per second.
    pub kbps_out: f32,
    /// Share of its states lost, 0–1.
    pub loss: f32,
    /// Snapshots waiting in its interpolation buffer.
    pub buffer_depth: f32,
    /// Share of frames drawn from extrapolation rather than interpolation, 0–1.
    pub extrapolated: f32,
}

/// One plotted quantity of a [`GraphSample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Rtt,
    KbpsIn,
    KbpsOut,
    Loss,
    Buffer,
    Extrapolated,
}

impl Metric {
    /// The value in chart units (percent for shares), `None` when unknown or not finite.
    fn value(self, s: &GraphSample) -> Option<f32> {
        let v = match self {
            Self::Rtt => s.rtt_ms?,
            Self::KbpsIn => s.kbps_in,
            Self::KbpsOut => s.kbps_out,
            Self::Loss => s.loss * 100.0,
            Self::Buffer => s.buffer_depth,
            Self::Extrapolated => s.extrapolated * 100.0,
        };
        v.is_finite().then_some(v.max(0.0))
    }
}

/// One of the stacked charts.
struct Chart {
    title: &'static str,
    unit: &'static str,
    /// The first metric is drawn solid, a second one dimmer and thinner.
    metrics: &'static [Metric],
    /// Smallest y-axis maximum, so that noise near zero stays flat.
    floor: f32,
    /// Largest y-axis maximum (100 for percentages).
    cap: f32,
}

const CHARTS: [Chart; 5] = [
    Chart {
        title: "RTT",
        unit: "ms",
        metrics: &[Metric::Rtt],
        floor: 50.0,
        cap: f32::MAX,
    },
    Chart {
        title: "kbps in / out",
        unit: "kbps",
        metrics: &[Metric::KbpsIn, Metric::KbpsOut],
        floor: 10.0,
        cap: f32::MAX,
    },
    Chart {
        title: "loss",
        unit: "%",
        metrics: &[Metric::Loss],
        floor: 5.0,
        cap: 100.0,
    },
    Chart {
        title: "buffer depth",
        unit: "snap",
        metrics: &[Metric::Buffer],
        floor: 4.0,
        cap: f32::MAX,
    },
    Chart {
        title: "extrapolated",
        unit: "%",
        metrics: &[Metric::Extrapolated],
        floor: 5.0,
        cap: 100.0,
    },
];

/// The history of one peer.
#[derive(Debug, Clone)]
struct Series {
    peer: NetId,
    name: String,
    color: Color,
    points: VecDeque<(f64, GraphSample)>,
}

/// Recent link samples of every remote peer, and the overlay that draws them.
#[derive(Debug, Clone)]
pub struct NetGraph {
    window: f64,
    /// In order of first appearance, so legend rows and colours stay put.
    series: Vec<Series>,
}

impl NetGraph {
    /// An empty graph covering the last `window_secs` seconds (e.g. 10).
    ///
    /// A non-finite or non-positive window falls back to 10 s.
    pub fn new(window_secs: f64) -> Self {
        let window = if window_secs.is_finite() && window_secs > 0.0 {
            window_secs
        } else {
            10.0
        };
        NetGraph {
            window,
            series: Vec::new(),
        }
    }

    /// Records `sample` for `peer` at time `now` (seconds, any epoch, the same
    /// clock as [`NetGraph::draw`]'s `now`), updating its name and colour, and
    /// drops that peer's points older than the window. Meant to be called a
    /// few times per second per peer.
    ///
    /// If `now` went backwards (a clock reset), the peer's older history is
    /// discarded rather than drawn out of order.
    pub fn record(&mut self, now: f64, peer: NetId, name: &str, color: Color, sample: GraphSample) {
        if !now.is_finite() {
            return;
        }
        let index = match self.series.iter().position(|s| s.peer == peer) {
            Some(i) => i,
            None => {
                self.series.push(Series {
                    peer,
                    name: name.to_owned(),
                    color,
                    points: VecDeque::new(),
                });
                self.series.len() - 1
            }
        };
        let Some(series) = self.series.get_mut(index) else {
            return;
        };
        if series.name != name {
            name.clone_into(&mut series.name);
        }
        series.color = color;
        if series.points.back().is_some_and(|(t, _)| *t > now) {
            series.points.clear();
        }
        series.points.push_back((now, sample));
        let oldest = now - self.window;
        while series.points.front().is_some_and(|(t, _)| *t < oldest)
            || series.points.len() > MAX_POINTS
        {
            series.points.pop_front();
        }
    }

    /// Drops everything about `peer` (it left).
    pub fn forget(&mut self, peer: NetId) {
        self.series.retain(|s| s.peer != peer);
    }

    /// How many peers have a history.
    pub fn peers(&self) -> usize {
        self.series.len()
    }

    /// The y-axis maximum of `chart` over the points within the window.
    fn chart_max(&self, chart: &Chart, now: f64) -> f32 {
        let oldest = now - self.window;
        let data = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(t, _)| *t >= oldest)
            .flat_map(|(_, s)| chart.metrics.iter().filter_map(|m| m.value(s)))
            .fold(0.0f32, f32::max);
        nice_ceil(data.max(chart.floor)).min(chart.cap)
    }

    /// Draws the overlay inside `area`, `now` being the right edge of the
    /// time axis (same clock as [`NetGraph::record`]).
    pub fn draw(&self, text: &Text, area: Rect, now: f64) {
        draw_rectangle(area.x, area.y, area.w, area.h, theme::PANEL);
        draw_rectangle_lines(
            area.x,
            area.y,
            area.w,
            area.h,
            1.0,
            theme::with_alpha(theme::TEXT_DIM, 0.35),
        );
        let pad = 8.0;
        let inner = Rect::new(
            area.x + pad,
            area.y + pad,
            (area.w - 2.0 * pad).max(0.0),
            (area.h - 2.0 * pad).max(0.0),
        );
        if inner.w < 40.0 || inner.h < 20.0 {
            return;
        }
        text.draw(
            "Net graph (F3)",
            inner.x,
            inner.y + 12.0,
            14.0,
            theme::ACCENT,
            true,
        );
        text.right(
            &format!("last {:.0} s", self.window),
            inner.right(),
            inner.y + 12.0,
            11.0,
            theme::TEXT_DIM,
            false,
        );
        let rows = self.series.len().clamp(1, MAX_LEGEND_ROWS);
        let row_h = 15.0;
        let legend_top = inner.bottom() - rows as f32 * row_h;
        self.draw_legend(text, inner.x, legend_top, inner.w, row_h, now);

        let charts_top = inner.y + 20.0;
        let charts_h = legend_top - 6.0 - charts_top;
        let chart_h = charts_h / CHARTS.len() as f32;
        if chart_h < 18.0 {
            return;
        }
        let mut lines = LineBatch::new();
        for (i, chart) in CHARTS.iter().enumerate() {
            let top = charts_top + i as f32 * chart_h;
            let rect = Rect::new(inner.x, top, inner.w, chart_h - 4.0);
            self.draw_chart(text, chart, rect, now, &mut lines);
        }
    }

    /// One chart: its title, its y-axis maximum, a frame and one line per peer.
    fn draw_chart(&self, text: &Text, chart: &Chart, rect: Rect, now: f64, lines: &mut LineBatch) {
        let label_h = 11.0;
        let label_base = rect.y + 9.0;
        text.draw(
            chart.title,
            rect.x,
            label_base,
            11.0,
            theme::TEXT_DIM,
            false,
        );
        let max = self.chart_max(chart, now);
        let max_label = axis_label(max, chart.unit);
        text.right(
            &max_label,
            rect.right(),
            label_base,
            11.0,
            theme::TEXT_DIM,
            false,
        );
        let plot = Rect::new(
            rect.x,
            rect.y + label_h + 1.0,
            rect.w,
            (rect.h - label_h - 1.0).max(1.0),
        );
        draw_rectangle(
            plot.x,
            plot.y,
            plot.w,
            plot.h,
            theme::with_alpha(WHITE, 0.035),
        );
        let guide = <[u8; 4]>::from(theme::with_alpha(theme::TEXT_DIM, 0.18));
        let faint = <[u8; 4]>::from(theme::with_alpha(theme::TEXT_DIM, 0.09));
        let mid = plot.y + plot.h / 2.0;
        for (y, rgba) in [(plot.y, guide), (mid, faint), (plot.bottom(), guide)] {
            lines.segment((plot.x, y), (plot.right(), y), 1.0, rgba);
        }
        for series in &self.series {
            for (k, metric) in chart.metrics.iter().enumerate() {
                let pen = if k == 0 {
                    (series.color, 1.5)
                } else {
                    (theme::with_alpha(series.color, 0.5), 1.0)
                };
                self.plot(series, *metric, plot, max, now, pen, lines);
            }
        }
        lines.flush();
    }

    /// One polyline: `metric` of `series` over the window, scaled to `max`,
    /// drawn with `pen` (colour, thickness) into `lines`.
    #[allow(clippy::too_many_arguments)] // private helper; a struct would only rename them
    fn plot(
        &self,
        series: &Series,
        metric: Metric,
        plot: Rect,
        max: f32,
        now: f64,
        pen: (Color, f32),
        lines: &mut LineBatch,
    ) {
        let (color, thickness) = pen;
        let rgba = <[u8; 4]>::from(color);
        let oldest = now - self.window;
        let (right, bottom, w, h) = (plot.right(), plot.bottom(), plot.w, plot.h);
        let per_sec = w / self.window as f32;
        // Last drawn point of the current run, and how many points the run has.
        let mut last: Option<(f64, f32, f32)> = None;
        let mut run = 0usize;
        let len = series.points.len();
        for (i, (t, sample)) in series.points.iter().enumerate() {
            if *t < oldest || *t > now {
                continue;
            }
            let Some(v) = metric.value(sample) else {
                lines.end_run(last, run, rgba);
                (last, run) = (None, 0);
                continue;
            };
            let x = right - (now - t) as f32 * per_sec;
            let y = bottom - (v / max).clamp(0.0, 1.0) * h;
            match last {
                Some((lt, lx, ly)) if t - lt <= GAP_BREAK => {
                    if x - lx < MIN_DX && i + 1 < len {
                        continue;
                    }
                    lines.segment((lx, ly), (x, y), thickness, rgba);
                    run += 1;
                }
                _ => {
                    lines.end_run(last, run, rgba);
                    run = 1;
                }
            }
            last = Some((*t, x, y));
        }
        lines.end_run(last, run, rgba);
    }

    /// The legend: one row per peer (name in its colour, then its latest values).
    fn draw_legend(&self, text: &Text, x: f32, top: f32, width: f32, row_h: f32, now: f64) {
        let size = 12.0;
        if self.series.is_empty() {
            let base = top + row_h - 3.0;
            text.draw("no peer samples yet", x, base, size, theme::TEXT_DIM, false);
            return;
        }
        // With more peers than rows, the last row says how many are left out.
        let hidden = if self.series.len() > MAX_LEGEND_ROWS {
            self.series.len() - (MAX_LEGEND_ROWS - 1)
        } else {
            0
        };
        let shown = &self.series[..self.series.len() - hidden];
        let name_w = shown
            .iter()
            .map(|s| text.measure(&s.name, size, true).width)
            .fold(0.0f32, f32::max)
            .min(width * 0.35);
        let vx = x + 12.0 + name_w + 10.0;
        // One width check for every row, against the widest usual values, so
        // rows do not flip between the long and short forms as values change
        // (and so that no row is measured every frame).
        let long = text.measure(LONG_LEGEND_TEMPLATE, size, false).width <= x + width - vx;
        for (i, series) in shown.iter().enumerate() {
            let base = top + (i + 1) as f32 * row_h - 3.0;
            draw_rectangle(x, base - 8.0, 8.0, 8.0, series.color);
            text.draw(&series.name, x + 12.0, base, size, series.color, true);
            let Some((t, latest)) = series.points.back() else {
                text.draw("no data", vx, base, size, theme::TEXT_DIM, false);
                continue;
            };
            let stale = now - t > STALE_AFTER;
            let color = if stale { theme::TEXT_DIM } else { theme::TEXT };
            text.draw(&legend_values(latest, long), vx, base, size, color, false);
        }
        if hidden > 0 {
            let base = top + MAX_LEGEND_ROWS as f32 * row_h - 3.0;
            let more = format!("+{hidden} more (lines in the charts above)");
            text.draw(&more, x + 12.0, base, size, theme::TEXT_DIM, false);
        }
    }
}

/// Line segments collected into one mesh and drawn with one call, instead of
/// one `draw_line` call each (the net graph draws thousands per frame).
struct LineBatch {
    mesh: Mesh,
}

impl LineBatch {
    /// Indices per draw call, well under macroquad's default batch limit (5000).
    const MAX_INDICES: usize = 3000;

    fn new() -> Self {
        LineBatch {
            mesh: Mesh {
                vertices: Vec::with_capacity(Self::MAX_INDICES / 6 * 4),
                indices: Vec::with_capacity(Self::MAX_INDICES),
                texture: None,
            },
        }
    }

    /// A line from `a` to `b` (same geometry as macroquad's `draw_line`).
    ///
    /// Plain `f32` arithmetic and a pre-converted colour: this runs thousands
    /// of times per frame and must stay cheap in unoptimised builds too.
    fn segment(&mut self, a: (f32, f32), b: (f32, f32), thickness: f32, rgba: [u8; 4]) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt();
        if len < f32::EPSILON {
            return;
        }
        let k = thickness * 0.5 / len;
        let (nx, ny) = (-dy * k, dx * k);
        self.quad(
            [
                (a.0 + nx, a.1 + ny),
                (a.0 - nx, a.1 - ny),
                (b.0 - nx, b.1 - ny),
                (b.0 + nx, b.1 + ny),
            ],
            rgba,
        );
    }

    /// A filled quad, corners in order around it.
    fn quad(&mut self, corners: [(f32, f32); 4], rgba: [u8; 4]) {
        if self.mesh.indices.len() + 6 > Self::MAX_INDICES {
            self.flush();
        }
        let base = self.mesh.vertices.len() as u16;
        let vertex = |(x, y): (f32, f32)| Vertex {
            position: Vec3 { x, y, z: 0.0 },
            uv: Vec2::ZERO,
            color: rgba,
            normal: Vec4::ZERO,
        };
        let [c0, c1, c2, c3] = corners;
        self.mesh
            .vertices
            .extend_from_slice(&[vertex(c0), vertex(c1), vertex(c2), vertex(c3)]);
        self.mesh
            .indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }

    /// Ends a polyline run: a run of a single point gets a dot so it stays visible.
    fn end_run(&mut self, last: Option<(f64, f32, f32)>, run: usize, rgba: [u8; 4]) {
        if let (Some((_, x, y)), 1) = (last, run) {
            let corners = [
                (x - 1.0, y - 1.0),
                (x + 1.0, y - 1.0),
                (x + 1.0, y + 1.0),
                (x - 1.0, y + 1.0),
            ];
            self.quad(corners, rgba);
        }
    }

    /// Draws what was collected.
    fn flush(&mut self) {
        if !self.mesh.indices.is_empty() {
            draw_mesh(&self.mesh);
        }
        self.mesh.vertices.clear();
        self.mesh.indices.clear();
    }
}

/// The smallest "round" number (1, 2, 2.5 or 5 times a power of ten) at
/// least `v`: the y-axis maximum for data peaking at `v`. Zero, negative and
/// non-finite values give 1.
pub fn nice_ceil(v: f32) -> f32 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let v = f64::from(v);
    let exp = 10f64.powf(v.log10().floor());
    let m = v / exp;
    let step = [1.0, 2.0, 2.5, 5.0]
        .into_iter()
        .find(|s| m <= s * (1.0 + 1e-6))
        .unwrap_or(10.0);
    (step * exp) as f32
}

/// The y-axis maximum label, e.g. "250 ms", "2.5 kbps", "5%".
pub fn axis_label(max: f32, unit: &str) -> String {
    let value = if max >= 10.0 || max.fract() == 0.0 {
        format!("{max:.0}")
    } else if (max * 10.0).fract().abs() < 1e-3 {
        format!("{max:.1}")
    } else {
        format!("{max:.2}")
    };
    if unit == "%" {
        format!("{value}%")
    } else {
        format!("{value} {unit}")
    }
}

/// The legend's values for one sample: "12 ms  8.1/7.9 kbps  0% loss", and
/// with `long` also the buffer depth and the extrapolated share.
pub fn legend_values(s: &GraphSample, long: bool) -> String {
    let rtt = match s.rtt_ms.filter(|r| r.is_finite() && *r >= 0.0) {
        Some(r) => format!("{r:.0} ms"),
        None => "– ms".to_owned(),
    };
    let short = format!(
        "{rtt}  {}/{} kbps  {} loss",
        kbps(s.kbps_in),
        kbps(s.kbps_out),
        percent(s.loss)
    );
    if long {
        let depth = if s.buffer_depth.is_finite() {
            s.buffer_depth.max(0.0)
        } else {
            0.0
        };
        format!(
            "{short}  buf {depth:.1}  extrap {}",
            percent(s.extrapolated)
        )
    } else {
        short
    }
}

/// "8.1" below 10, "42" above; non-finite as "0".
fn kbps(v: f32) -> String {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A 0–1 share as "0%", "0.4%", "12%".
fn percent(share: f32) -> String {
    let p = if share.is_finite() {
        (share * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    if p == 0.0 || p >= 10.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rtt: Option<f32>) -> GraphSample {
        GraphSample {
            rtt_ms: rtt,
            kbps_in: 8.1,
            kbps_out: 7.9,
            loss: 0.0,
            buffer_depth: 3.0,
            extrapolated: 0.02,
        }
    }

    #[test]
    fn nice_ceil_rounds_up_to_1_2_2_5_5() {
        let cases = [
            (1.0, 1.0),
            (1.1, 2.0),
            (2.0, 2.0),
            (2.1, 2.5),
            (3.0, 5.0),
            (7.0, 10.0),
            (12.0, 20.0),
            (50.0, 50.0),
            (99.0, 100.0),
            (100.0, 100.0),
            (101.0, 200.0),
            (240.0, 250.0),
            (0.03, 0.05),
            (0.3, 0.5),
            (1234.0, 2000.0),
        ];
        for (v, want) in cases {
            let got = nice_ceil(v);
            assert!(
                (got - want).abs() <= want * 1e-5,
                "nice_ceil({v}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn nice_ceil_of_nothing_is_one() {
        assert_eq!(nice_ceil(0.0), 1.0);
        assert_eq!(nice_ceil(-5.0), 1.0);
        assert_eq!(nice_ceil(f32::NAN), 1.0);
        assert_eq!(nice_ceil(f32::INFINITY), 1.0);
    }

    #[test]
    fn axis_labels() {
        assert_eq!(axis_label(250.0, "ms"), "250 ms");
        assert_eq!(axis_label(2.5, "kbps"), "2.5 kbps");
        assert_eq!(axis_label(5.0, "%"), "5%");
        assert_eq!(axis_label(0.05, "%"), "0.05%");
        assert_eq!(axis_label(4.0, "snap"), "4 snap");
    }

    #[test]
    fn legend_handles_missing_rtt_and_shares() {
        assert_eq!(
            legend_values(&sample(Some(12.4)), false),
            "12 ms  8.1/7.9 kbps  0% loss"
        );
        assert_eq!(
            legend_values(&sample(None), false),
            "– ms  8.1/7.9 kbps  0% loss"
        );
        let mut s = sample(Some(f32::NAN));
        s.loss = 0.004;
        s.kbps_in = 123.4;
        assert_eq!(
            legend_values(&s, true),
            "– ms  123/7.9 kbps  0.4% loss  buf 3.0  extrap 2.0%"
        );
    }

    #[test]
    fn record_keeps_only_the_window() {
        let mut g = NetGraph::new(10.0);
        for i in 0..200 {
            g.record(f64::from(i) * 0.1, 7, "Ada", RED, sample(Some(10.0)));
        }
        assert_eq!(g.peers(), 1);
        let s = &g.series[0];
        let (first, last) = (s.points[0].0, s.points[s.points.len() - 1].0);
        assert!((last - 19.9).abs() < 1e-9);
        assert!(last - first <= 10.0 + 1e-9, "{first}..{last}");
        assert!(s.points.len() >= 100 && s.points.len() <= 101);
    }

    #[test]
    fn record_updates_name_and_colour_and_forget_drops() {
        let mut g = NetGraph::new(10.0);
        g.record(0.0, 1, "Ada", RED, sample(None));
        g.record(0.0, 2, "Bob", BLUE, sample(None));
        g.record(0.1, 1, "Ada L.", GREEN, sample(Some(5.0)));
        assert_eq!(g.peers(), 2);
        assert_eq!(g.series[0].name, "Ada L.");
        assert_eq!(g.series[0].color, GREEN);
        assert_eq!(g.series[0].points.len(), 2);
        g.forget(1);
        assert_eq!(g.peers(), 1);
        assert_eq!(g.series[0].peer, 2);
        g.forget(99);
        assert_eq!(g.peers(), 1);
    }

    #[test]
    fn record_survives_a_clock_going_back_and_bad_input() {
        let mut g = NetGraph::new(f64::NAN);
        assert_eq!(g.window, 10.0);
        g.record(100.0, 1, "Ada", RED, sample(None));
        g.record(5.0, 1, "Ada", RED, sample(None));
        assert_eq!(g.series[0].points.len(), 1);
        g.record(f64::NAN, 1, "Ada", RED, sample(None));
        assert_eq!(g.series[0].points.len(), 1);
    }

    #[test]
    fn record_caps_points_per_peer() {
        let mut g = NetGraph::new(10.0);
        for i in 0..10_000 {
            g.record(f64::from(i) * 0.001, 1, "Ada", RED, sample(None));
        }
        assert_eq!(g.series[0].points.len(), MAX_POINTS);
    }

    #[test]
    fn chart_max_follows_the_data_with_floor_and_cap() {
        let mut g = NetGraph::new(10.0);
        let [rtt, _, loss, ..] = &CHARTS;
        // No data: the floors.
        assert_eq!(g.chart_max(rtt, 0.0), 50.0);
        assert_eq!(g.chart_max(loss, 0.0), 5.0);
        let mut s = sample(Some(130.0));
        s.loss = 0.9;
        g.record(0.0, 1, "Ada", RED, s);
        g.record(0.0, 2, "Bob", BLUE, sample(None));
        assert_eq!(g.chart_max(rtt, 0.0), 200.0);
        assert_eq!(g.chart_max(loss, 0.0), 100.0);
        // Out of the window: back to the floor.
        assert_eq!(g.chart_max(rtt, 20.0), 50.0);
    }
}

/// The net graph drawn into a texture when its data changes (a few times a
/// second) and shown as one quad per frame. Under software GL (Xvfb, VMs)
/// every polyline segment costs triangle set-up: redrawing a few thousand
/// of them each frame cost about 2.5 ms of a 60 Hz frame with 8 players.
#[derive(Default)]
pub struct GraphLayer {
    target: Option<RenderTarget>,
    size: (u32, u32),
    stale: bool,
}

impl GraphLayer {
    /// An empty layer: the first [`GraphLayer::draw`] renders it.
    pub fn new() -> Self {
        GraphLayer {
            target: None,
            size: (0, 0),
            stale: true,
        }
    }

    /// The graph changed: render it again on the next draw.
    pub fn invalidate(&mut self) {
        self.stale = true;
    }

    /// Renders `graph` for `area` if it changed or the area's size did.
    /// Call at the start of a frame, before drawing anything else: a switch
    /// of render target makes a software GL driver rasterise what was drawn
    /// so far at once, on this thread.
    pub fn update(&mut self, graph: &NetGraph, text: &Text, area: Rect, now: f64) {
        let size = (
            area.w.round().max(1.0) as u32,
            area.h.round().max(1.0) as u32,
        );
        if self.size != size {
            self.target = None;
        }
        let target = match &self.target {
            Some(t) => t.clone(),
            None => {
                let t = render_target(size.0, size.1);
                t.texture.set_filter(FilterMode::Nearest);
                self.target = Some(t.clone());
                self.size = size;
                self.stale = true;
                t
            }
        };
        if !self.stale {
            return;
        }
        let (w, h) = (size.0 as f32, size.1 as f32);
        let mut camera = Camera2D::from_display_rect(Rect::new(0.0, 0.0, w, h));
        camera.render_target = Some(target);
        // Back to the frame's camera afterwards: the window, or the
        // multisampled scene (`super::msaa::Scene`).
        push_camera_state();
        set_camera(&camera);
        clear_background(Color::new(0.0, 0.0, 0.0, 0.0));
        graph.draw(text, Rect::new(0.0, 0.0, w, h), now);
        pop_camera_state();
        self.stale = false;
    }

    /// Shows the last rendered graph with its top-left corner at `at`.
    pub fn draw(&self, at: Vec2) {
        let Some(target) = &self.target else {
            return;
        };
        let (w, h) = (self.size.0 as f32, self.size.1 as f32);
        draw_texture_ex(
            &target.texture,
            at.x.round(),
            at.y.round(),
            WHITE,
            DrawTextureParams {
                dest_size: Some(vec2(w, h)),
                flip_y: true,
                ..Default::default()
            },
        );
    }
}
