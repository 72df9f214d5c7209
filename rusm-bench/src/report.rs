//! What a run measured: figures per target, the ratio rusm/tokio, printed as text or as one JSON
//! object.
//!
//! A run may repeat the whole set of targets (`--runs N`, interleaved: RUSM, the baselines,
//! RUSM, …). Each figure is then the median of the runs with its min and max, and a ratio is
//! the median of the runs' own ratios (each run's RUSM figure over the same run's baseline),
//! with their min and max. A run may have several baselines, each with its label; ratios are
//! given to each.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::stats;

/// One measured figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figure {
    /// Key in the JSON output, e.g. `conns_per_s`.
    pub key: &'static str,
    /// The value.
    pub value: f64,
    /// Unit for the text output, e.g. `conn/s`, `µs`, `B`.
    pub unit: &'static str,
    /// Smallest value over the runs (the value itself for one run).
    pub min: f64,
    /// Largest value over the runs.
    pub max: f64,
}

impl Figure {
    /// A figure.
    pub fn new(key: &'static str, value: f64, unit: &'static str) -> Self {
        Figure {
            key,
            value,
            unit,
            min: value,
            max: value,
        }
    }
}

/// What one target did in one scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetResult {
    /// `rusm` or `tokio`, or the name of a baseline program (`tokio-actor`, …).
    pub target: String,
    /// What program this is, when the name does not say it all: which baseline (the
    /// bare-tokio physical limit, the like-for-like one) and how it is built.
    pub label: Option<String>,
    /// Figures in print order; the scenario's headline figure first.
    pub figures: Vec<Figure>,
    /// Errors by kind (errno name or `io::ErrorKind`).
    pub errors: BTreeMap<String, u64>,
    /// The kernel limit that stopped the load early, if one did.
    pub limit: Option<String>,
    /// Anything else the reader must know to interpret the figures.
    pub notes: Vec<String>,
}

impl TargetResult {
    /// An empty result for `target`.
    pub fn new(target: &str) -> Self {
        TargetResult {
            target: target.to_owned(),
            ..TargetResult::default()
        }
    }

    /// Appends a figure.
    pub fn figure(&mut self, key: &'static str, value: f64, unit: &'static str) {
        self.figures.push(Figure::new(key, value, unit));
    }

    /// The value of figure `key`.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.figures.iter().find(|f| f.key == key).map(|f| f.value)
    }

    /// One result out of the same target's results in several runs: each figure the median
    /// with min and max, errors summed, notes and limits kept once.
    pub fn aggregate(runs: &[&TargetResult]) -> TargetResult {
        let Some(first) = runs.first() else {
            return TargetResult::default();
        };
        let mut out = TargetResult {
            target: first.target.clone(),
            label: first.label.clone(),
            ..TargetResult::default()
        };
        for f in &first.figures {
            let values: Vec<f64> = runs.iter().filter_map(|r| r.get(f.key)).collect();
            let value = stats::median(&values).unwrap_or(f.value);
            let mut fig = Figure::new(f.key, value, f.unit);
            fig.min = values.iter().copied().fold(value, f64::min);
            fig.max = values.iter().copied().fold(value, f64::max);
            out.figures.push(fig);
        }
        for r in runs {
            for (kind, n) in &r.errors {
                *out.errors.entry(kind.clone()).or_default() += n;
            }
            if out.limit.is_none() {
                out.limit.clone_from(&r.limit);
            }
            for note in &r.notes {
                if !out.notes.contains(note) {
                    out.notes.push(note.clone());
                }
            }
        }
        out
    }
}

/// A ratio over the runs: the median of each run's own ratio, with min and max.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioSpread {
    /// Median of the runs' ratios.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Each run's ratio, in run order.
    pub each: Vec<f64>,
}

/// Everything one `rusm-bench run` measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// The seconds argument.
    pub seconds: f64,
    /// `std::thread::available_parallelism`.
    pub cores: usize,
    /// RLIMIT_NOFILE soft limit in force.
    pub nofile_limit: u64,
    /// The headline figure the ratio is computed on.
    pub primary: &'static str,
    /// Whether a higher headline figure is better (false for bytes).
    pub higher_is_better: bool,
    /// The system under test first, then the baselines that ran (medians over the runs).
    pub results: Vec<TargetResult>,
    /// Each run's results, in the order of `results`; empty when the report was made from
    /// one set of results.
    pub runs: Vec<Vec<TargetResult>>,
    /// Notes about the run as a whole (fallbacks, skipped baseline).
    pub notes: Vec<String>,
}

