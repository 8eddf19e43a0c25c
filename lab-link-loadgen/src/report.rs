//! Results: per scenario the figures and the correctness verdict, as JSON
//! and as tables, and the side-by-side comparison with a reference run.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which direction of a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller is better (latency, CPU time, memory).
    Lower,
    /// Larger is better (throughput).
    Higher,
    /// Neither: context (a count, a size).
    Neither,
}

/// One measured number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// What it is (`server CPU per delivery`).
    pub name: String,
    /// The value, in `unit`.
    pub value: f64,
    /// The unit (`µs`, `/s`, `KiB`, …).
    pub unit: String,
    /// Which direction is better.
    pub better: Better,
    /// The project's target for this figure, if any (`< 2 ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the target was met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
    /// A target on the ratio to the reference (how many times better ours
    /// must be); when the reference ran, it replaces `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_target: Option<f64>,
}

/// One scenario's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name (`fan_out`).
    pub scenario: String,
    /// Whether every correctness check passed. A fast wrong answer is a
    /// failure.
    pub ok: bool,
    /// Why not, one line each.
    pub failures: Vec<String>,
    /// The sizes it ran with.
    pub params: Map<String, Value>,
    /// The measured figures.
    pub figures: Vec<Figure>,
}

impl ScenarioResult {
    /// An empty result, correct until a failure is added.
    pub fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            ok: true,
            failures: Vec::new(),
            params: Map::new(),
            figures: Vec::new(),
        }
    }

    /// Records a size it ran with.
    pub fn param(&mut self, name: &str, value: impl Into<Value>) {
        self.params.insert(name.to_owned(), value.into());
    }

    /// Records a figure.
    pub fn figure(&mut self, name: &str, value: f64, unit: &str, better: Better) {
        self.figures.push(Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            better,
            target: None,
            met: None,
            ratio_target: None,
        });
    }

    /// Records a figure with a target: met when `value` is below `limit`
    /// (for [`Better::Lower`]) or at least `limit` (otherwise).
    pub fn figure_with_target(
        &mut self,
        name: &str,
        value: f64,
        unit: &str,
        better: Better,
        limit: f64,
    ) {
        let (target, met) = match better {
            Better::Lower => (format!("< {} {unit}", format_value(limit)), value < limit),
            _ => (format!(">= {} {unit}", format_value(limit)), value >= limit),
        };
        self.figure(name, value, unit, better);
        if let Some(figure) = self.figures.last_mut() {
            figure.target = Some(target);
            figure.met = Some(met);
        }
    }

    /// Sets a target on the ratio to the reference for the last figure.
    pub fn ratio_target(&mut self, times: f64) {
        if let Some(figure) = self.figures.last_mut() {
            figure.ratio_target = Some(times);
        }
    }

    /// Records a correctness failure.
    pub fn fail(&mut self, reason: impl Into<String>) {
        self.ok = false;
        self.failures.push(reason.into());
    }

    /// Records a failure when `condition` does not hold.
    pub fn check(&mut self, condition: bool, reason: impl FnOnce() -> String) {
        if !condition {
            self.fail(reason());
        }
    }
}

/// One run of the load generator against one server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// A label for the server (`ours`, `reference`).
    pub label: String,
    /// Its base URL.
    pub target: String,
    /// The scenarios run, in order.
    pub scenarios: Vec<ScenarioResult>,
}

impl Report {
    /// Adds a scenario, replacing an earlier result of the same name.
    pub fn merge(&mut self, result: ScenarioResult) {
        match self
            .scenarios
            .iter_mut()
            .find(|s| s.scenario == result.scenario)
        {
            Some(slot) => *slot = result,
            None => self.scenarios.push(result),
        }
    }

    /// Whether every scenario was correct.
    pub fn ok(&self) -> bool {
        self.scenarios.iter().all(|s| s.ok)
    }

    /// The results of one run as a Markdown table.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "scenario".to_owned(),
            "figure".to_owned(),
            "value".to_owned(),
            "target".to_owned(),
        ]];
        for scenario in &self.scenarios {
            rows.push([
                scenario.scenario.clone(),
                "correct".to_owned(),
                verdict(scenario),
                String::new(),
            ]);
            for figure in &scenario.figures {
                rows.push([
                    scenario.scenario.clone(),
                    figure.name.clone(),
                    with_unit(figure.value, &figure.unit),
                    target_cell(figure),
                ]);
            }
        }
        markdown(&rows) + &failures([self])
    }
}

/// One line of the comparison: a figure of ours beside the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The scenario.
    pub scenario: String,
    /// The figure's name.
    pub figure: String,
    /// Its unit.
    pub unit: String,
    /// Ours.
    pub ours: Option<f64>,
    /// The reference's.
    pub reference: Option<f64>,
    /// How many times better ours is (above 1: ours is better): reference
    /// over ours for [`Better::Lower`], ours over reference for
    /// [`Better::Higher`], none for [`Better::Neither`].
    pub ratio: Option<f64>,
    /// The bare tokio-tungstenite server's (`lab-link-bare`), when it ran
    /// this scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bare: Option<f64>,
    /// How many times better ours is than the bare server (as `ratio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bare_ratio: Option<f64>,
    /// Our target and whether we met it.
    pub target: Option<String>,
    /// Whether our figure met the target.
    pub met: Option<bool>,
}

