#!/usr/bin/env python3
"""Builds docs/perf/report.md and report.json from the sections infra/bench.sh writes.

Run by infra/bench.sh after any section; not meant to be run by hand (it is harmless if it is).

- report.json: every section's JSON as written (docs/perf/<section>.json), the issue's figures
  extracted from them ("figures"), the previous report's figures ("previous"), the machine and
  the date.
- report.md: the figures as "previous → now" beside their goals, then each section's Markdown.

The previous figures come from the report.json found before this run (the caller keeps a copy
and passes its path); a report written before figures existed is read with the same
extraction. A section not run yet is "not measured", never an error.
"""

import datetime
import glob
import json
import os
import platform
import sys

PERF = sys.argv[1] if len(sys.argv) > 1 else "docs/perf"
# A copy of the report.json this run replaces (infra/bench.sh keeps it before any section runs).
PREVIOUS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(PERF, "report.json")
SKIP = {"report.json"}


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dig(d, *path):
    """d[path[0]][path[1]]…, or None where anything is missing."""
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def list_case(sections, *words):
    """The registrant-list case whose name holds every one of `words` (case-insensitive)."""
    cases = dig(sections, "registrants_list", "cases") or {}
    if len(words) == 1 and words[0] in cases:
        return cases[words[0]]
    for name, c in cases.items():
        if all(w.lower() in name.lower() for w in words):
            return c
    return None


def downloads(sections):
    """The download runs bulk_csv records: a list of them (one per size), or an old single one."""
    export = dig(sections, "bulk_csv", "export")
    if isinstance(export, list):
        return [e for e in export if isinstance(e, dict)]
    return [export] if isinstance(export, dict) else []


def download_at(sections, count, field):
    """A field of the download at `count` registrants."""
    for e in downloads(sections):
        if e.get("registrants") == count:
            return e.get(field)
    return None


def per_function(sections, section, field):
    """{function: value} of a coldstart/build per-function field."""
    if section == "coldstart":
        fns = dig(sections, "coldstart", "functions") or {}
        return {f: v.get(field) for f, v in fns.items() if v.get(field) is not None}
    return dig(sections, "build", "binaries") or {}


def worst(values):
    if not values:
        return None
    name = max(values, key=values.get)
    return values[name], name


def figures(sections):
    """The issue's table (and its "Also"), as {key: value or None}."""
    out = {}
    for key, words in [
        ("list_name_search", ("name search",)),
        ("list_page_100", ("no filter", "page 100")),
        ("list_group_filter", ("group",)),
        ("list_first_page", ("no filter, page 1",)),
        ("list_after_save", ("no filter", "page 1", "after another container saved")),
    ]:
        c = list_case(sections, *words)
        out[key + "_p50_ms"] = dig(c, "p50_ms")
        out[key + "_p99_ms"] = dig(c, "p99_ms")
        out[key + "_store_calls"] = dig(c, "store_calls_for_the_list")
    # Older reports kept the ratio beside a single download; newer ones in each download.
    out["download_to_bare_ratio"] = download_at(
        sections, 10_000, "export_to_bare_time_ratio"
    ) or dig(sections, "bulk_csv", "bare_loop", "export_to_bare_time_ratio")
    out["download_heap_mib_10000"] = download_at(sections, 10_000, "heap_peak_mib")
    out["download_heap_mib_50000"] = download_at(sections, 50_000, "heap_peak_mib")
    out["import_rows_per_second"] = dig(sections, "bulk_csv", "import", "rows_per_second")
    out["import_heap_mib"] = dig(sections, "bulk_csv", "import", "heap_peak_mib")
    init = worst(per_function(sections, "coldstart", "init_median_ms"))
    out["lambda_init_median_ms_worst"] = init[0] if init else None
    out["lambda_init_worst_function"] = init[1] if init else None
    first = worst(per_function(sections, "coldstart", "first_answer_median_ms"))
    out["lambda_first_answer_median_ms_worst"] = first[0] if first else None
    sizes = per_function(sections, "coldstart", "arm64_stripped_bytes") or per_function(
        sections, "build", None
    )
    size = worst(sizes)
    out["arm64_bootstrap_bytes_largest"] = size[0] if size else None
    out["arm64_bootstrap_largest_function"] = size[1] if size else None
    out["login_p50_ms"] = dig(sections, "auth_audit", "login", "p50_ms")
    out["login_p99_ms"] = dig(sections, "auth_audit", "login", "p99_ms")
    out["audit_append_entries_per_second"] = dig(
        sections, "auth_audit", "audit", "append_entries_per_second"
    )
    out["audit_entries"] = dig(sections, "auth_audit", "audit", "entries")
    out["audit_verify_seconds"] = dig(sections, "auth_audit", "audit", "verify_seconds")
    return out


