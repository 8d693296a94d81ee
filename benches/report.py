"""Turns a hyperfine JSON export into a Markdown table of medians and ratios, writes it to a
results file, and replaces the matching marked section of the README.

    python3 report.py <name> <hyperfine.json> <out.md> <README.md> <note>

The first command in the export is the baseline of the "x baseline" column."""
import json
import re
import sys


def main():
    name, data_path, out_path, readme_path, note = sys.argv[1:6]
    results = json.load(open(data_path))["results"]
    base = results[0]["median"]
    wafer = next((r["median"] for r in results if r["command"].startswith("wafer")), None)
    lines = [
        f"| program | median | mean ± σ | x {results[0]['command']} | x wafer |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        ms = lambda s: f"{s * 1000:.3f} ms"
        rel = f"{r['median'] / wafer:.2f}" if wafer else "-"
        lines.append(
            f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | "
            f"{r['median'] / base:.2f} | {rel} |"
        )
    table = "\n".join(lines) + f"\n\n{note}; medians of hyperfine runs measured side by side.\n"
    open(out_path, "w").write(table)

    replace_section(readme_path, name, table)


def replace_section(readme_path, name, text):
    """Puts `text` between the README's `<!-- bench:NAME:begin -->` and `:end -->` markers, if
    it has them."""
    readme = open(readme_path).read()
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    if begin in readme and end in readme:
        readme = re.sub(
            re.escape(begin) + ".*?" + re.escape(end),
            lambda _: begin + "\n" + text + end,
            readme,
            flags=re.S,
        )
        open(readme_path, "w").write(readme)


if __name__ == "__main__":
    main()
