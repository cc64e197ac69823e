"""End to end through lm-eval's own evaluator (``--model hf``) on a tiny random Llama."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from calib_eval.harness.scoring import EXTENDED
from calib_eval.metrics import log_loss, smooth_ece
from calib_eval.prompts import QUERY_NO, QUERY_YES, UNCERTAINTY_QUERY
from calib_eval.task_specs import TASKS, load_task_examples

# a random model gets every item wrong (or right): the NaN AUROC and its warning are expected
pytestmark = pytest.mark.filterwarnings("ignore::calib_eval.metrics.UndefinedMetricWarning")

CALIB_KEYS = ("calib_acc", "calib_ece", "calib_auroc", "calib_brier")


@pytest.fixture(scope="module")
def mmlu_oe(tiny_model_dir, run_lm_eval):
    # a random model never emits the "\n" stop: 8 instead of 32 new tokens keeps the test fast
    return run_lm_eval(tiny_model_dir, ["mmlu_oe_calib"], limit=8, gen_kwargs="max_gen_toks=8")


def _check_metrics(results: dict, samples: list[dict]) -> None:
    for key in CALIB_KEYS:
        assert f"{key},none" in results, key
    for key in ("calib_acc", "calib_ece", "calib_brier"):
        assert 0.0 <= results[f"{key},none"] <= 1.0
    for key in EXTENDED:
        assert f"{key},none" in results, key
    pairs = [s["calib_nll"] for s in samples]
    conf, correct = np.array([c for c, _ in pairs]), np.array([k for _, k in pairs])
    assert results["calib_nll,none"] == pytest.approx(log_loss(conf, correct))
    assert results["calib_smece,none"] == pytest.approx(smooth_ece(conf, correct))
    auroc = results["calib_auroc,none"]
    if math.isnan(auroc):  # deliberate: AUROC is undefined when every item has the same correctness
        assert len({correct for _, correct in (s["calib_auroc"] for s in samples)}) == 1
    else:
        assert 0.0 <= auroc <= 1.0


def test_mmlu_oe_reports_calibration_metrics(mmlu_oe):
    samples = mmlu_oe["samples"]["mmlu_oe_calib"]
    assert len(samples) == 8
    _check_metrics(mmlu_oe["results"]["mmlu_oe_calib"], samples)
    for s in samples:
        conf, correct = s["calib_ece"]
        assert 0.0 <= conf <= 1.0 and s["calib_acc"] == float(correct)


def _continuation_logprob(model, tokenizer, context: str, continuation: str) -> float:
    """Sum of log P(continuation tokens | context), computed directly with torch."""
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    assert whole[: len(ctx)] == ctx
    cont = whole[len(ctx):]
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0]  # (T, V)
    logprobs = torch.log_softmax(logits[len(ctx) - 1: -1].double(), dim=-1)  # (len(cont), V)
    return float(logprobs[torch.arange(len(cont)), torch.tensor(cont)].sum())


def test_lazy_ptrue_equals_direct_computation(mmlu_oe, tiny_model_dir, data_root):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    spec = TASKS["mmlu_oe_calib"]
    examples = load_task_examples(spec, limit=8, data_root=data_root)
    for s in mmlu_oe["samples"]["mmlu_oe_calib"][:3]:
        answer = s["resps"][0][0]
        # built here from the spec and the generated text, independently of the harness
        context = spec.prompt(examples[s["doc_id"]], data_root) + answer + UNCERTAINTY_QUERY
        assert s["arguments"][1] == (context, QUERY_NO) and s["arguments"][2] == (context, QUERY_YES)
        ll_no = _continuation_logprob(model, tokenizer, context, QUERY_NO)
        ll_yes = _continuation_logprob(model, tokenizer, context, QUERY_YES)
        expected = math.exp(ll_yes) / (math.exp(ll_yes) + math.exp(ll_no))
        assert s["calib_ece"][0] == pytest.approx(expected, abs=1e-4)


def test_choice_task_listed_first_still_runs_generation_first(tiny_model_dir, run_lm_eval, data_root):
    # medqa (loglikelihood only) before selfaware (generate + query): the anchor keeps the order
    out = run_lm_eval(tiny_model_dir, ["medqa_ood_calib", "selfaware_calib"], limit=6)
    medqa = out["samples"]["medqa_ood_calib"]
    _check_metrics(out["results"]["medqa_ood_calib"], medqa)
    _check_metrics(out["results"]["selfaware_calib"], out["samples"]["selfaware_calib"])
    assert "calib_answerable_auroc,none" in out["results"]["selfaware_calib"]
    assert [len(s["resps"]) for s in medqa] == [5] + [4] * 5  # the anchor rides on the first doc
    examples = load_task_examples(TASKS["medqa_ood_calib"], limit=6, data_root=data_root)
    for s in medqa:
        lls = torch.tensor([r[0][0] for r in s["resps"][:4]], dtype=torch.float64)
        probs = torch.softmax(lls, dim=0)
        assert s["calib_ece"][0] == pytest.approx(float(probs.max()), abs=1e-9)
        assert s["calib_ece"][1] == (int(probs.argmax()) == examples[s["doc_id"]].answer_index)
        assert [a[1] for a in s["arguments"][:4]] == [" A", " B", " C", " D"]  # no extra delimiter


def test_peft_adapter_scores_the_query(tiny_model_dir, run_lm_eval, data_root, tmp_path):
    # `peft=<adapter>` in model_args: the P(True) query runs through the adapter (LoRA+Prompt)
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    torch.manual_seed(1)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    out = run_lm_eval(tiny_model_dir, ["selfaware_calib"], limit=3, model_args=(
        f"pretrained={tiny_model_dir},peft={tmp_path / 'adapter'},dtype=float32"))
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tuned = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for s in out["samples"]["selfaware_calib"]:
        context = s["arguments"][1][0]
        lls = [_continuation_logprob(tuned, tokenizer, context, c) for c in (QUERY_NO, QUERY_YES)]
        assert s["calib_ece"][0] == pytest.approx(1 / (1 + math.exp(lls[0] - lls[1])), abs=1e-4)
        with tuned.disable_adapter():
            base_lls = [_continuation_logprob(tuned, tokenizer, context, c) for c in (QUERY_NO, QUERY_YES)]
        assert base_lls != pytest.approx(lls, abs=1e-3)  # the adapter really changed the scores