/// The whole run: ours, the reference's and the bare server's if run, the
/// comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Combined {
    /// Ours.
    pub ours: Report,
    /// The reference's.
    pub reference: Option<Report>,
    /// The bare tokio-tungstenite server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bare: Option<Report>,
    /// Figure by figure.
    pub comparison: Vec<Comparison>,
}

/// Lines up ours, the reference's and the bare server's figures, in our
/// order (figures only the reference has are appended).
pub fn compare(ours: &Report, reference: Option<&Report>, bare: Option<&Report>) -> Combined {
    let find = |report: Option<&Report>, scenario: &str, figure: &str| -> Option<Figure> {
        report?
            .scenarios
            .iter()
            .find(|s| s.scenario == scenario)?
            .figures
            .iter()
            .find(|f| f.name == figure)
            .cloned()
    };
    let mut comparison = Vec::new();
    for scenario in &ours.scenarios {
        for figure in &scenario.figures {
            let theirs = find(reference, &scenario.scenario, &figure.name).map(|f| f.value);
            let ratio = theirs.and_then(|theirs| ratio(figure.better, figure.value, theirs));
            let bare = find(bare, &scenario.scenario, &figure.name).map(|f| f.value);
            let bare_ratio = bare.and_then(|bare| self::ratio(figure.better, figure.value, bare));
            let (target, met) = match (figure.ratio_target, ratio) {
                (Some(times), Some(ratio)) => (
                    Some(format!("ratio >= {}x", format_value(times))),
                    Some(ratio >= times),
                ),
                _ => (figure.target.clone(), figure.met),
            };
            comparison.push(Comparison {
                scenario: scenario.scenario.clone(),
                figure: figure.name.clone(),
                unit: figure.unit.clone(),
                ours: Some(figure.value),
                reference: theirs,
                ratio,
                bare,
                bare_ratio,
                target,
                met,
            });
        }
    }
    for scenario in reference.iter().flat_map(|r| &r.scenarios) {
        for figure in &scenario.figures {
            if find(Some(ours), &scenario.scenario, &figure.name).is_none() {
                comparison.push(Comparison {
                    scenario: scenario.scenario.clone(),
                    figure: figure.name.clone(),
                    unit: figure.unit.clone(),
                    ours: None,
                    reference: Some(figure.value),
                    ratio: None,
                    bare: None,
                    bare_ratio: None,
                    target: None,
                    met: None,
                });
            }
        }
    }
    Combined {
        ours: ours.clone(),
        reference: reference.cloned(),
        bare: bare.cloned(),
        comparison,
    }
}

/// How many times better `ours` is than `theirs`.
pub fn ratio(better: Better, ours: f64, theirs: f64) -> Option<f64> {
    let ratio = match better {
        Better::Lower => theirs / ours,
        Better::Higher => ours / theirs,
        Better::Neither => return None,
    };
    ratio.is_finite().then_some(ratio)
}

impl Combined {
    /// The comparison as a Markdown table: figure, ours, reference, ratio,
    /// bare, ratio to bare, target; then a line per scenario saying
    /// whether it was correct.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "scenario".to_owned(),
            "figure".to_owned(),
            "ours".to_owned(),
            "reference".to_owned(),
            "ratio".to_owned(),
            "bare".to_owned(),
            "vs bare".to_owned(),
            "target".to_owned(),
        ]];
        let times = |ratio: Option<f64>| {
            ratio.map_or_else(String::new, |r| format!("{}x", format_value(r)))
        };
        let correct = |report: Option<&Report>, scenario: &str| -> String {
            report
                .and_then(|r| r.scenarios.iter().find(|s| s.scenario == scenario))
                .map_or_else(|| "-".to_owned(), verdict)
        };
        let mut scenarios: Vec<&str> = Vec::new();
        for line in &self.comparison {
            if !scenarios.contains(&line.scenario.as_str()) {
                scenarios.push(&line.scenario);
                rows.push([
                    line.scenario.clone(),
                    "correct".to_owned(),
                    correct(Some(&self.ours), &line.scenario),
                    correct(self.reference.as_ref(), &line.scenario),
                    String::new(),
                    correct(self.bare.as_ref(), &line.scenario),
                    String::new(),
                    String::new(),
                ]);
            }
            let cell = |value: Option<f64>| {
                value.map_or_else(|| "-".to_owned(), |v| with_unit(v, &line.unit))
            };
            rows.push([
                line.scenario.clone(),
                line.figure.clone(),
                cell(line.ours),
                cell(line.reference),
                times(line.ratio),
                cell(line.bare),
                times(line.bare_ratio),
                match (&line.target, line.met) {
                    (Some(target), Some(true)) => format!("{target}: met"),
                    (Some(target), _) => format!("{target}: MISSED"),
                    _ => String::new(),
                },
            ]);
        }
        let reports = std::iter::once(&self.ours)
            .chain(&self.reference)
            .chain(&self.bare);
        markdown(&rows) + &failures(reports)
    }
}

