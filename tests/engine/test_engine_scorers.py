"""Each scorer on a tiny random model, including rigged cases with known answers."""
from __future__ import annotations

import contextlib

import pytest
import torch

from calib_eval import prompts
from calib_eval.errors import UnknownNameError
from calib_eval.models import LoadedModel, prepare_tokenizer
from calib_eval.runner.batch_work import run_batch
from calib_eval.scorers import SCORERS, ScorerConfig, ScoringBatch, get_scorer
from calib_eval.scorers.verbalized import parse_confidence
from calib_eval.task_specs import get_task, load_task_examples
from calib_eval.inference.tokens import prompt_ids


@contextlib.contextmanager
def boosted(model, token_id: int, amount: float = 30.0):
    """Rig the model: add `amount` to one token's logit everywhere."""
    def hook(_module, _inputs, output):
        output = output.clone()
        output[..., token_id] += amount
        return output

    handle = model.lm_head.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _batch(tiny_lm, data_root, task="mmlu_oe_calib", n=3, scorers=("perplexity",), cfg=ScorerConfig()):
    model, tok = tiny_lm
    prepare_tokenizer(tok)
    loaded = LoadedModel(model, tok, "tiny", "tiny", "cpu", "float32")
    spec = get_task(task)
    examples = load_task_examples(spec, n, data_root)
    texts = [(spec.build_prefix(e, data_root), spec.build_suffix(e)) for e in examples]
    ids = [prompt_ids(tok, p, s) for p, s in texts]
    suffix_ids = [p + s for p, s in ids]  # no shared prefix: items span subjects
    instances = {name: get_scorer(name)() for name in scorers}
    return loaded, spec, examples, suffix_ids, [p + s for p, s in texts], instances


def test_unknown_scorer_suggests_the_close_name():
    with pytest.raises(UnknownNameError, match="zero_shot_classifier"):
        get_scorer("zero_shot_clasifier")


def test_zero_shot_classifier_follows_a_rigged_yes(tiny_lm, data_root):
    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, scorers=("zero_shot_classifier",))
    yes_id = loaded.tokenizer(prompts.QUERY_YES, add_special_tokens=False)["input_ids"][-1]
    with boosted(loaded.model, yes_id):
        out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, ScorerConfig(), None, None)
    assert all(r["scores"]["zero_shot_classifier"] > 0.99 for r in out.rows)
    no_id = loaded.tokenizer(prompts.QUERY_NO, add_special_tokens=False)["input_ids"][-1]
    with boosted(loaded.model, no_id):
        out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, ScorerConfig(), None, None)
    assert all(r["scores"]["zero_shot_classifier"] < 0.01 for r in out.rows)


def test_sampling_gives_one_when_all_samples_agree(tiny_lm, data_root):
    cfg = ScorerConfig(sampling_k=4)
    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, scorers=("sampling",), cfg=cfg)
    word = loaded.tokenizer(" yes", add_special_tokens=False)["input_ids"][0]
    with boosted(loaded.model, word, 60.0):  # every step, greedy or sampled, picks the same token
        out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, cfg, None, None)
    assert [r["scores"]["sampling"] for r in out.rows] == [1.0, 1.0, 1.0]


def test_perplexity_from_generation_equals_a_fresh_forward(tiny_lm, data_root):
    from calib_eval.scorers.likelihood import answer_logprobs

    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root)
    out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, ScorerConfig(), None, None)
    recorded = [r["scores"]["perplexity"] for r in out.rows]
    # Re-score without the recorded log-probs (the `calib-eval score` path).
    from calib_eval.runner.batch_work import answer_generate
    from calib_eval.inference.state import encode_batch
    from calib_eval.types import Graded, Generation

    state = encode_batch(loaded.model, [], suffix_ids, loaded.tokenizer.pad_token_id)
    gens, answer_ids, _ = answer_generate(state, spec, examples, texts, loaded.tokenizer)
    bare = [Graded(Generation(g.example, g.prompt, g.answer), False) for g in gens]
    batch = ScoringBatch(bare, loaded, [], suffix_ids, answer_ids)
    fresh = answer_logprobs(batch)
    import math
    again = [math.exp(sum(lp) / len(lp)) if lp else 0.0 for lp in fresh]
    assert again == pytest.approx(recorded, abs=1e-4)


