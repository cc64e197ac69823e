"""lora_prompt's two modes on a tiny random model with a tiny random LoRA.

paper (default): the base model answers, the adapter re-reads prompt + answer
+ query. shared-cache: the adapter answers and the query extends that cache.
Every expected value here comes from plain, cache-free forward passes.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from calib_eval import prompts
from calib_eval.adapters import AdapterSet
from calib_eval.errors import CalibEvalError
from calib_eval.inference.state import encode_batch, encode_prefix
from calib_eval.inference.tokens import encode_text, prompt_ids
from calib_eval.models import LoadedModel, model_fingerprint, prepare_tokenizer
from calib_eval.runner.batch_work import answer_generate, run_batch
from calib_eval.scorers import ScorerConfig, get_scorer
from calib_eval.task_specs import get_task, load_task_examples

SHARED = ScorerConfig(lora_prompt_mode="shared-cache")
PREFIX = "Answer in a few words.\n"


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, tiny_lm):
    """A random (far from zero) LoRA saved with a calib card, as `calib-eval train` writes one."""
    from peft import LoraConfig, get_peft_model
    from tiny_models import build_tiny_model

    base = build_tiny_model(len(tiny_lm[1]))
    fingerprint = model_fingerprint(base)
    torch.manual_seed(1)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                                           init_lora_weights=False))
    folder = tmp_path_factory.mktemp("lora-prompt")
    lora.save_pretrained(folder)
    card = {"method": "calibration-tune", "scorer": "lora_prompt", "base_model": "tiny",
            "base_fingerprint": fingerprint, "has_lora": True, "head": None, "temperature": None}
    (folder / "calib_card.json").write_text(json.dumps(card))
    return folder


def setup(tiny_lm, data_root, adapter_dir, task="mmlu_oe_calib", n=4):
    """A fresh tiny model (peft edits it in place) with the adapter, and n items under a shared prefix."""
    from tiny_models import build_tiny_model

    tok = tiny_lm[1]
    prepare_tokenizer(tok)
    loaded = LoadedModel(build_tiny_model(len(tok)), tok, "tiny", "tiny", "cpu", "float32")
    adapters = AdapterSet.load(loaded, {"lora_prompt": str(adapter_dir)})
    spec = get_task(task)
    examples = load_task_examples(spec, n, data_root)
    texts = [spec.build_suffix(e) for e in examples]
    suffix_ids = [sum(prompt_ids(tok, "", t), []) for t in texts]
    return loaded, adapters, spec, examples, encode_text(tok, PREFIX), suffix_ids, texts


def run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, cfg, scorers=("lora_prompt",)):
    with adapters.base() as base:  # the runner hands the base model's prefix cache in
        prefix_cache = encode_prefix(base, prefix)
    instances = {name: get_scorer(name)() for name in scorers}
    return run_batch(loaded, spec, examples, prefix, suffix_ids, texts, instances, cfg, adapters, prefix_cache)


def greedy(model, loaded, spec, examples, prefix, suffix_ids, texts):
    """Answers (text, ids) decoded by `model` from scratch: no prefix cache."""
    rows = [prefix + s for s in suffix_ids]
    state = encode_batch(model, [], rows, loaded.tokenizer.pad_token_id)
    gens, answer_ids, _ = answer_generate(state, spec, examples, texts, loaded.tokenizer)
    return [g.answer.strip() for g in gens], answer_ids


@torch.no_grad()
def plain_logprob(model, context: list[int], continuation: list[int]) -> float:
    """log P(continuation | context) from one uncached forward."""
    logp = torch.log_softmax(model(input_ids=torch.tensor([context + continuation])).logits[0].float(), dim=-1)
    return sum(float(logp[len(context) - 1 + t, tok]) for t, tok in enumerate(continuation))


def plain_p_yes(model, tok, rows: list[list[int]]) -> list[float]:
    """The two-way ` i`/` ii` softmax after the query (full option likelihoods: multi-token here)."""
    query = encode_text(tok, prompts.UNCERTAINTY_QUERY)
    no, yes = encode_text(tok, prompts.QUERY_NO), encode_text(tok, prompts.QUERY_YES)
    pairs = [(plain_logprob(model, row + query, no), plain_logprob(model, row + query, yes)) for row in rows]
    return [1.0 / (1.0 + math.exp(lp_no - lp_yes)) for lp_no, lp_yes in pairs]


def plain_perplexity_score(model, prompt: list[int], answer: list[int]) -> float:
    return math.exp(plain_logprob(model, prompt, answer) / len(answer)) if answer else 0.0


def test_shared_cache_answers_under_the_adapter_and_scores_as_a_full_reencode(tiny_lm, data_root, adapter_dir):
    loaded, adapters, spec, examples, prefix, suffix_ids, texts = setup(tiny_lm, data_root, adapter_dir)
    out = run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, SHARED)
    assert out.extra["lora_prompt"] == {"mode": "shared-cache"}
    with adapters.active("lora_prompt") as model:
        answers, answer_ids = greedy(model, loaded, spec, examples, prefix, suffix_ids, texts)
        want = plain_p_yes(model, loaded.tokenizer, [prefix + s + a for s, a in zip(suffix_ids, answer_ids)])
    with adapters.base() as base:
        base_answers, _ = greedy(base, loaded, spec, examples, prefix, suffix_ids, texts)
    assert answers != base_answers  # the LoRA changes answers, so this test can tell who generated
    assert [r["answer"] for r in out.rows] == answers
    assert [r["scores"]["lora_prompt"] for r in out.rows] == pytest.approx(want, abs=1e-5)


def test_paper_mode_answers_with_the_base_model_and_rereads_under_the_adapter(tiny_lm, data_root, adapter_dir):
    loaded, adapters, spec, examples, prefix, suffix_ids, texts = setup(tiny_lm, data_root, adapter_dir)
    out = run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, ScorerConfig())
    assert out.extra["lora_prompt"] == {"mode": "paper"}
    with adapters.base() as base:
        answers, answer_ids = greedy(base, loaded, spec, examples, prefix, suffix_ids, texts)
    with adapters.active("lora_prompt") as model:
        want = plain_p_yes(model, loaded.tokenizer, [prefix + s + a for s, a in zip(suffix_ids, answer_ids)])
    assert [r["answer"] for r in out.rows] == answers
    assert [r["scores"]["lora_prompt"] for r in out.rows] == pytest.approx(want, abs=1e-5)


def test_base_scorers_read_the_base_model_in_shared_cache_mode(tiny_lm, data_root, adapter_dir):
    """The adapter wrote the answers, but perplexity and P(True) still come from the untouched model."""
    loaded, adapters, spec, examples, prefix, suffix_ids, texts = setup(tiny_lm, data_root, adapter_dir)
    out = run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, SHARED,
              scorers=("lora_prompt", "perplexity", "zero_shot_classifier"))
    with adapters.active("lora_prompt") as model:
        _, answer_ids = greedy(model, loaded, spec, examples, prefix, suffix_ids, texts)
    with adapters.base() as base:
        ppl = [plain_perplexity_score(base, prefix + s, a) for s, a in zip(suffix_ids, answer_ids)]
        p_true = plain_p_yes(base, loaded.tokenizer, [prefix + s + a for s, a in zip(suffix_ids, answer_ids)])
    assert [r["scores"]["perplexity"] for r in out.rows] == pytest.approx(ppl, rel=1e-4)
    assert [r["scores"]["zero_shot_classifier"] for r in out.rows] == pytest.approx(p_true, abs=1e-5)
    assert [r["scores"]["zero_shot_classifier"] for r in out.rows] != pytest.approx(
        [r["scores"]["lora_prompt"] for r in out.rows], abs=1e-3)


def test_choice_tasks_keep_the_paper_mode(tiny_lm, data_root, adapter_dir):
    loaded, adapters, spec, examples, prefix, suffix_ids, texts = setup(tiny_lm, data_root, adapter_dir,
                                                                        task="mmlu_mc_calib")
    shared = run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, SHARED)
    paper = run(loaded, adapters, spec, examples, prefix, suffix_ids, texts, ScorerConfig())
    assert shared.extra["lora_prompt"] == {"mode": "paper"}
    assert [r["answer"] for r in shared.rows] == [r["answer"] for r in paper.rows]
    assert [r["scores"]["lora_prompt"] for r in shared.rows] == pytest.approx(
        [r["scores"]["lora_prompt"] for r in paper.rows], abs=1e-6)


def test_mode_is_validated_and_keys_the_item_cache_only_off_the_default():
    with pytest.raises(CalibEvalError, match="shared-cache"):
        ScorerConfig(lora_prompt_mode="shared_cache")
    assert "lora_prompt_mode" not in ScorerConfig().signature()  # caches from before the option still resume
    assert SHARED.signature()["lora_prompt_mode"] == "shared-cache"
    assert {k: v for k, v in SHARED.signature().items() if k != "lora_prompt_mode"} == ScorerConfig().signature()


def test_cli_refuses_an_unknown_mode(capsys):
    from calib_eval.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--lora-prompt-mode", "cheap"])
    assert "invalid choice: 'cheap'" in capsys.readouterr().err
