"""Extra scorers inside lm-eval: ``--metadata '{"scorers": "NAME,..."}'`` on the generate calib tasks.

lm-eval's ``--model hf`` hands a task only generated text and log-likelihoods
of (context, continuation) pairs. A scorer (built-in or plugin) runs inside
lm-eval when it says which such pairs it needs about the generated answer and
how they make its score:

- ``lm_eval_queries``: ``((query, continuation), ...)``; each context is
  prompt + answer + query, as the P(True) query is built;
- ``from_loglikelihoods(lls) -> float``: the score from their log-likelihoods,
  in the same order, equal to what its ``score(batch)`` gives in ``calib-eval run``.

Each such scorer adds ``calib_<name>_auroc`` and ``calib_<name>_ece_recal``
(and, for probabilities, ``calib_<name>_ece`` / ``calib_<name>_brier``) to the
task's metrics. A scorer without these needs the model's states; asking for it
here is an error that names the route that works (``calib-eval score`` on the
logged samples).
"""
from __future__ import annotations

import math
from typing import Any

from calib_eval.errors import CalibEvalError

METADATA_KEY = "scorers"


def requested(metadata: dict | None, task: str) -> list[tuple[str, Any]]:
    """(name, scorer instance) for each scorer ``--metadata`` asks for; [] when none."""
    from calib_eval.scorers import SCORERS

    raw = (metadata or {}).get(METADATA_KEY) or []
    names = [n.strip() for n in raw.split(",") if n.strip()] if isinstance(raw, str) else [str(n) for n in raw]
    out = []
    for name in names:
        cls = SCORERS[name]  # did-you-mean error for a typo; loads plugins
        if not (hasattr(cls, "lm_eval_queries") and hasattr(cls, "from_loglikelihoods")):
            raise CalibEvalError(
                f"{task}: scorer {name!r} cannot run inside lm-eval: it needs the model's token log-probs or states, "
                "and lm-eval's models return only text and log-likelihoods (a scorer runs here when it defines "
                f"lm_eval_queries and from_loglikelihoods). Run lm_eval --log_samples, then: calib-eval score "
                f"--generations samples_{task}_*.jsonl --scorers {name} --scorer-model MODEL")
        out.append((name, cls()))
    return out


def metric_list(scorers: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """lm-eval metric_list entries for the scorers' metrics."""
    from calib_eval.harness import scoring

    entries = []
    for name, scorer in scorers:
        recal = scoring.ece_recal if scorer.is_probability else ece_recal_raw
        kinds = [("auroc", scoring.auroc, True), ("ece_recal", recal, False)]
        if scorer.is_probability:  # ECE/Brier as produced only mean something for a probability
            kinds += [("ece", scoring.ece, False), ("brier", scoring.brier, False)]
        entries += [{"metric": f"calib_{name}_{kind}", "aggregation": fn, "higher_is_better": better}
                    for kind, fn, better in kinds]
    return entries


def ece_recal_raw(items) -> float:
    """ECE after the shared recalibration of a raw score (Platt on the score itself, as results files do)."""
    from calib_eval.harness.scoring import N_BINS, _arrays
    from calib_eval.metrics import expected_calibration_error
    from calib_eval.metrics.recalibration import crossfit_recalibrate

    score, correct = _arrays(items)
    probs = crossfit_recalibrate(score, correct, is_probability=False)
    return float("nan") if probs is None else float(expected_calibration_error(probs, correct, n_bins=N_BINS))


def metrics(scorers: list[tuple[str, Any]], query_results: list, correct: bool) -> dict[str, Any]:
    """Per-doc values of those metrics, from the log-likelihoods of the scorers' queries (in request order)."""
    out, at = {}, 0
    for name, scorer in scorers:
        n = len(scorer.lm_eval_queries)
        score = float(scorer.from_loglikelihoods([r[0] for r in query_results[at:at + n]]))
        at += n
        if not math.isfinite(score):
            raise CalibEvalError(f"scorer {name!r} returned {score} from its lm-eval log-likelihoods")
        pair = (score, bool(correct))
        kinds = ("auroc", "ece_recal", "ece", "brier") if scorer.is_probability else ("auroc", "ece_recal")
        out.update({f"calib_{name}_{kind}": pair for kind in kinds})
    return out