impl RunReport {
    /// Collects `runs` (each the system under test then the baselines, in the same order):
    /// fills `results` with their medians and keeps `runs`.
    pub fn with_runs(mut self, runs: Vec<Vec<TargetResult>>) -> Self {
        let targets = runs.first().map_or(0, Vec::len);
        self.results = (0..targets)
            .map(|i| {
                let name = &runs[0][i].target;
                let same: Vec<&TargetResult> = runs
                    .iter()
                    .filter_map(|run| run.iter().find(|r| &r.target == name))
                    .collect();
                TargetResult::aggregate(&same)
            })
            .collect();
        self.runs = runs;
        self
    }

    /// How many runs the figures come from.
    pub fn run_count(&self) -> usize {
        self.runs.len().max(1)
    }

    /// `system under test / baseline` on the headline figure, when both ran.
    pub fn ratio(&self) -> Option<f64> {
        self.ratio_of(self.primary)
    }

    /// `system under test / baseline` on figure `key` (the first baseline: the like-for-like
    /// one when there are two).
    pub fn ratio_of(&self, key: &str) -> Option<f64> {
        self.ratio_to(1, key).map(|r| r.median)
    }

    /// `system under test / results[baseline]` on figure `key`: the median of the runs' own
    /// ratios with min and max, or the one ratio of a single run.
    pub fn ratio_to(&self, baseline: usize, key: &str) -> Option<RatioSpread> {
        if baseline == 0 {
            return None;
        }
        if self.runs.len() > 1 {
            let name = &self.results.get(baseline)?.target;
            let sut = &self.results.first()?.target;
            let each: Vec<f64> = self
                .runs
                .iter()
                .filter_map(|run| {
                    let of = |t: &String| run.iter().find(|r| &r.target == t)?.get(key);
                    stats::ratio(of(sut)?, of(name)?)
                })
                .collect();
            let median = stats::median(&each)?;
            return Some(RatioSpread {
                median,
                min: each.iter().copied().fold(median, f64::min),
                max: each.iter().copied().fold(median, f64::max),
                each,
            });
        }
        let r = stats::ratio(
            self.results.first()?.get(key)?,
            self.results.get(baseline)?.get(key)?,
        )?;
        Some(RatioSpread {
            median: r,
            min: r,
            max: r,
            each: vec![r],
        })
    }

    /// The one JSON object `--json` prints.
    pub fn to_json(&self) -> Value {
        let mut targets = Map::new();
        for r in &self.results {
            let (mut figures, mut min, mut max, mut per_run) =
                (Map::new(), Map::new(), Map::new(), Map::new());
            for f in &r.figures {
                figures.insert(f.key.to_owned(), json!(f.value));
                min.insert(f.key.to_owned(), json!(f.min));
                max.insert(f.key.to_owned(), json!(f.max));
                let each: Vec<Option<f64>> = self
                    .runs
                    .iter()
                    .map(|run| run.iter().find(|x| x.target == r.target)?.get(f.key))
                    .collect();
                per_run.insert(f.key.to_owned(), json!(each));
            }
            targets.insert(
                r.target.clone(),
                json!({
                    "label": r.label,
                    "figures": figures,
                    "min": min,
                    "max": max,
                    "per_run": per_run,
                    "errors": r.errors,
                    "limit": r.limit,
                    "notes": r.notes,
                }),
            );
        }
        let baselines: Vec<Value> = self
            .results
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, b)| {
                let spread = self.ratio_to(i, self.primary);
                let mut ratios = Map::new();
                if let Some(sut) = self.results.first() {
                    for f in &sut.figures {
                        if let Some(r) = self.ratio_to(i, f.key) {
                            ratios.insert(f.key.to_owned(), json!(r.median));
                        }
                    }
                }
                json!({
                    "target": b.target,
                    "label": b.label,
                    "ratio": spread.as_ref().map(|r| r.median),
                    "ratio_min": spread.as_ref().map(|r| r.min),
                    "ratio_max": spread.as_ref().map(|r| r.max),
                    "ratio_per_run": spread.as_ref().map(|r| r.each.clone()),
                    "ratios": ratios,
                })
            })
            .collect();
        let mut ratios = Map::new();
        if let Some(sut) = self.results.first() {
            for f in &sut.figures {
                if let Some(r) = self.ratio_of(f.key) {
                    ratios.insert(f.key.to_owned(), json!(r));
                }
            }
        }
        json!({
            "scenario": self.scenario,
            "seconds": self.seconds,
            "cores": self.cores,
            "nofile_limit": self.nofile_limit,
            "runs": self.run_count(),
            "sut": self.results.first().map(|r| r.target.clone()),
            "baseline": self.results.get(1).map(|r| r.target.clone()),
            "baselines": baselines,
            "primary": self.primary,
            "higher_is_better": self.higher_is_better,
            "ratio": self.ratio(),
            "ratios": ratios,
            "targets": targets,
            "notes": self.notes,
        })
    }
}

