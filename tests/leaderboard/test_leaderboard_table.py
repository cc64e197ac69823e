"""Pure compute: best marks, formatting, markdown escaping."""
from __future__ import annotations

from calib_eval.leaderboard.plot_files import plot_paths
from calib_eval.leaderboard.records import Bins, Estimate, Row
from calib_eval.leaderboard.render_markdown import escape, render_markdown
from calib_eval.leaderboard.table import best_marks, build_tables, format_estimate, raw_score_notes, scorer_notes


def row(scorer, task="t", ece=None, auroc=None, brier=None, acc=None, model="m", is_probability=True, **kw):
    est = lambda v: None if v is None else Estimate(v, v - 0.01, v + 0.01)
    defaults = dict(model=model, adapter="none", scorer=scorer, task=task, accuracy=est(acc), ece=est(ece),
                    auroc=est(auroc), brier=est(brier), aurc=None, n=10, is_probability=is_probability,
                    calibration="none" if is_probability else "platt fitted on validation", hardware="cpu",
                    created="2026-01-01T00:00:00+00:00", package_version="0.1.0", origin="calib-eval", source="s")
    defaults.update(kw)
    return Row(**defaults)


def test_best_marks_low_ece_brier_high_auroc_accuracy_ties_and_missing():
    rows = [row("a", ece=0.10, auroc=0.70, brier=0.30, acc=0.5),
            row("b", ece=0.05, auroc=0.60, brier=None, acc=0.5),
            row("c", ece=None, auroc=0.80, brier=0.20, acc=0.4)]
    marks = best_marks(rows)
    assert marks[0] == {"accuracy"}
    assert marks[1] == {"ece", "accuracy"}  # accuracy tie: both marked
    assert marks[2] == {"auroc", "brier"}
    assert best_marks([row("x")]) == [frozenset()]


def test_tables_per_task_sorted_by_ece_missing_last():
    rows = [row("a", task="t2", ece=0.2), row("b", task="t1"), row("c", task="t1", ece=0.3), row("d", task="t1", ece=0.1)]
    tables = build_tables(rows)
    assert [t.task for t in tables] == ["t1", "t2"]
    assert [r.scorer for r in tables[0].rows] == ["d", "c", "b"]
    assert tables[0].best[0] == {"ece"}


def test_format_estimate():
    assert format_estimate(Estimate(0.1234, 0.1, 0.15)) == "0.123 [0.10, 0.15]"
    assert format_estimate(Estimate(0.5)) == "0.500"
    assert format_estimate(None) == "–"


def test_markdown_bold_best_escapes_names_and_notes_raw_scores():
    bins = Bins((0.0, 0.5, 1.0), (0.3, 0.7), (0.2, 0.8), (5, 5))
    rows = [row("p_true", ece=0.05, auroc=0.7, reliability=bins),
            row("entropy", ece=0.09, auroc=0.8, is_probability=False, model="a|b*c")]
    tables = build_tables(rows)
    text = render_markdown(tables, plot_paths(tables), sources=1)
    assert "| **0.050** [0.04, 0.06] |" in text
    assert r"a\|b\*c" in text and "entropy †" in text
    assert "platt fitted on validation" in text and "plots/scatter_t.png" in text
    assert "plots/reliability/t__m__p_true.png" in text
    assert raw_score_notes(rows) == ["entropy: platt fitted on validation"]
    assert escape("x_<b>") == r"x\_\<b\>"


def test_bins_fold_metrics_point_bin():
    # calib_eval.metrics' uniform bins: as many entries as edges, the last one for confidence == 1.0
    bins = Bins.parse({"bin_edges": [0.0, 0.5, 1.0], "mean_confidence": [0.2, 0.8, 1.0],
                       "accuracy": [0.1, 0.5, 1.0], "count": [4, 3, 1]})
    assert bins.count == (4, 4) and abs(bins.accuracy[1] - (0.5 * 3 + 1.0) / 4) < 1e-12
    assert Bins.parse({"bin_edges": [0, 1], "mean_confidence": [], "accuracy": [], "count": []}) is None


def test_a_results_note_reaches_both_pages():
    """A missing AUROC is explained where people look, not silently shown as '-'."""
    from calib_eval.leaderboard.from_results import _scorer_row
    from calib_eval.leaderboard.render_html import page_data

    note = "AUROC undefined: all 50 items are wrong"
    parsed = _scorer_row("perplexity", {"note": note, "is_probability": False}, dict(
        model="m", task="t", accuracy=None, n=50, hardware="cpu", created="2026-01-01T00:00:00+00:00",
        package_version="0.1.0", origin="calib-eval", source="s"))
    assert parsed.note == note
    tables = build_tables([parsed, row("p_true", ece=0.05, auroc=0.7)])
    assert scorer_notes(tables[0].rows) == [f"m / perplexity: {note}"]
    assert f"Note: m / perplexity: {note}." in render_markdown(tables, plot_paths(tables), sources=1)
    assert page_data(tables, plot_paths(tables))["scorer_notes"] == [{"task": "t", "text": f"m / perplexity: {note}"}]
