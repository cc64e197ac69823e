"""Saved adapters reload through the runner's AdapterSet and its scorers reproduce the scores."""
import json

import pytest
import torch

from calib_eval.adapters import AdapterSet
from calib_eval.errors import ModelError
from calib_eval.scorers.adapted import LoraPrompt, Probe
from calib_eval.scorers.base import ScoringBatch
from calib_eval.training import train
from calib_eval.training.methods.readout import query_hidden, query_p_yes
from calib_eval.types import Example, Generation, Graded
from test_training_methods import small_cfg


def scoring_batch(loaded, rows, adapters):
    items = [Graded(Generation(Example(g.id, "toy", g.prompt), g.prompt, g.answer), g.correct) for g in rows]
    return ScoringBatch(items, loaded, [], [list(g.prompt_ids) for g in rows], [list(g.answer_ids) for g in rows],
                        adapters=adapters)


def test_lora_prompt_scores_reproduced(make_loaded, graded_rows, tmp_path):
    trained = make_loaded()
    folder = train(small_cfg("calibration-tune", tmp_path / "ct"), loaded=trained, graded=graded_rows)
    want = query_p_yes(trained.model, trained.tokenizer, graded_rows)
    fresh = make_loaded()
    adapters = AdapterSet.load(fresh, {"lora_prompt": str(folder)})
    got = LoraPrompt().score(scoring_batch(fresh, graded_rows, adapters))
    assert got == pytest.approx(want, abs=1e-6)
    # the adapter changed something: base-model P(yes) differs
    with adapters.base() as base:
        assert query_p_yes(base, fresh.tokenizer, graded_rows) != pytest.approx(got, abs=1e-6)
    card = json.loads((folder / "calib_card.json").read_text())
    holdout_scores = card["heldout_metrics"]
    assert holdout_scores["n"] == 4


@pytest.mark.parametrize("method", ["probe", "lora-probe"])
def test_probe_scores_reproduced(method, make_loaded, graded_rows, tmp_path):
    trained = make_loaded()
    folder = train(small_cfg(method, tmp_path / method), loaded=trained, graded=graded_rows)
    fresh = make_loaded()
    adapters = AdapterSet.load(fresh, {"probe": str(folder)})
    got = Probe().score(scoring_batch(fresh, graded_rows, adapters))
    head = adapters.heads["probe"]
    with torch.no_grad():
        feats = query_hidden(trained.model, trained.tokenizer, graded_rows)
        want = head.p_correct(feats).tolist()
    assert got == pytest.approx(want, abs=1e-6)


def test_adapter_refused_on_other_base(make_loaded, graded_rows, tmp_path):
    folder = train(small_cfg("calibration-tune", tmp_path / "ct", steps=1), loaded=make_loaded(), graded=graded_rows)
    with pytest.raises(ModelError, match="fingerprint"):
        AdapterSet.load(make_loaded(seed=1), {"lora_prompt": str(folder)})


def test_divergence_zero_while_lora_is_zero(make_loaded, graded_rows):
    from calib_eval.training.config import CalibrationTuneConfig
    from calib_eval.training.lora import add_lora
    from calib_eval.training.methods.calibration_tune import answer_divergence
    from calib_eval.training.sequences import collate, query_seq

    loaded = make_loaded()
    model = add_lora(loaded.model, CalibrationTuneConfig(output="x"))
    model.train()  # dropout on: still zero, since B = 0
    batch = collate([query_seq(g, tokenizer=loaded.tokenizer) for g in graded_rows[:4]],
                    loaded.tokenizer.pad_token_id, "cpu")
    logits = model(input_ids=batch.ids, attention_mask=batch.mask).logits
    for kind in ("js", "kl"):
        assert float(answer_divergence(model, batch, logits, kind)) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():  # and positive once B moves
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    logits = model(input_ids=batch.ids, attention_mask=batch.mask).logits
    assert float(answer_divergence(model, batch, logits, "js")) > 1e-6


