//! The scope list (`spec-scope.toml`): which scripts of the spec suite wafer is tested
//! against. Every top-level `.wast` file is listed, in or out with a reason, so a file added
//! to the suite cannot silently go untested; subdirectories are listed as groups.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the scope list lives, next to this file.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-scope.toml")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub included: bool,
    pub reason: String,
}

/// The parsed scope list.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Top-level files by file name.
    pub files: BTreeMap<String, Entry>,
    /// Subdirectories (`proposals/threads`, `legacy`) by path relative to the suite.
    pub groups: BTreeMap<String, Entry>,
    /// Assertions of proposal scripts that a later standard overturned, by script path and
    /// line (`"proposals/threads/imports.wast:309"`), with the reason. They count as skipped
    /// under `superseded: <reason>` when wafer follows the newer rule.
    pub superseded: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    files: BTreeMap<String, String>,
    #[serde(default)]
    groups: BTreeMap<String, String>,
    #[serde(default)]
    superseded: BTreeMap<String, String>,
}

/// `"in"`, `"in: why"` or `"out: why"`; an exclusion needs its reason.
fn entry(name: &str, text: &str) -> Result<Entry, String> {
    let (word, reason) = text.split_once(':').unwrap_or((text, ""));
    let reason = reason.trim().to_string();
    match word.trim() {
        "in" => Ok(Entry {
            included: true,
            reason,
        }),
        "out" if !reason.is_empty() => Ok(Entry {
            included: false,
            reason,
        }),
        "out" => Err(format!("{name}: `out` needs a reason (\"out: <why>\")")),
        other => Err(format!(
            "{name}: expected \"in\" or \"out: <why>\", found `{other}`"
        )),
    }
}

impl Scope {
    pub fn parse(text: &str) -> Result<Scope, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| format!("spec scope list: {e}"))?;
        let convert = |map: BTreeMap<String, String>| {
            map.into_iter()
                .map(|(name, text)| entry(&name, &text).map(|e| (name, e)))
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        Ok(Scope {
            files: convert(raw.files)?,
            groups: convert(raw.groups)?,
            superseded: raw.superseded,
        })
    }

    pub fn load(path: &Path) -> Result<Scope, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Scope::parse(&text)
    }

    /// Disagreements between the list and the suite at `root`: top-level `.wast` files that
    /// are not listed, and listed files or groups that do not exist.
    pub fn coverage_problems(&self, root: &Path) -> Result<Vec<String>, String> {
        let present = top_level_scripts(root)?;
        let mut problems = Vec::new();
        for name in &present {
            if !self.files.contains_key(name) {
                problems.push(format!("{name} is in the suite but not in the scope list"));
            }
        }
        for name in self.files.keys() {
            if !present.contains(name) {
                problems.push(format!("{name} is in the scope list but not in the suite"));
            }
        }
        for group in self.groups.keys() {
            if !root.join(group).is_dir() {
                problems.push(format!(
                    "group {group} is in the scope list but not in the suite"
                ));
            }
        }
        Ok(problems)
    }

    /// Why the assertion at `line` of `file` no longer holds, if the list says so.
    pub fn superseded(&self, file: &str, line: usize) -> Option<&str> {
        self.superseded
            .get(&format!("{file}:{line}"))
            .map(String::as_str)
    }

    /// The in-scope scripts, as paths relative to `root` (`i32.wast`, `custom/x.wast`).
    pub fn selected(&self, root: &Path) -> Result<Vec<String>, String> {
        let mut selected: Vec<String> = self
            .files
            .iter()
            .filter(|(_, e)| e.included)
            .map(|(name, _)| name.clone())
            .collect();
        for (group, _) in self.groups.iter().filter(|(_, e)| e.included) {
            for name in scripts_in(&root.join(group))? {
                selected.push(format!("{group}/{name}"));
            }
        }
        Ok(selected)
    }
}

/// The `.wast` file names directly in `root`, sorted.
pub fn top_level_scripts(root: &Path) -> Result<Vec<String>, String> {
    scripts_in(root)
}

fn scripts_in(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".wast") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_exclusions_need_reasons() {
        let scope = Scope::parse(
            "[files]\n\"a.wast\" = \"in\"\n\"b.wast\" = \"out: simd\"\n[groups]\n\"legacy\" = \"out: old exceptions\"\n",
        )
        .unwrap();
        assert!(scope.files["a.wast"].included);
        assert_eq!(
            scope.files["b.wast"],
            Entry {
                included: false,
                reason: "simd".into()
            }
        );
        assert!(!scope.groups["legacy"].included);
        assert!(Scope::parse("[files]\n\"b.wast\" = \"out\"\n")
            .unwrap_err()
            .contains("needs a reason"));
        assert!(Scope::parse("[files]\n\"b.wast\" = \"maybe\"\n").is_err());
        assert!(
            Scope::parse("[files]\n\"a.wast\" = \"in\"\n\"a.wast\" = \"in\"\n").is_err(),
            "listed twice"
        );
    }

    #[test]
    fn coverage_finds_unlisted_and_vanished_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.wast", "new.wast", "notes.md"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("legacy")).unwrap();
        std::fs::write(dir.path().join("legacy/x.wast"), "").unwrap();
        let scope = Scope::parse(
            "[files]\n\"a.wast\" = \"in\"\n\"gone.wast\" = \"in\"\n[groups]\n\"legacy\" = \"in\"\n\"proposals/x\" = \"out: x\"\n",
        )
        .unwrap();
        let problems = scope.coverage_problems(dir.path()).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("new.wast is in the suite"));
        assert!(problems[1].starts_with("gone.wast is in the scope list"));
        assert!(problems[2].starts_with("group proposals/x"));
        assert_eq!(
            scope.selected(dir.path()).unwrap(),
            ["a.wast", "gone.wast", "legacy/x.wast"]
        );
    }

    /// The real scope list must name every top-level script of the real suite exactly once
    /// (TOML refuses duplicate keys). Skipped when the suite is not checked out.
    #[test]
    fn scope_list_covers_the_suite() {
        let scope = Scope::load(&default_path()).unwrap();
        let Some(root) = crate::suite_root() else {
            eprintln!("spec suite not found; scope coverage not checked");
            return;
        };
        let problems = scope.coverage_problems(&root).unwrap();
        assert!(
            problems.is_empty(),
            "update tests/spec-scope.toml:\n{}",
            problems.join("\n")
        );
        assert!(scope.selected(&root).unwrap().len() > 100);
    }
}
