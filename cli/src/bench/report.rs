//! What `wafer bench` found, and its three forms: a text table, JSON and an SVG bar chart.

use super::measure::Stats;
use serde_json::{json, Value};
use std::fmt::Write;

/// The result for one runtime.
#[derive(Clone, Debug)]
pub enum Outcome {
    Timed {
        exit: Stats,
        /// None when the module printed nothing.
        first: Option<Stats>,
    },
    /// It ran, but printed something else or exited otherwise than wafer: not timed.
    Mismatch(String),
    NotFound(String),
    CannotRun(String),
}

#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    /// The command line that was timed (empty when nothing ran).
    pub command: String,
    pub outcome: Outcome,
}

/// The rows measured on one machine.
#[derive(Clone, Debug)]
pub struct Section {
    /// "this machine" or the board's ssh destination.
    pub place: String,
    /// Host name and architecture, as the machine reports them.
    pub host: String,
    pub arch: String,
    /// The wafer executable runs under qemu-user here.
    pub emulated: bool,
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub module: String,
    pub args: Vec<String>,
    pub runs: usize,
    pub warmup: usize,
    pub sections: Vec<Section>,
}

impl Section {
    /// wafer's row (the first), when it was timed.
    fn reference(&self) -> Option<(&Stats, Option<&Stats>)> {
        match &self.rows.first()?.outcome {
            Outcome::Timed { exit, first } => Some((exit, first.as_ref())),
            _ => None,
        }
    }
}

/// A time in the unit that suits it.
pub fn format_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else {
        format!("{:.1} us", ns / 1e3)
    }
}

/// A p10-p90 range in the unit of its upper end.
pub fn format_range(lo: f64, hi: f64) -> String {
    let (div, unit) = if hi >= 1e9 {
        (1e9, "s")
    } else if hi >= 1e6 {
        (1e6, "ms")
    } else {
        (1e3, "us")
    };
    format!("{:.3}-{:.3} {unit}", lo / div, hi / div)
}

fn ratio(value: f64, reference: Option<f64>) -> String {
    match reference {
        Some(r) if r > 0.0 => format!("{:.2}", value / r),
        _ => "-".into(),
    }
}