def test_card_compares_with_untrained_scorers(make_loaded, graded_rows, tmp_path):
    """The card's baselines are what the runner's untrained scorers give on the same held-out items."""
    from calib_eval.metrics import roc_auc
    from calib_eval.scorers import get_scorer
    from calib_eval.training.cli import heldout_summary
    from calib_eval.training.graded_data import split_holdout

    cfg = small_cfg("calibration-tune", tmp_path / "ct", holdout_fraction=0.5)
    folder = train(cfg, loaded=make_loaded(), graded=graded_rows)
    metrics = json.loads((folder / "calib_card.json").read_text())["heldout_metrics"]
    _, holdout = split_holdout(graded_rows, cfg.holdout_fraction, cfg.seed)
    correct = [g.correct for g in holdout]
    assert 0 < sum(correct) < len(correct)
    batch = scoring_batch(make_loaded(), holdout, None)
    for name in ("zero_shot_classifier", "perplexity"):
        want = roc_auc(get_scorer(name)().score(batch), correct)
        got = metrics["baselines"][name]
        assert got["auroc"] == pytest.approx(want, abs=1e-6)
        gain = got["auroc_gain"]
        assert gain["estimate"] == pytest.approx(metrics["auroc"] - want, abs=1e-6)
        assert gain["low"] <= gain["estimate"] <= gain["high"]
    assert "ece" in metrics["baselines"]["zero_shot_classifier"]
    assert "ece" not in metrics["baselines"]["perplexity"]  # a likelihood is no probability
    lines = heldout_summary(folder)
    assert len(lines) == 3 and "AUROC gain" in lines[1]


def test_kept_positions_loss_equals_full_logits_loss(make_loaded, graded_rows):
    """Projecting only the positions the loss reads changes the cost, not the loss."""
    from calib_eval.training import losses
    from calib_eval.training.config import CalibrationTuneConfig
    from calib_eval.training.lora import add_lora
    from calib_eval.training.methods.calibration_tune import answer_divergence, calibration_loss, choice_token_ids
    from calib_eval.training.sequences import at_last, collate, query_seq

    loaded = make_loaded()
    cfg = CalibrationTuneConfig(output="x", divergence_weight=0.7)
    model = add_lora(loaded.model, cfg)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    model.eval()
    rows = graded_rows[:5]
    batch = collate([query_seq(g, tokenizer=loaded.tokenizer) for g in rows], loaded.tokenizer.pad_token_id, "cpu")
    with torch.no_grad():
        full = model(input_ids=batch.ids, attention_mask=batch.mask).logits
        no_id, yes_id = choice_token_ids(loaded.tokenizer)
        want = losses.two_way_query_ce(at_last(full, batch.last), no_id, yes_id, batch.labels) \
            + 0.7 * answer_divergence(model, batch, full, "js")
        got = calibration_loss(model, loaded.tokenizer, rows, cfg, "cpu")
    assert float(got) == pytest.approx(float(want), rel=1e-5)


def test_heldout_scores_file_pairs_adapters_item_by_item(make_loaded, graded_rows, tmp_path):
    """heldout_scores.jsonl holds each held-out item's scores: the card's metrics and the probe follow from it."""
    from calib_eval.metrics import roc_auc
    from calib_eval.training.graded_data import split_holdout
    from calib_eval.training.output import read_heldout_scores

    cfg = small_cfg("calibration-tune", tmp_path / "ct", holdout_fraction=0.5)
    ct = read_heldout_scores(train(cfg, loaded=make_loaded(), graded=graded_rows))
    probe_folder = train(small_cfg("probe", tmp_path / "probe", holdout_fraction=0.5), loaded=make_loaded(),
                         graded=graded_rows)
    probe = read_heldout_scores(probe_folder)
    _, holdout = split_holdout(graded_rows, cfg.holdout_fraction, cfg.seed)
    assert list(ct) == list(probe) == [g.id for g in holdout]  # same split, same order
    assert set(ct[holdout[0].id]["scores"]) == {"lora_prompt", "zero_shot_classifier", "perplexity"}
    correct = [ct[g.id]["correct"] for g in holdout]
    assert correct == [g.correct for g in holdout]
    card = json.loads((tmp_path / "ct" / "calib_card.json").read_text())["heldout_metrics"]
    assert roc_auc([ct[g.id]["scores"]["lora_prompt"] for g in holdout], correct) == pytest.approx(card["auroc"])
    # the probe's file is what its head gives on those items' query features
    adapters = AdapterSet.load(make_loaded(), {"probe": str(probe_folder)})
    got = Probe().score(scoring_batch(adapters.loaded, holdout, adapters))
    assert [probe[g.id]["scores"]["probe"] for g in holdout] == pytest.approx(got, abs=1e-6)
    assert read_heldout_scores(tmp_path) == {}  # no file: nothing to pair


