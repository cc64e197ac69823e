"""Temperature scaling: one scalar for a probability-valued scorer, fitted on MMLU val.

The base model answers the validation split of ``val_task`` (default MMLU-OE,
split ``val``: never the test items) through the runner's own batch code; the
scorer's P(correct) values are fitted with ``fit_temperature`` and the
temperature goes into the card. The runner applies it with
:func:`apply_card_temperature`. No LoRA, no head.
"""
from __future__ import annotations

import dataclasses


from calib_eval.adapters import apply_card_temperature  # noqa: F401  (re-exported)
from calib_eval.errors import CalibEvalError
from calib_eval.training.config import TemperatureConfig
from calib_eval.training.methods.base import TRAINERS, TrainContext, TrainOutcome, holdout_metrics


def validation_scores(loaded, cfg) -> tuple[list[float], list[bool]]:
    """(scores, correct) of cfg.scorer on the validation items, via runner.batch_work.run_batch."""
    from calib_eval.inference import length_sorted_batches
    from calib_eval.inference.state import encode_prefix
    from calib_eval.runner.batch_work import run_batch
    from calib_eval.runner.run import _prepare
    from calib_eval.scorers.base import ScorerConfig, get_scorer
    from calib_eval.task_specs import get_task, load_task_examples

    scorer_cls = get_scorer(cfg.scorer)
    if not getattr(scorer_cls, "is_probability", False) or getattr(scorer_cls, "needs_adapter", False):
        raise CalibEvalError(f"temperature scaling needs a probability-valued base scorer; {cfg.scorer!r} is not one")
    spec = dataclasses.replace(get_task(cfg.val_task), split=cfg.val_split)
    data_root = cfg.data_root or None
    examples = load_task_examples(spec, cfg.val_limit or None, data_root)
    prefixes, prefix_ids, suffix_ids, texts = _prepare(spec, examples, loaded.tokenizer, data_root)
    lengths = [len(prefix_ids[prefixes[i]]) + len(suffix_ids[i]) for i in range(len(examples))]
    scores, correct = [], []
    for batch in length_sorted_batches(lengths, cfg.gen_batch_size, prefixes):
        prefix = prefixes[batch[0]]
        cache = encode_prefix(loaded.model, prefix_ids[prefix]) if prefix_ids[prefix] else None
        outcome = run_batch(loaded, spec, [examples[i] for i in batch], prefix_ids[prefix],
                            [suffix_ids[i] for i in batch], [texts[i] for i in batch],
                            {cfg.scorer: scorer_cls()}, ScorerConfig(seed=cfg.seed), None, cache)
        scores += [r["scores"][cfg.scorer] for r in outcome.rows]
        correct += [r["correct"] for r in outcome.rows]
    return scores, correct


@TRAINERS.register("temperature")
class Temperature:
    name = "temperature"
    scorer = None  # the card names the calibrated scorer (cfg.scorer)
    config_class = TemperatureConfig
    needs_graded = False

    def train(self, ctx: TrainContext) -> TrainOutcome:
        from calib_eval.metrics import fit_temperature
        from calib_eval.training.graded_data import require_two_classes_labels

        scores, correct = validation_scores(ctx.loaded, ctx.cfg)
        require_two_classes_labels(correct, f"{ctx.cfg.val_task} {ctx.cfg.val_split} split")
        t = float(fit_temperature(scores, correct, is_probability=True))
        card = {"temperature": t, "scorer": ctx.cfg.scorer, "fit_on": f"{ctx.cfg.val_task}:{ctx.cfg.val_split}",
                "fit_examples": len(scores)}
        before = holdout_metrics(scores, correct)
        after = holdout_metrics(apply_card_temperature(scores, card), correct)
        return TrainOutcome(steps=0, metrics={"val_before": before, "val_after": after}, card=card)