fn verdict(scenario: &ScenarioResult) -> String {
    if scenario.ok {
        "ok".to_owned()
    } else {
        "FAILED (below)".to_owned()
    }
}

/// The failures of `reports`, one bullet each, after a table.
fn failures<'a>(reports: impl IntoIterator<Item = &'a Report>) -> String {
    let mut out = String::new();
    for report in reports {
        for scenario in &report.scenarios {
            for failure in &scenario.failures {
                out.push_str(&format!(
                    "- {} on {}: {failure}\n",
                    scenario.scenario, report.label
                ));
            }
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\nFailures:\n\n{out}")
    }
}

fn target_cell(figure: &Figure) -> String {
    match (&figure.target, figure.met) {
        (Some(target), Some(true)) => format!("{target}: met"),
        (Some(target), _) => format!("{target}: MISSED"),
        _ => String::new(),
    }
}

/// A value and its unit, for a table cell.
fn with_unit(value: f64, unit: &str) -> String {
    if unit.is_empty() {
        format_value(value)
    } else {
        format!("{} {unit}", format_value(value))
    }
}

/// A number with as many digits as it deserves: integers above 1000
/// without decimals, then three significant digits.
pub fn format_value(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value == value.trunc() && magnitude < 1e15 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Rows as a Markdown table, columns padded (the first row is the header).
pub fn markdown<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: &[String; N]| {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        out.push_str(&line(row));
        if index == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w.max(3))).collect();
            out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(label: &str, cpu: f64, rate: f64, ok: bool) -> Report {
        let mut fan_out = ScenarioResult::new("fan_out");
        fan_out.figure_with_target("server CPU per delivery", cpu, "µs", Better::Lower, 1.0);
        fan_out.ratio_target(30.0);
        fan_out.figure("deliveries", rate, "/s", Better::Higher);
        fan_out.figure("subscribers", 100.0, "", Better::Neither);
        if !ok {
            fan_out.fail("gap: expected v3, got v5");
        }
        Report {
            label: label.to_owned(),
            target: "http://127.0.0.1:1/sync".to_owned(),
            scenarios: vec![fan_out],
        }
    }

    #[test]
    fn ratios_say_how_many_times_better_ours_is() {
        assert_eq!(ratio(Better::Lower, 0.5, 17.0), Some(34.0));
        assert_eq!(ratio(Better::Higher, 300.0, 100.0), Some(3.0));
        assert_eq!(ratio(Better::Neither, 1.0, 2.0), None);
        assert_eq!(ratio(Better::Lower, 0.0, 2.0), None);
    }

    #[test]
    fn formats_values() {
        let check = |value, expect: &str| assert_eq!(format_value(value), expect);
        check(123456.7, "123457");
        check(100.0, "100");
        check(42.25, "42.2");
        check(4.567, "4.57");
        check(0.01234, "0.012");
        check(0.0, "0");
    }

    #[test]
    fn comparison_table() {
        let combined = compare(
            &report("ours", 0.5, 300000.0, true),
            Some(&report("reference", 17.0, 60000.0, false)),
            Some(&report("bare", 1.0, 200000.0, true)),
        );
        let expect = "\
| scenario | figure                  | ours      | reference      | ratio | bare      | vs bare | target            |
|----------|-------------------------|-----------|----------------|-------|-----------|---------|-------------------|
| fan_out  | correct                 | ok        | FAILED (below) |       | ok        |         |                   |
| fan_out  | server CPU per delivery | 0.500 µs  | 17 µs          | 34x   | 1 µs      | 2x      | ratio >= 30x: met |
| fan_out  | deliveries              | 300000 /s | 60000 /s       | 5x    | 200000 /s | 1.50x   |                   |
| fan_out  | subscribers             | 100       | 100            |       | 100       |         |                   |

Failures:

- fan_out on reference: gap: expected v3, got v5
";
        assert_eq!(combined.table(), expect);
        let json = serde_json::to_string(&combined).unwrap();
        let back: Combined = serde_json::from_str(&json).unwrap();
        assert_eq!(back, combined);
    }

    #[test]
    fn single_run_table_and_merge() {
        let mut run = report("ours", 2.0, 10.0, true);
        run.merge(report("ours", 0.5, 10.0, false).scenarios.remove(0));
        assert_eq!(run.scenarios.len(), 1);
        assert!(!run.ok());
        let table = run.table();
        assert!(
            table.contains("| fan_out  | server CPU per delivery | 0.500 µs ")
                && table.contains("| < 1 µs: met |"),
            "{table}"
        );
        assert!(table.contains("| FAILED (below) |"), "{table}");
        assert!(
            table.ends_with("- fan_out on ours: gap: expected v3, got v5\n"),
            "{table}"
        );
    }
}