def test_lora_prompt_prefix_cache_is_encoded_under_the_adapter_once(make_loaded, graded_rows, tmp_path):
    """Batches sharing a few-shot prefix reuse one prefix cache per adapter, and score as a full encode does."""
    from calib_eval.inference.state import encode_batch, encode_prefix
    from calib_eval.scorers.ptrue import query_yes_probability

    folder = train(small_cfg("calibration-tune", tmp_path / "ct", steps=1), loaded=make_loaded(), graded=graded_rows)
    loaded = make_loaded()
    adapters = AdapterSet.load(loaded, {"lora_prompt": str(folder)})
    with torch.no_grad():  # a LoRA far from zero: a prefix encoded under the base would score differently
        for n, p in loaded.model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    prefix = list(graded_rows[0].prompt_ids[:6])
    rows = graded_rows[:4]

    def batch(chosen, shared_prefix):
        items = [Graded(Generation(Example(g.id, "toy", g.prompt), g.prompt, g.answer), g.correct) for g in chosen]
        suffixes = [([] if shared_prefix else prefix) + list(g.prompt_ids) for g in chosen]
        return ScoringBatch(items, loaded, prefix if shared_prefix else [], suffixes,
                            [list(g.answer_ids) for g in chosen], adapters=adapters)

    first = LoraPrompt().score(batch(rows[:2], True))
    held = adapters.prefix_caches["lora_prompt"][1]
    second = LoraPrompt().score(batch(rows[2:], True))
    assert adapters.prefix_caches["lora_prompt"][1] is held  # not encoded again for the second batch
    full = LoraPrompt().score(batch(rows, False))  # no shared prefix: everything encoded in one go
    assert first + second == pytest.approx(full, abs=1e-5)
    with adapters.active("lora_prompt") as model:  # the mistake this guards against: the base model's prefix
        with adapters.base() as base:
            base_prefix = encode_prefix(base, prefix)
        answered = [list(g.prompt_ids) + list(g.answer_ids) for g in rows]
        wrong = query_yes_probability(encode_batch(model, prefix, answered, loaded.tokenizer.pad_token_id, base_prefix),
                                      loaded.tokenizer)
    assert wrong != pytest.approx(full, abs=1e-3)


def test_adapter_trained_in_float32_runs_on_a_bfloat16_load_of_the_same_base(make_loaded, graded_rows, tmp_path):
    """The card's weights fingerprint ignores the dtype; the dtype-specific one (caches) does not."""
    folder = train(small_cfg("calibration-tune", tmp_path / "ct", steps=1), loaded=make_loaded(), graded=graded_rows)
    card = json.loads((folder / "calib_card.json").read_text())
    bf16 = make_loaded()
    bf16.model.to(torch.bfloat16)
    bf16.dtype = "bfloat16"
    assert bf16.fingerprint != card["base_fingerprint"]  # graded caches and runs stay per dtype
    assert bf16.weights_fingerprint == card["base_weights_fingerprint"]
    AdapterSet.load(bf16, {"lora_prompt": str(folder)})  # accepted
    other = make_loaded(seed=1)
    other.model.to(torch.bfloat16)
    with pytest.raises(ModelError, match="fingerprint"):
        AdapterSet.load(other, {"lora_prompt": str(folder)})
    # a card from before weights fingerprints: same base in another dtype is refused, with the way out named
    del card["base_weights_fingerprint"]
    (folder / "calib_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="load it in the dtype it was trained in"):
        AdapterSet.load(bf16, {"lora_prompt": str(folder)})
    AdapterSet.load(make_loaded(), {"lora_prompt": str(folder)})  # and accepted in float32


def test_readout_shows_progress_without_changing_scores(make_loaded, graded_rows):
    import io

    from rich.console import Console

    loaded = make_loaded()
    out = io.StringIO()
    shown = query_p_yes(loaded.model, loaded.tokenizer, graded_rows, batch_size=3,
                        console=Console(file=out, width=100), label="held-out, lora_prompt")
    assert shown == pytest.approx(query_p_yes(loaded.model, loaded.tokenizer, graded_rows, batch_size=3))
    assert "held-out, lora_prompt" in out.getvalue() and f"{len(graded_rows)}/{len(graded_rows)}" in out.getvalue()
