//! What a run measured: figures per target, the ratio rusm/tokio, printed as text or as one JSON
//! object.

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
}

impl Figure {
    /// A figure.
    pub fn new(key: &'static str, value: f64, unit: &'static str) -> Self {
        Figure { key, value, unit }
    }
}

/// What one target did in one scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetResult {
    /// `rusm` or `tokio`.
    pub target: String,
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
    /// The system under test first, then the baseline if one ran.
    pub results: Vec<TargetResult>,
    /// Notes about the run as a whole (fallbacks, skipped baseline).
    pub notes: Vec<String>,
}

impl RunReport {
    /// `system under test / baseline` on the headline figure, when both ran.
    pub fn ratio(&self) -> Option<f64> {
        self.ratio_of(self.primary)
    }

    /// `system under test / baseline` on figure `key`.
    pub fn ratio_of(&self, key: &str) -> Option<f64> {
        match self.results.as_slice() {
            [sut, base, ..] => stats::ratio(sut.get(key)?, base.get(key)?),
            _ => None,
        }
    }

    /// The one JSON object `--json` prints.
    pub fn to_json(&self) -> Value {
        let mut targets = Map::new();
        for r in &self.results {
            let mut figures = Map::new();
            for f in &r.figures {
                figures.insert(f.key.to_owned(), json!(f.value));
            }
            targets.insert(
                r.target.clone(),
                json!({
                    "figures": figures,
                    "errors": r.errors,
                    "limit": r.limit,
                    "notes": r.notes,
                }),
            );
        }
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
            "sut": self.results.first().map(|r| r.target.clone()),
            "baseline": self.results.get(1).map(|r| r.target.clone()),
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
        writeln!(
            f,
            "scenario {} · {} s · {} cores · RLIMIT_NOFILE {}",
            self.scenario, self.seconds, self.cores, self.nofile_limit
        )?;
        let width = self
            .results
            .iter()
            .flat_map(|r| r.figures.iter().map(|f| f.key.len()))
            .max()
            .unwrap_or(0);
        for r in &self.results {
            writeln!(f, "  [{}]", r.target)?;
            for fig in &r.figures {
                let mut line = format!(
                    "    {:width$}  {:>14} {}",
                    fig.key,
                    human(fig.value),
                    fig.unit
                );
                if r.target != self.results[0].target {
                    // Baseline lines carry no ratio; it is printed on the SUT's lines.
                } else if let Some(ratio) = self.ratio_of(fig.key) {
                    let _ = write!(line, "   ({ratio:.2}× tokio)");
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
        match self.ratio() {
            Some(ratio) => writeln!(
                f,
                "ratio {}/{} on {}: {ratio:.3}{}",
                self.results[0].target,
                self.results[1].target,
                self.primary,
                if self.higher_is_better {
                    ""
                } else {
                    " (lower is better)"
                }
            )?,
            None => writeln!(f, "ratio: n/a (no baseline in this run)")?,
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
            notes: vec![],
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
