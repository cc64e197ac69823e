"""What the leaderboard still needs to run (`plan_update`) and running it (`run_plan`).

A (model, task) needs a run when, among the valid results files for it in the
history (package version equal to this calib-eval's):
- there is none ("missing"; results of another package version count as none),
- none was made by this code's grader and metric code ("grader/metrics version
  changed"; files from before results recorded them count as changed),
- a scorer of the spec that applies to the task's mode (the runner skips e.g.
  max_softmax on generate tasks) is in none of them ("scorers not covered"),
- an adapter scorer's results are older than the adapter's files (calib_card.json,
  probe head, README.md, adapter_config.json or LoRA weights; newest mtime) or
  used another adapter folder.
Changing `limit` alone does not trigger a rerun: delete the results to force one.
A task that is missing or stale reruns with all of the model's scorers; one whose
other rows are current reruns only the uncovered and stale-adapter scorers (a
retrained adapter costs its own rows, not the base scorers' sampling): the
leaderboard keeps the newest run per (model, adapter, scorer, task) and pairs
rows of two runs by item id. Tasks that need the same scorers share one run.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from calib_eval import __version__
from calib_eval.adapters import CARD, HEAD_FILE
from calib_eval.errors import DataError
from calib_eval.leaderboard.build import HISTORY_DIR, RETIRED_DIR, BuildReport, build_leaderboard
from calib_eval.leaderboard.from_results import model_name
from calib_eval.leaderboard.history import safe_name
from calib_eval.leaderboard.ingest import discover
from calib_eval.leaderboard.item_scores import ITEMS_DIR, sidecar_name
from calib_eval.leaderboard.records import adapter_label, display_model_name, parse_time
from calib_eval.leaderboard.spec import ModelSpec, load_spec
from calib_eval.provenance import stale_reason
from calib_eval.results import read_results
from calib_eval.task_specs import get_task

# what a retrain rewrites: the calib-eval card and head (every adapter, probes have no LoRA files), PEFT's files
CARD_FILES = (CARD, HEAD_FILE, "README.md", "adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class RunPlan:
    """One runner call: a model with the tasks that need (re)running."""

    model: str
    tasks: tuple[str, ...]
    scorers: tuple[str, ...]
    adapters: dict = field(default_factory=dict)  # scorer name -> adapter folder
    limit: int | None = None
    reasons: dict = field(default_factory=dict)  # task -> why it is in the plan
    dtype: str = "auto"


RunFn = Callable[..., object]  # run_fn(model=, tasks=, scorers=, adapters=, limit=, output_dir=, dtype=)


def plan_update(spec_yaml: str | Path, results_dir: str | Path) -> list[RunPlan]:
    """The runs missing or stale in `results_dir` for the spec: one RunPlan per model and set of scorers to run."""
    models = load_spec(spec_yaml)
    modes = _scorer_modes({s for m in models for s in m.scorers})
    existing = _existing_results(Path(results_dir))
    plans = []
    for model in models:
        key = display_model_name(model.name)
        by_scorers: dict[tuple[str, ...], dict[str, str]] = {}  # scorers to run -> {task: reason}
        for task in model.tasks:
            expected = [s for s in model.scorers if get_task(task).mode in modes[s]]
            need = _task_need(model, expected, existing.get((key, task), []))
            if need:
                reason, scorers = need
                by_scorers.setdefault(scorers, {})[task] = reason
        for scorers, reasons in by_scorers.items():
            adapters = {s: folder for s, folder in model.adapters.items() if s in scorers}
            plans.append(RunPlan(model.name, tuple(reasons), scorers, adapters, model.limit, reasons, model.dtype))
    return plans


def run_plan(plan: list[RunPlan], run_fn: RunFn, out_dir: str | Path,
             work_dir: str | Path | None = None) -> BuildReport:
    """Call `run_fn` per plan item (a failure does not stop the rest), then rebuild `out_dir`.

    Runs write into `work_dir` (a temporary folder by default); the rebuild copies
    their results into `out_dir/results/`, so nothing there is lost afterwards.
    """
    failures: list[tuple[str, str]] = []
    with _work_folder(work_dir) as work:
        outputs = []
        for index, item in enumerate(plan):
            output_dir = work / f"{index:02d}-{safe_name(item.model)}"
            try:
                run_fn(model=item.model, tasks=list(item.tasks), scorers=list(item.scorers),
                       adapters=dict(item.adapters), limit=item.limit, output_dir=output_dir, dtype=item.dtype)
            except Exception as exc:  # noqa: BLE001 - keep going: the other models' runs are still worth publishing
                failures.append((item.model, f"{exc.__class__.__name__}: {exc}"))
            if output_dir.exists():
                outputs.append(output_dir)  # a failed run may still have finished some tasks
        retired = [] if failures else retire_stale(Path(out_dir) / HISTORY_DIR)
        try:  # a run's folder may hold no results: the runs' failures say why
            report = build_leaderboard(outputs, Path(out_dir), check_folders=False)
        except DataError:
            if not failures:
                raise
            report = BuildReport(Path(out_dir))  # nothing to build: report the failures alone
    report.failed_runs, report.retired = failures, retired
    return report


def retire_stale(history_dir: Path) -> list[Path]:
    """Move every stale results file of the history to `retired/`, out of the tables.

    Called once every planned run succeeded: a stale file's rows are then
    either superseded by a fresh run or name something the spec no longer
    lists, which no update could ever refresh. Moved, not deleted, so the
    history still holds every file it ingested.
    """
    moved = []
    for path in discover([history_dir], exclude=[history_dir / RETIRED_DIR]) if history_dir.is_dir() else []:
        try:
            payload = read_results(path)
        except DataError:
            continue  # lm-eval output and broken files are not ours to retire
        if stale_reason(payload):
            target = history_dir / RETIRED_DIR / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            moved.append(target)
            _retire_items(history_dir, path.name)
    return moved


def _retire_items(history_dir: Path, results_name: str) -> None:
    """The retired file's per-item sidecar follows it (retired/items/), so no orphan stays in the history."""
    sidecar = history_dir / ITEMS_DIR / sidecar_name(results_name)
    if sidecar.is_file():
        target = history_dir / RETIRED_DIR / ITEMS_DIR / sidecar.name
        target.parent.mkdir(parents=True, exist_ok=True)
        sidecar.replace(target)