/// The table with its notes, as printed.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "wafer bench: {}{}, {} runs per runtime after {} warm-up, in interleaved rounds",
        report.module,
        if report.args.is_empty() {
            String::new()
        } else {
            format!(" {}", report.args.join(" "))
        },
        report.runs,
        report.warmup
    );
    for section in &report.sections {
        let _ = writeln!(
            out,
            "\n{} ({}, {}){}",
            section.place,
            section.host,
            section.arch,
            if section.emulated {
                ", emulated (qemu-user)"
            } else {
                ""
            }
        );
        let reference = section.reference();
        let header = [
            "runtime",
            "exit: median",
            "p10-p90",
            "x wafer",
            "first output: median",
            "p10-p90",
            "x wafer",
        ];
        let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        let mut notes = Vec::new();
        for row in &section.rows {
            match &row.outcome {
                Outcome::Timed { exit, first } => {
                    let mut line = vec![
                        row.name.clone(),
                        format_time(exit.median),
                        format_range(exit.p10, exit.p90),
                        ratio(exit.median, reference.map(|r| r.0.median)),
                    ];
                    match first {
                        Some(f) => line.extend([
                            format_time(f.median),
                            format_range(f.p10, f.p90),
                            ratio(f.median, reference.and_then(|r| r.1).map(|r| r.median)),
                        ]),
                        None => line.extend(["no output".into(), "".into(), "".into()]),
                    }
                    lines.push(line);
                }
                Outcome::Mismatch(why) => {
                    lines.push(vec![row.name.clone(), format!("mismatch: {why}")]);
                }
                Outcome::NotFound(why) => notes.push(format!("not found: {}: {why}", row.name)),
                Outcome::CannotRun(why) => {
                    notes.push(format!("cannot run it: {}: {why}", row.name))
                }
            }
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                lines
                    .iter()
                    .filter(|l| l.len() == header.len())
                    .map(|l| l[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for line in &lines {
            let mut text = String::new();
            for (c, cell) in line.iter().enumerate() {
                if line.len() != header.len() && c == line.len() - 1 {
                    text += cell;
                } else if c == 0 {
                    text += &format!("{cell:<w$}", w = widths[c]);
                } else {
                    text += &format!("  {cell:>w$}", w = widths[c]);
                }
                if line.len() != header.len() && c == 0 {
                    text += "  ";
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        }
        for note in notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    let _ = writeln!(
        out,
        "\nexit: exec to exit. first output: exec until the first byte reaches this process's pipe \
         on the child's stdout (for a driver whose first host call writes, exec to its first host call)."
    );
    out
}

fn stats_json(s: &Stats) -> Value {
    let ms = |ns: f64| ns / 1e6;
    json!({
        "runs": s.runs,
        "median_ms": ms(s.median),
        "p10_ms": ms(s.p10),
        "p90_ms": ms(s.p90),
        "mean_ms": ms(s.mean),
        "stddev_ms": ms(s.stddev),
        "min_ms": ms(s.min),
        "max_ms": ms(s.max),
    })
}

/// The report as JSON: every section's rows with both measurements in milliseconds.
pub fn to_json(report: &Report) -> Value {
    let sections: Vec<Value> = report
        .sections
        .iter()
        .map(|section| {
            let reference = section.reference();
            let rows: Vec<Value> = section
                .rows
                .iter()
                .map(|row| {
                    let mut v = json!({ "name": row.name, "command": row.command });
                    let o = v.as_object_mut().expect("an object");
                    match &row.outcome {
                        Outcome::Timed { exit, first } => {
                            o.insert("status".into(), "timed".into());
                            o.insert("exec_to_exit".into(), stats_json(exit));
                            o.insert(
                                "exec_to_first_output".into(),
                                first.as_ref().map(stats_json).unwrap_or(Value::Null),
                            );
                            let r = |v: f64, r: Option<f64>| match r {
                                Some(r) if r > 0.0 => json!(v / r),
                                _ => Value::Null,
                            };
                            o.insert(
                                "ratio_to_wafer".into(),
                                json!({
                                    "exec_to_exit": r(exit.median, reference.map(|x| x.0.median)),
                                    "exec_to_first_output": match first {
                                        Some(f) => r(f.median, reference.and_then(|x| x.1).map(|x| x.median)),
                                        None => Value::Null,
                                    },
                                }),
                            );
                        }
                        Outcome::Mismatch(why) => {
                            o.insert("status".into(), "mismatch".into());
                            o.insert("reason".into(), why.clone().into());
                        }
                        Outcome::NotFound(why) => {
                            o.insert("status".into(), "not found".into());
                            o.insert("reason".into(), why.clone().into());
                        }
                        Outcome::CannotRun(why) => {
                            o.insert("status".into(), "cannot run".into());
                            o.insert("reason".into(), why.clone().into());
                        }
                    }
                    v
                })
                .collect();
            json!({
                "place": section.place,
                "host": section.host,
                "arch": section.arch,
                "emulated": section.emulated,
                "runtimes": rows,
            })
        })
        .collect();
    json!({
        "module": report.module,
        "args": report.args,
        "runs": report.runs,
        "warmup": report.warmup,
        "sections": sections,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Both measurements of every timed row as horizontal bars (medians, with a p10-p90 whisker)
/// on one time axis.
pub fn chart(report: &Report) -> String {
    const LABEL: f64 = 330.0;
    const BARS: f64 = 440.0;
    const BAR: f64 = 14.0;
    let width = LABEL + BARS + 110.0;
    // A section heading (no figures) or a runtime's two measurements.
    type ChartRow<'a> = (String, Option<(&'a Stats, Option<&'a Stats>)>);
    let mut rows: Vec<ChartRow> = Vec::new();
    for section in &report.sections {
        rows.push((
            format!(
                "{} ({}){}",
                section.place,
                section.arch,
                if section.emulated {
                    ", emulated (qemu-user)"
                } else {
                    ""
                }
            ),
            None,
        ));
        for row in &section.rows {
            if let Outcome::Timed { exit, first } = &row.outcome {
                rows.push((row.name.clone(), Some((exit, first.as_ref()))));
            }
        }
    }
    let max = rows
        .iter()
        .filter_map(|r| r.1)
        .map(|(e, f)| e.p90.max(f.map_or(0.0, |f| f.p90)))
        .fold(0.0, f64::max)
        .max(1.0);
    let x = |ns: f64| LABEL + ns / max * BARS;
    let mut body = String::new();
    let mut y = 50.0;
    for (name, data) in &rows {
        match data {
            None => {
                y += 8.0;
                let _ = writeln!(
                    body,
                    r#"<text x="10" y="{:.1}" font-weight="bold">{}</text>"#,
                    y + 12.0,
                    xml_escape(name)
                );
                y += 22.0;
            }
            Some((exit, first)) => {
                let _ = writeln!(
                    body,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LABEL - 8.0,
                    y + BAR + 4.0,
                    xml_escape(name)
                );
                let bars = [(Some(*exit), "#3b6ea5"), (*first, "#e3a33b")];
                for (stats, colour) in bars {
                    if let Some(s) = stats {
                        let _ = writeln!(
                            body,
                            r#"<rect x="{LABEL:.1}" y="{y:.1}" width="{:.1}" height="{BAR:.1}" fill="{colour}"/>"#,
                            x(s.median) - LABEL
                        );
                        let _ = writeln!(
                            body,
                            r#"<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black"/>"#,
                            x(s.p10),
                            x(s.p90),
                            y + BAR / 2.0,
                            y + BAR / 2.0
                        );
                        let _ = writeln!(
                            body,
                            r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                            x(s.p90.max(s.median)) + 4.0,
                            y + BAR - 3.0,
                            format_time(s.median)
                        );
                    }
                    y += BAR + 2.0;
                }
                y += 8.0;
            }
        }
    }
    let height = y + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">wafer bench: {} ({} runs, medians; whiskers p10-p90)</text>
<rect x="10" y="30" width="12" height="12" fill="#3b6ea5"/><text x="27" y="40">exec to exit</text>
<rect x="130" y="30" width="12" height="12" fill="#e3a33b"/><text x="147" y="40">exec to first output</text>"##,
        xml_escape(&report.module),
        report.runs
    );
    svg += &body;
    let axis = y + 10.0;
    let _ = writeln!(
        svg,
        r#"<line x1="{LABEL:.1}" x2="{:.1}" y1="{axis:.1}" y2="{axis:.1}" stroke="black"/>"#,
        LABEL + BARS
    );
    for i in 0..=4 {
        let ns = max * i as f64 / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            x(ns),
            axis + 16.0,
            format_time(ns)
        );
    }
    svg += "</svg>\n";
    svg
}
