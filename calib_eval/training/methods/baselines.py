"""The tuned scorer against the untrained ones, on the same held-out items.

Kapoor et al.'s claim is relative: a cheap tune beats prompting the same model
(the zero-shot P(True) query) and, for small models, the claim worth testing
is beating the answer's likelihood too. Both baselines are read from the same
PeftModel with its adapter switched off, and the AUROC differences get a
paired bootstrap CI (same resampled items for both scorers).
"""
from __future__ import annotations

import warnings

from calib_eval.training.methods.readout import likelihood_and_p_yes

PROBABILITY_BASELINES = ("zero_shot_classifier",)


def untrained_scores(model, tokenizer, rows, console=None) -> dict[str, list[float]]:
    """Scores of the untrained scorers that need no adapter, read from the base weights."""
    with model.disable_adapter():
        likelihood, p_yes = likelihood_and_p_yes(model, tokenizer, rows, console=console,
                                                 label="held-out, untrained scorers")
    return {"zero_shot_classifier": p_yes, "perplexity": likelihood}


def compare_to_baselines(tuned: list[float], baselines: dict[str, list[float]], correct: list[bool],
                         n_resamples: int = 1000, seed: int = 0) -> dict:
    """Per baseline: its metrics, and tuned-minus-baseline AUROC with a paired-bootstrap 95% CI.

    ECE/Brier only for probability-valued baselines (P(True)); a likelihood is
    no probability of being right, so it gets AUROC alone.
    """
    from calib_eval.metrics import paired_bootstrap_diff, roc_auc
    from calib_eval.training.methods.base import holdout_metrics

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one-class resamples are NaN and skipped
        for name, scores in baselines.items():
            diff = paired_bootstrap_diff(roc_auc, tuned, scores, correct, n_resamples=n_resamples, seed=seed)
            metrics = holdout_metrics(scores, correct) if name in PROBABILITY_BASELINES else \
                {"auroc": float(roc_auc(scores, correct))}
            out[name] = {**metrics, "auroc_gain": {"estimate": diff.estimate, "low": diff.low, "high": diff.high,
                                        "n_valid": diff.n_valid}}
    return out
