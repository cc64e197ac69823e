"""`build_leaderboard`: results files and lm-eval folders -> README.md, index.html, plots.

Reads the leaderboard's own history (`out_dir/results/`) plus the given paths,
skips (and names) unusable files, keeps the newest run per (model, adapter,
scorer, task), copies every newly ingested file into the history, and swaps the
freshly rendered artefacts in (see `publish`). Rows made by an older grader or
metric code are kept but marked stale (`leaderboard update` re-runs them). A
named folder without results files, or nothing to build at all, is a DataError.
An input results file with its run's items.jsonl beside it also leaves its
per-item scores in `out_dir/results/items/` (item_scores), from which every
build computes the paired ΔAUROC column (paired) and the page's compare data.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from calib_eval.errors import DataError
from calib_eval.leaderboard import history, item_scores, publish, render_html, render_markdown
from calib_eval.leaderboard.from_results import ORIGIN
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
    items_added: list[Path] = field(default_factory=list)  # per-item sidecars written (item_scores)
    items_skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why): no paired column for it

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
        out += [f"no per-item scores from {path}: {why}" for path, why in self.items_skipped]
        if self.retired:
            out.append(f"retired {len(self.retired)} stale results files (superseded by fresh runs or no longer "
                       f"in the spec) to {self.out_dir / HISTORY_DIR / RETIRED_DIR}")
        if self.items_added:
            out.append(f"kept per-item scores of {len(self.items_added)} results files "
                       f"(for the paired AUROC column) in {self.out_dir / HISTORY_DIR / item_scores.ITEMS_DIR}")
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
    seen: dict[str, Loaded] = {}  # digest -> first file: the same bytes are ingested once
    history_files = discover([history_dir], exclude=[history_dir / RETIRED_DIR]) if history_dir.is_dir() else []
    known = _load_all(history_files, report, seen, in_history=True)
    inputs: list[tuple[Path, Loaded]] = []  # every input results file, with the entry its bytes are known as
    new = _load_all(discover(list(result_paths), exclude=[out_dir]), report, seen, in_history=False, inputs=inputs)
    report.rows, report.replaced = merge_rows([row for item in known + new for row in item.rows])
    if not report.rows:
        raise DataError(_nothing_to_build(result_paths, history_dir, report.skipped))
    items_dir = history_dir / item_scores.ITEMS_DIR
    stored_items = item_scores.load_dir(items_dir, report.items_skipped)
    fresh_items = _items_beside(inputs, stored_items, report)
    with publish.staging_dir(out_dir) as staging:
        _render(report.rows, len(known) + len(new), staging, {**stored_items, **fresh_items})
        for item in new:  # only once rendering worked: a failed build leaves no trace
            stored = history.store(item.path, item.history_name, item.digest, history_dir)
            if stored is not None:
                report.added_to_history.append(stored)
        report.items_added = [item_scores.write(block, items_dir) for block in fresh_items.values()]
        report.artefacts = publish.swap_in(staging, out_dir)
    return report


def _items_beside(inputs: list[tuple[Path, Loaded]], stored: dict, report: BuildReport) -> dict:
    """Per-item blocks from the items.jsonl beside input results files the history has no block for yet.

    Files already in the history count too (a rebuild from the run folders adds
    their items). Each block goes through its stored form, so this build and a
    rebuild from the history alone compute from the same numbers.
    """
    fresh: dict[str, item_scores.ItemScores] = {}
    for path, loaded in inputs:
        name = loaded.history_name
        beside = path.parent / item_scores.ITEMS_FILE
        if name in stored or name in fresh or not beside.is_file() or not loaded.rows:
            continue
        if loaded.rows[0].origin != ORIGIN:
            continue  # lm-eval output: its samples are not our items.jsonl
        try:
            block = item_scores.from_run(path, name, loaded.digest, loaded.rows)
        except DataError as exc:
            report.items_skipped.append((beside, str(exc)))
            continue
        fresh[name] = item_scores.from_json(item_scores.to_json(block), beside)
    return fresh


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


def _load_all(paths: list[Path], report: BuildReport, seen: dict[str, Loaded], in_history: bool,
              inputs: list | None = None) -> list[Loaded]:
    """Newly seen files; `inputs` (optional) also gets (path, entry) for each usable file, repeats included."""
    loaded = []
    for path in paths:
        try:
            item = load_file(path, stored_as=path.name if in_history else None)
        except NotResultsFile:
            continue  # e.g. pairwise.json beside a run's results.json
        except DataError as exc:
            report.skipped.append((path, str(exc)))
            continue
        if inputs is not None:
            inputs.append((path, seen.get(item.digest, item)))
        if item.digest in seen:
            continue  # e.g. an input that is already in the history
        seen[item.digest] = item
        loaded.append(item)
        report.ingested.append(path)
    return loaded


def _render(rows: list[Row], sources: int, staging: Path, items: dict) -> None:
    """Every generated artefact, written under `staging`."""
    from calib_eval.leaderboard import plots  # matplotlib only when actually drawing

    tables = build_tables(rows, items)
    paths = plot_paths(tables)
    (staging / PLOTS_DIR).mkdir()  # always present, so stale plots are swapped out
    plots.draw_plots(tables, paths, staging)
    diffs = {row.key: diff for table in tables for row, diff in zip(table.rows, table.paired)}
    data = {"kind": "calib-eval-leaderboard", "schema_version": 1,
            "rows": [{**r.to_dict(), "auroc_vs_best_untrained": _diff_dict(diffs.get(r.key))} for r in rows]}
    _write(staging / "leaderboard.json", json.dumps(data, indent=1, sort_keys=True) + "\n")
    _write(staging / "index.html", render_html.render_html(tables, paths, sources, items))
    _write(staging / "README.md", render_markdown.render_markdown(tables, paths, sources))


def _diff_dict(diff) -> dict | None:
    return None if diff is None else {**asdict(diff), "separable": diff.separable}


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")