def test_verbalized_counts_parse_failures_and_uses_the_fallback(tiny_lm, data_root):
    cfg = ScorerConfig(verbalized_fallback=0.25)
    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, scorers=("verbalized",), cfg=cfg)
    word = loaded.tokenizer(" the", add_special_tokens=False)["input_ids"][0]
    with boosted(loaded.model, word, 60.0):  # never says a number
        out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, cfg, None, None)
    assert [r["scores"]["verbalized"] for r in out.rows] == [0.25] * 3
    assert out.extra["verbalized"]["parse_failures"] == 3


@pytest.mark.parametrize("text,expected", [
    (" 73", 0.73), ("73%", 0.73), (" 100", 1.0), ("0", 0.0), (" 0.8", 0.8), ("about 45 percent", 0.45),
    ("no idea", None), ("", None), (" 250", None),
])
def test_parse_confidence(text, expected):
    got = parse_confidence(text)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_max_softmax_on_choice_task_is_a_probability_of_the_chosen_option(tiny_lm, data_root):
    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, task="medqa_ood_calib",
                                                                scorers=("max_softmax", "zero_shot_classifier"))
    c_id = loaded.tokenizer(" C", add_special_tokens=False)["input_ids"][0]
    with boosted(loaded.model, c_id, 10.0):
        out = run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, ScorerConfig(), None, None)
    for row in out.rows:
        assert row["answer"] == "C"
        assert 0.99 < row["scores"]["max_softmax"] <= 1.0


def test_adapter_scorers_refuse_to_run_without_an_adapter(tiny_lm, data_root):
    from calib_eval.errors import CalibEvalError
    from calib_eval.runner.run import resolve_scorers

    with pytest.raises(CalibEvalError, match="--adapter lora_prompt=PATH"):
        resolve_scorers(["lora_prompt"], {}, "generate")


def test_registry_lists_every_scorer_the_issue_names():
    assert {"perplexity", "max_softmax", "verbalized", "zero_shot_classifier", "sampling", "probe",
            "lora_prompt", "ua_clm_entropy"} <= set(SCORERS.names())


def test_teacher_forced_entropies_equal_the_ones_recorded_while_decoding(tiny_lm, data_root):
    from calib_eval.inference.state import encode_batch
    from calib_eval.runner.batch_work import answer_generate
    from calib_eval.scorers.entropy import teacher_forced_entropies

    loaded, spec, examples, suffix_ids, texts, _ = _batch(tiny_lm, data_root)
    state = encode_batch(loaded.model, [], suffix_ids, loaded.tokenizer.pad_token_id)
    gens, answer_ids, _ = answer_generate(state, spec, examples, texts, loaded.tokenizer)
    batch = ScoringBatch([], loaded, [], suffix_ids, answer_ids)
    again = teacher_forced_entropies(loaded.model, batch)
    for gen, redo in zip(gens, again):
        assert redo == pytest.approx(list(gen.token_entropies), abs=1e-4)


def test_max_softmax_on_saved_answers_without_option_scores_names_the_way_out():
    """`calib-eval score` of saved answers cannot rebuild the options' log-likelihoods: a clear DataError."""
    from calib_eval.errors import DataError
    from calib_eval.types import Example, Generation, Graded

    items = [Graded(Generation(Example(f"q{i}", "mmlu_mc_calib", "Q?"), "Q?", "A"), True) for i in range(2)]
    batch = ScoringBatch(items, None, [], [[1], [1]], [[2], [2]])
    with pytest.raises(DataError, match="2 item\\(s\\) lack them .*q0, q1.*calib-eval run"):
        get_scorer("max_softmax")().score(batch)