# (label, goal, unit, keys shown "a / b") in the order.
ROWS = [
    ("name search (partial, kana), p50 / p99", "p99 ≤ 10 ms", "ms",
     ["list_name_search_p50_ms", "list_name_search_p99_ms"]),
    ("name search, Store calls for the list", "≤ 2", "", ["list_name_search_store_calls"]),
    ("no filter, page 100, p50 / p99", "p99 ≤ 10 ms", "ms",
     ["list_page_100_p50_ms", "list_page_100_p99_ms"]),
    ("no filter, page 100, Store calls for the list", "≤ 2", "", ["list_page_100_store_calls"]),
    ("group filter / first page, p99", "keep (7.5 / 0.95 ms)", "ms",
     ["list_group_filter_p99_ms", "list_first_page_p99_ms"]),
    ("list page 1 right after another container saved, p50 / p99", "p99 ≤ 10 ms", "ms",
     ["list_after_save_p50_ms", "list_after_save_p99_ms"]),
    ("list page 1 right after another container saved, Store calls", "≤ 2", "",
     ["list_after_save_store_calls"]),
    ("CSV download of 10,000 with numbers / fair bare loop", "≤ 2×", "×", ["download_to_bare_ratio"]),
    ("download heap peak at 10,000 / 50,000", "flat in N", "MiB",
     ["download_heap_mib_10000", "download_heap_mib_50000"]),
    ("import of 10,000 rows: rows/s", "≥ 8,000", "rows/s", ["import_rows_per_second"]),
    ("import heap peak", "≤ 32 MiB", "MiB", ["import_heap_mib"]),
    ("Lambda init (exec → first /next), median, slowest function", "≤ 10 ms every function", "ms",
     ["lambda_init_median_ms_worst"]),
    ("Lambda first answer, median, slowest function", "—", "ms",
     ["lambda_first_answer_median_ms_worst"]),
    ("stripped arm64 bootstrap, largest function", "≤ 8 MB every function", "MB",
     ["arm64_bootstrap_bytes_largest"]),
    ("login, password step (argon2id m=19 MiB, t=2), p50 / p99", "—", "ms",
     ["login_p50_ms", "login_p99_ms"]),
    ("audit append (hash-chained, one tenant), entries/s", "—", "entries/s",
     ["audit_append_entries_per_second"]),
    ("audit chain verification of all appended entries", "—", "s", ["audit_verify_seconds"]),
]


def show(key, v):
    if v is None:
        return "not measured"
    if key.endswith("_bytes_largest"):
        return f"{v / 1_000_000:.2f}"
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, int) and v >= 10_000:
        return f"{v:,}"
    return str(v)


def cell(keys, figs, unit):
    if figs is None:
        return "not measured"
    parts = [show(k, figs.get(k)) for k in keys]
    if all(p == "not measured" for p in parts):
        return "not measured"
    suffix = "×" if unit == "×" else (f" {unit}" if unit else "")
    return " / ".join(parts) + suffix


def machine():
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor() or platform.machine(),
        "arch": platform.machine(),
        "kernel": platform.release(),
    }


def main():
    sections = {}
    for path in sorted(glob.glob(os.path.join(PERF, "*.json"))):
        if os.path.basename(path) in SKIP:
            continue
        data = load(path)
        if isinstance(data, dict):
            sections.update(data)
    previous_report = load(PREVIOUS)
    previous = None
    previous_date = None
    if isinstance(previous_report, dict):
        if "figures" in previous_report:
            previous = previous_report["figures"]
            previous_date = previous_report.get("date")
        else:
            # A report from before figures were kept: its sections, read the same way.
            previous = figures(previous_report)
    now = figures(sections)
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    m = machine()
    report = {
        "date": today,
        "machine": m,
        "figures": now,
        "previous": {"date": previous_date, "figures": previous},
        "sections": sections,
    }
    with open(os.path.join(PERF, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")

    lines = [
        "# Performance report",
        "",
        f"Written by `infra/bench.sh` on {today}: {m['cores']} cores, {m['cpu']} ({m['arch']},"
        f" Linux {m['kernel']}). Each section below says how it was measured; a figure whose"
        " section has not been run yet is \"not measured\".",
        "",
        "## The figures",
        "",
        f"Previous: the report before this run ({previous_date or 'date not recorded'}).",
        "",
        "| figure | goal | previous → now |",
        "|---|---|---|",
    ]
    for label, goal, unit, keys in ROWS:
        before, after = cell(keys, previous, unit), cell(keys, now, unit)
        change = after if before == after else f"{before} → {after}"
        lines.append(f"| {label} | {goal} | {change} |")
    slow = now.get("lambda_init_worst_function")
    big = now.get("arm64_bootstrap_largest_function")
    if slow or big:
        lines += ["", f"Slowest init: `{slow or 'not measured'}`; largest binary: `{big or 'not measured'}`."]
    lines.append("")
    for path in sorted(glob.glob(os.path.join(PERF, "*.md"))):
        if os.path.basename(path) == "report.md":
            continue
        with open(path, encoding="utf-8") as f:
            lines.append(f.read().rstrip("\n"))
        lines.append("")
    with open(os.path.join(PERF, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