def _existing_results(results_dir: Path) -> dict[tuple[str, str], list[dict]]:
    found: dict[tuple[str, str], list[dict]] = {}
    for path in discover([results_dir], exclude=[results_dir / RETIRED_DIR]) if results_dir.is_dir() else []:
        try:
            payload = read_results(path)
        except DataError:
            continue  # lm-eval output or broken files: the build reports those
        found.setdefault((model_name(payload), payload["task"]), []).append(payload)
    return found


def _scorer_modes(names: set[str]) -> dict[str, tuple[str, ...]]:
    """Task modes per scorer, from the scorer registry (did-you-mean error for a typo)."""
    from calib_eval.scorers import SCORERS  # imports torch: only when planning

    return {name: SCORERS.get(name).task_modes for name in names}


def _task_need(model: ModelSpec, expected: list[str], runs: list[dict]) -> tuple[str, tuple[str, ...]] | None:
    """(why, which scorers to run) for one (model, task), or None when its rows are current."""
    everything = tuple(model.scorers)  # the runner skips the scorers that do not apply to the task
    if not runs:
        return "missing", everything
    current = [r for r in runs if r.get("package_version") == __version__]
    if not current:
        versions = sorted({str(r.get("package_version")) for r in runs})
        return f"package version changed ({', '.join(versions)} -> {__version__})", everything
    if all(stale_reason(r) for r in current):  # the newest run's versions
        return stale_reason(max(current, key=lambda r: parse_time(r["created"]))), everything
    current = [r for r in current if not stale_reason(r)]
    missing = [s for s in expected if not any(s in (r.get("scorers") or {}) for r in current)]
    stale = [s for s, folder in model.adapters.items()
             if s in expected and s not in missing and not any(_adapter_fresh(r, s, folder) for r in current)]
    reasons = ([f"scorers not covered: {', '.join(missing)}"] if missing else []) + \
              ([f"adapter changed since the last run: {', '.join(stale)}"] if stale else [])
    if not reasons:
        return None
    rerun = set(missing + stale)
    return "; ".join(reasons), tuple(s for s in model.scorers if s in rerun)  # in the spec's order


def _adapter_fresh(run: dict, scorer: str, folder: str) -> bool:
    """The run scored `scorer` with this adapter folder, after the adapter's last change."""
    entry = (run.get("scorers") or {}).get(scorer)
    used = (entry.get("adapter") or {}).get("path") if isinstance(entry, dict) else None
    card = card_mtime(Path(folder))
    fresh = card is None or parse_time(run["created"]) >= card
    return adapter_label(used) == adapter_label(folder) and fresh


def card_mtime(adapter_dir: Path) -> float | None:
    """Newest mtime of the adapter's card, config, head or weights; None if the folder has none."""
    times = [(adapter_dir / name).stat().st_mtime for name in CARD_FILES if (adapter_dir / name).is_file()]
    return max(times, default=None)


@contextmanager
def _work_folder(work_dir) -> Iterator[Path]:
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        yield Path(work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="calib-eval-runs-") as tmp:
        yield Path(tmp)
