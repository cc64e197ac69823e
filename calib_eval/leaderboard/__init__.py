"""Leaderboard: results files and lm-eval output -> README.md, index.html and plots.

    report = build_leaderboard([Path("runs/")], Path("leaderboard"))
    plan = plan_update("leaderboard/models.yaml", "leaderboard/results")
    report = run_plan(plan, run_fn, "leaderboard")

Modules, one job each: records (row type), from_results / lmeval (source
formats -> rows), ingest (find, load, merge), history (results/ copies),
table (best marks), item_scores (per-item sidecars), paired (ΔAUROC to the
best untrained scorer), page_items (the page's compare data),
render_markdown / render_html / plots (drawing),
publish (staging + swap), build (the pipeline), spec / plan (models.yaml ->
runs), demo (synthetic results), screenshot (headless Chromium).
matplotlib is imported only when plots are drawn.
"""
from calib_eval.leaderboard.build import BuildReport, build_leaderboard
from calib_eval.leaderboard.plan import RunPlan, plan_update, run_plan
from calib_eval.leaderboard.records import Row
from calib_eval.leaderboard.spec import ModelSpec, load_spec

__all__ = ["BuildReport", "ModelSpec", "Row", "RunPlan", "build_leaderboard", "load_spec", "plan_update", "run_plan"]