/// Formats a number with thousands separators and a sensible number of decimals.
pub fn human(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let decimals = if v.abs() >= 100.0 || v.fract() == 0.0 {
        0
    } else if v.abs() >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 {
        out.insert(0, '-');
    }
    out
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = self.run_count();
        write!(
            f,
            "scenario {} · {} s · {} cores · RLIMIT_NOFILE {}",
            self.scenario, self.seconds, self.cores, self.nofile_limit
        )?;
        if runs > 1 {
            write!(
                f,
                " · {runs} interleaved runs: medians (min–max), ratios are medians of each run's"
            )?;
        }
        writeln!(f)?;
        let width = self
            .results
            .iter()
            .flat_map(|r| r.figures.iter().map(|f| f.key.len()))
            .max()
            .unwrap_or(0);
        for (i, r) in self.results.iter().enumerate() {
            match &r.label {
                Some(label) => writeln!(f, "  [{}] {label}", r.target)?,
                None => writeln!(f, "  [{}]", r.target)?,
            }
            for fig in &r.figures {
                let mut line = format!(
                    "    {:width$}  {:>14} {}",
                    fig.key,
                    human(fig.value),
                    fig.unit
                );
                if runs > 1 && fig.min != fig.max {
                    let _ = write!(line, "  ({}–{})", human(fig.min), human(fig.max));
                }
                // Baseline lines carry no ratio; it is printed on the SUT's lines.
                if i == 0 {
                    let ratios: Vec<String> = (1..self.results.len())
                        .filter_map(|b| {
                            let r = self.ratio_to(b, fig.key)?;
                            Some(format!("{:.2}× {}", r.median, self.results[b].target))
                        })
                        .collect();
                    if !ratios.is_empty() {
                        let _ = write!(line, "   ({})", ratios.join(", "));
                    }
                }
                writeln!(f, "{line}")?;
            }
            for (kind, n) in &r.errors {
                writeln!(f, "    error {kind}: {n}")?;
            }
            if let Some(limit) = &r.limit {
                writeln!(f, "    stopped by a kernel limit: {limit}")?;
            }
            for note in &r.notes {
                writeln!(f, "    note: {note}")?;
            }
        }
        let lower = if self.higher_is_better {
            ""
        } else {
            " (lower is better)"
        };
        let mut any = false;
        for b in 1..self.results.len() {
            let Some(r) = self.ratio_to(b, self.primary) else {
                continue;
            };
            any = true;
            write!(
                f,
                "ratio {}/{} on {}: {:.3}{lower}",
                self.results[0].target, self.results[b].target, self.primary, r.median
            )?;
            if runs > 1 {
                let each: Vec<String> = r.each.iter().map(|x| format!("{x:.3}")).collect();
                write!(
                    f,
                    " (min {:.3}, max {:.3}; runs {})",
                    r.min,
                    r.max,
                    each.join(", ")
                )?;
            }
            writeln!(f)?;
        }
        if !any {
            writeln!(f, "ratio: n/a (no baseline in this run)")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> RunReport {
        let mut sut = TargetResult::new("rusm");
        sut.figure("conns_per_s", 19_000.0, "conn/s");
        let mut base = TargetResult::new("tokio");
        base.figure("conns_per_s", 20_000.0, "conn/s");
        base.errors.insert("ECONNRESET".into(), 2);
        RunReport {
            scenario: "connection-storm".into(),
            seconds: 5.0,
            cores: 2,
            nofile_limit: 20_000,
            primary: "conns_per_s",
            higher_is_better: true,
            results: vec![sut, base],
            runs: vec![],
            notes: vec![],
        }
    }

    /// Three interleaved runs of RUSM and two labelled baselines.
    fn three_runs() -> RunReport {
        let run = |rusm: f64, actor: f64, map: f64| {
            let mut r = TargetResult::new("rusm");
            r.figure("calls_per_s", rusm, "call/s");
            let mut a = TargetResult::new("tokio-actor");
            a.label = Some("like-for-like: a tokio actor".into());
            a.figure("calls_per_s", actor, "call/s");
            let mut m = TargetResult::new("tokio-mutex-map");
            m.label = Some("bare tokio, the physical limit".into());
            m.figure("calls_per_s", map, "call/s");
            vec![r, a, m]
        };
        RunReport {
            scenario: "server-call".into(),
            seconds: 5.0,
            cores: 2,
            nofile_limit: 20_000,
            primary: "calls_per_s",
            higher_is_better: true,
            results: vec![],
            runs: vec![],
            notes: vec![],
        }
        .with_runs(vec![
            run(100.0, 100.0, 400.0),
            run(120.0, 100.0, 400.0),
            run(90.0, 100.0, 300.0),
        ])
    }

    #[test]
    fn runs_give_medians_with_min_max_and_ratios_to_each_baseline() {
        let r = three_runs();
        assert_eq!(r.run_count(), 3);
        let fig = r.results[0].figures[0];
        assert_eq!((fig.value, fig.min, fig.max), (100.0, 90.0, 120.0));
        let actor = r.ratio_to(1, "calls_per_s").unwrap();
        assert_eq!((actor.median, actor.min, actor.max), (1.0, 0.9, 1.2));
        let map = r.ratio_to(2, "calls_per_s").unwrap();
        assert_eq!(map.each, vec![0.25, 0.3, 0.3]);
        assert_eq!(
            r.ratio(),
            Some(1.0),
            "the headline ratio is to the first baseline"
        );
        let v = r.to_json();
        assert_eq!(v["runs"], 3);
        assert_eq!(v["baselines"][1]["target"], "tokio-mutex-map");
        assert_eq!(v["baselines"][1]["label"], "bare tokio, the physical limit");
        assert_eq!(v["baselines"][1]["ratio"], 0.3);
        assert_eq!(v["baselines"][0]["ratio_min"], 0.9);
        assert_eq!(v["targets"]["rusm"]["min"]["calls_per_s"], 90.0);
        assert_eq!(v["targets"]["rusm"]["per_run"]["calls_per_s"][1], 120.0);
        let text = r.to_string();
        for want in [
            "3 interleaved runs",
            "[tokio-actor] like-for-like: a tokio actor",
            "(90–120)",
            "(1.00× tokio-actor, 0.30× tokio-mutex-map)",
            "ratio rusm/tokio-mutex-map on calls_per_s: 0.300 (min 0.250, max 0.300; runs 0.250, 0.300, 0.300)",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
    }

    #[test]
    fn ratio_is_sut_over_baseline() {
        assert_eq!(report().ratio(), Some(0.95));
    }

    #[test]
    fn json_has_scenario_cores_targets_and_ratio() {
        let v = report().to_json();
        assert_eq!(v["scenario"], "connection-storm");
        assert_eq!(v["cores"], 2);
        assert_eq!(v["ratio"], 0.95);
        assert_eq!(v["targets"]["tokio"]["figures"]["conns_per_s"], 20_000.0);
        assert_eq!(v["targets"]["tokio"]["errors"]["ECONNRESET"], 2);
    }

    #[test]
    fn text_output_shows_both_targets_and_the_ratio() {
        let text = report().to_string();
        assert!(
            text.contains("[rusm]") && text.contains("[tokio]"),
            "{text}"
        );
        assert!(text.contains("19,000"), "{text}");
        assert!(
            text.contains("ratio rusm/tokio on conns_per_s: 0.950"),
            "{text}"
        );
    }

    #[test]
    fn human_numbers_group_thousands() {
        assert_eq!(human(1_234_567.4), "1,234,567");
        assert_eq!(human(12.345), "12.35");
        assert_eq!(human(-1500.0), "-1,500");
        assert_eq!(human(0.5), "0.500");
        assert_eq!(human(16.0), "16");
    }
}
