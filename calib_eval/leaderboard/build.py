"""`build_leaderboard`: results files and lm-eval folders -> README.md, index.html, plots.

Reads the leaderboard's own history (`out_dir/results/`) plus the given paths,
skips (and names) unusable files, keeps the newest run per (model, adapter,
scorer, task), copies every newly ingested file into the history, and swaps the
freshly rendered artefacts in (see `publish`). Rows made by an older grader or
metric code are kept but marked stale (`leaderboard update` re-runs them). A
named folder without results files, or nothing to build at all, is a DataError.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from calib_eval.errors import DataError
from calib_eval.leaderboard import history, publish, render_html, render_markdown
from calib_eval.leaderboard.ingest import Loaded, NotResultsFile, Replacement, discover, load_file, merge_rows
from calib_eval.leaderboard.plot_files import PLOTS_DIR, plot_paths
from calib_eval.leaderboard.records import Row
from calib_eval.leaderboard.table import build_tables
from calib_eval.provenance import STALE

HISTORY_DIR = "results"
RETIRED_DIR = "retired"  # under HISTORY_DIR: stale files `leaderboard update` took out of the tables


@dataclass
class BuildReport:
    out_dir: Path
    rows: list[Row] = field(default_factory=list)
    ingested: list[Path] = field(default_factory=list)  # files whose rows were used
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why) never merged
    added_to_history: list[Path] = field(default_factory=list)
    replaced: list[Replacement] = field(default_factory=list)
    artefacts: list[Path] = field(default_factory=list)
    failed_runs: list[tuple[str, str]] = field(default_factory=list)  # (model, error), from run_plan
    retired: list[Path] = field(default_factory=list)  # stale history files moved aside by run_plan

    @property
    def ok(self) -> bool:
        return not (self.skipped or self.failed_runs)

    @property
    def stale(self) -> int:
        return sum(row.stale for row in self.rows)

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI; skipped files first, each by name."""
        out = [f"run failed for {model}: {why}" for model, why in self.failed_runs]
        out += [f"skipped {path}: {why}" for path, why in self.skipped]
        if self.retired:
            out.append(f"retired {len(self.retired)} stale results files (superseded by fresh runs or no longer "
                       f"in the spec) to {self.out_dir / HISTORY_DIR / RETIRED_DIR}")
        out.append(f"leaderboard: {len(self.rows)} rows from {len(self.ingested)} results files "
                   f"({len(self.added_to_history)} new, {len(self.replaced)} superseded entries) -> {self.out_dir}")
        if self.stale:
            out.append(f"{self.stale} of {len(self.rows)} rows are stale ({STALE}; marked in the tables): "
                       "`calib-eval leaderboard update` re-runs them")
        return out


def build_leaderboard(result_paths: list[Path], out_dir: Path, check_folders: bool = True) -> BuildReport:
    """`check_folders`: a named folder holding no results file is an error (off for runs that may have failed)."""
    out_dir = Path(out_dir)
    report = BuildReport(out_dir)
    history_dir = out_dir / HISTORY_DIR
    if check_folders:
        _require_files(result_paths, out_dir)
    seen: set[str] = set()  # digests: the same bytes are ingested once
    history_files = discover([history_dir], exclude=[history_dir / RETIRED_DIR]) if history_dir.is_dir() else []
    known = _load_all(history_files, report, seen, in_history=True)
    new = _load_all(discover(list(result_paths), exclude=[out_dir]), report, seen, in_history=False)
    report.rows, report.replaced = merge_rows([row for item in known + new for row in item.rows])
    if not report.rows:
        raise DataError(_nothing_to_build(result_paths, history_dir, report.skipped))
    with publish.staging_dir(out_dir) as staging:
        _render(report.rows, len(known) + len(new), staging)
        for item in new:  # only once rendering worked: a failed build leaves no trace
            stored = history.store(item.path, item.history_name, item.digest, history_dir)
            if stored is not None:
                report.added_to_history.append(stored)
        report.artefacts = publish.swap_in(staging, out_dir)
    return report


def _require_files(result_paths: list[Path], out_dir: Path) -> None:
    for path in map(Path, result_paths):
        inside_out = path.resolve().is_relative_to(out_dir.resolve())  # e.g. `build leaderboard`: its history counts
        if path.is_dir() and not inside_out and not discover([path], exclude=[out_dir]):
            raise DataError(f"no results files (*.json) under {path}")


def _nothing_to_build(result_paths: list[Path], history_dir: Path, skipped: list) -> str:
    if skipped:
        path, why = skipped[0]
        return f"no usable results: {len(skipped)} file(s) skipped, first {path}: {why}"
    where = ", ".join(str(p) for p in result_paths) or f"{history_dir} (and no results paths were given)"
    return f"no results to build a leaderboard from in {where}"


def _load_all(paths: list[Path], report: BuildReport, seen: set[str], in_history: bool) -> list[Loaded]:
    loaded = []
    for path in paths:
        try:
            item = load_file(path, stored_as=path.name if in_history else None)
        except NotResultsFile:
            continue  # e.g. pairwise.json beside a run's results.json
        except DataError as exc:
            report.skipped.append((path, str(exc)))
            continue
        if item.digest in seen:
            continue  # e.g. an input that is already in the history
        seen.add(item.digest)
        loaded.append(item)
        report.ingested.append(path)
    return loaded


def _render(rows: list[Row], sources: int, staging: Path) -> None:
    """Every generated artefact, written under `staging`."""
    from calib_eval.leaderboard import plots  # matplotlib only when actually drawing

    tables = build_tables(rows)
    paths = plot_paths(tables)
    (staging / PLOTS_DIR).mkdir()  # always present, so stale plots are swapped out
    plots.draw_plots(tables, paths, staging)
    data = {"kind": "calib-eval-leaderboard", "schema_version": 1, "rows": [r.to_dict() for r in rows]}
    _write(staging / "leaderboard.json", json.dumps(data, indent=1, sort_keys=True) + "\n")
    _write(staging / "index.html", render_html.render_html(tables, paths, sources))
    _write(staging / "README.md", render_markdown.render_markdown(tables, paths, sources))


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
