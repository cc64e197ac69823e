"""`calib-eval pairwise`: pair sampling, the metrics by hand, P("1") against a plain forward, the CLI."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

from calib_eval.cli import main
from calib_eval.errors import DataError, ModelError
from calib_eval.metrics import expected_calibration_error, pairwise_accuracy, roc_auc, win_rates
from calib_eval.pairwise import sample_pairs
from calib_eval.pairwise.probability import first_probabilities, pairwise_prompt_ids, reply_token_ids
from calib_eval.pairwise.report import pairwise_summary

QUESTIONS = ["What is the capital of France?", "How many legs does a spider have?", "What gas do plants absorb?",
             "Is the sun a star?", "What color is the sky on a clear day?", "Who wrote Hamlet?",
             "What is frozen water called?", "Can fish breathe air?", "Which planet is known as the red planet?",
             "What is the boiling point of water at sea level in Celsius?", "How many days are in a leap year?",
             "Which ocean is the largest?"]


# --- pair sampling -----------------------------------------------------------------------------

def test_pairs_only_compare_items_whose_correctness_differs():
    correct = [True, False, False, True, False, True, False, False, True, False]  # 4 right x 6 wrong
    pairs = sample_pairs(correct, n_pairs=100, seed=3)
    assert len(pairs) == 24  # fewer combinations than asked: every one, once
    assert len({frozenset((p.first, p.second)) for p in pairs}) == 24
    for p in pairs:
        assert correct[p.first] != correct[p.second]
        assert p.first_correct == correct[p.first]


def test_pairs_are_seeded():
    correct = [i % 3 == 0 for i in range(60)]
    assert sample_pairs(correct, 50, seed=1) == sample_pairs(correct, 50, seed=1)
    assert sample_pairs(correct, 50, seed=1) != sample_pairs(correct, 50, seed=2)


@pytest.mark.parametrize("n_pairs", [1, 101, 500])
def test_correct_question_is_first_in_half_the_pairs(n_pairs):
    correct = [i % 5 < 2 for i in range(100)]  # 40 right x 60 wrong
    pairs = sample_pairs(correct, n_pairs, seed=0)
    assert len(pairs) == n_pairs
    assert Counter(p.first_correct for p in pairs)[True] == n_pairs // 2
    assert len(set(pairs)) == n_pairs


@pytest.mark.parametrize("correct, counts", [([True] * 3, "3 of 3 are correct and 0 incorrect"),
                                             ([False] * 2, "0 of 2 are correct and 2 incorrect")])
def test_one_class_is_refused_naming_file_and_counts(correct, counts):
    with pytest.raises(DataError, match=f"runs/x/items.jsonl: .*{counts}"):
        sample_pairs(correct, what="runs/x/items.jsonl")


# --- metrics by hand ---------------------------------------------------------------------------

def test_pairwise_accuracy_by_hand_with_a_tie():
    p_first = [0.9, 0.2, 0.5, 0.7, 0.1]
    first_correct = [True, True, False, False, False]
    # right, wrong (picked 2 but 1 was correct), tie = half, wrong, right
    assert pairwise_accuracy(p_first, first_correct) == pytest.approx((1 + 0 + 0.5 + 0 + 1) / 5)


def test_pairwise_accuracy_rejects_non_probabilities():
    with pytest.raises(ValueError, match="p_first"):
        pairwise_accuracy([1.5], [True])


def test_win_rates_by_hand():
    # pairs: (0 vs 1, P(0)=0.8), (2 vs 0, P(2)=0.4), (1 vs 3, P(1)=0.5); item 4 is in no pair
    wins = win_rates([0, 2, 1], [1, 0, 3], [0.8, 0.4, 0.5], n_items=5)
    assert wins[:4] == pytest.approx([(0.8 + 0.6) / 2, (0.2 + 0.5) / 2, 0.4, 0.5])
    assert np.isnan(wins[4])


def test_summary_of_a_perfect_judge():
    correct = [True, False, True, False, False, True]
    pairs = sample_pairs(correct, 9, seed=0)
    p_first = [1.0 if p.first_correct else 0.0 for p in pairs]
    out = pairwise_summary(pairs, p_first, correct, bootstrap=50)
    assert out["pairwise_accuracy"]["estimate"] == 1.0 and out["win_rate_auroc"]["estimate"] == 1.0
    assert out["picks_first"] == pytest.approx(sum(p.first_correct for p in pairs) / len(pairs))
    flipped = pairwise_summary(pairs, [1 - p for p in p_first], correct, bootstrap=50)
    assert flipped["pairwise_accuracy"]["estimate"] == 0.0 and flipped["win_rate_auroc"]["estimate"] == 0.0


# --- P("1") from the model ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def smollm2_tokenizer():
    """The default model's real tokenizer (" 1" is "Ġ" + "1" there); the model itself is never loaded."""
    from transformers import AutoTokenizer

    from calib_eval import model_zoo
    from calib_eval.models import prepare_tokenizer

    if not model_zoo.is_pulled("default"):
        pytest.skip("default model tokenizer not converted (`calib-eval models pull default`)")
    tok = AutoTokenizer.from_pretrained(str(model_zoo.model_dir("default")))
    prepare_tokenizer(tok)
    return tok


@pytest.fixture(params=["tiny-bpe", "smollm2"])
def tokenizer(request):
    if request.param == "tiny-bpe":
        return request.getfixturevalue("tiny_lm")[1]
    return request.getfixturevalue("smollm2_tokenizer")


def test_reply_tokens_of_both_tokenizer_kinds(tiny_lm, smollm2_tokenizer):
    lead, one, two = reply_token_ids(tiny_lm[1])
    assert lead == [] and one != two  # " 1" is one token
    lead, one, two = reply_token_ids(smollm2_tokenizer)
    assert len(lead) == 1 and one != two  # "Ġ" shared, then "1" / "2"


def test_first_probability_is_a_softmax_over_the_two_reply_logits(tokenizer):
    from tiny_models import build_tiny_model

    model = build_tiny_model(len(tokenizer), init_std=0.5)  # peaked outputs: P("1") far from 0.5
    pairs = [(QUESTIONS[0], QUESTIONS[1]), (QUESTIONS[9], QUESTIONS[3]), (QUESTIONS[1], QUESTIONS[0])]
    got = first_probabilities(model, tokenizer, pairs, batch_size=2)  # two batches, rows of unequal length
    lead, one, two = reply_token_ids(tokenizer)
    want = []
    for first, second in pairs:
        ids = pairwise_prompt_ids(tokenizer, first, second) + lead
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].double()
        want.append(float(torch.exp(logits[one]) / (torch.exp(logits[one]) + torch.exp(logits[two]))))
    assert got == pytest.approx(want, abs=1e-5)
    assert max(abs(p - 0.5) for p in got) > 0.01 and got[0] != pytest.approx(got[2])


def test_query_ids_are_the_ids_pairwise_sft_trains_on(tokenizer):
    from calib_eval.training.graded_data import GradedExample
    from calib_eval.training.methods.sft import pairwise_seqs

    def row(i, question, correct):
        return GradedExample(f"toy/{i}", "toy", question, "x", [], [], correct, "x", "", {"question": question})

    right, wrong = QUESTIONS[2], QUESTIONS[7]
    lead, one, two = reply_token_ids(tokenizer)
    targets = set()
    for seq in pairwise_seqs([row(0, right, True), row(1, wrong, False)], tokenizer, n_pairs=8, seed=0):
        first_right = seq.ids[seq.target_start:] == lead + [one]
        targets.add(first_right)
        if not first_right:
            assert seq.ids[seq.target_start:] == lead + [two]
        shown = (right, wrong) if first_right else (wrong, right)
        assert seq.ids[:seq.target_start] == pairwise_prompt_ids(tokenizer, *shown)
    assert targets == {True, False}


class _FakeTokenizer:
    def __init__(self, ids):
        self.ids = ids

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": self.ids[text]}


@pytest.mark.parametrize("one, two", [([5, 6, 7], [5, 8]), ([9], [9]), ([3, 4], [5, 6])])
def test_replies_that_are_not_single_distinct_tokens_are_refused(one, two):
    with pytest.raises(ModelError, match="single distinct tokens"):
        reply_token_ids(_FakeTokenizer({" 1": one, " 2": two}))


# --- CLI -------------------------------------------------------------------------------------

def write_items(folder, with_verbalized=True, n=12):
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        row = {"id": f"toy/{i}", "task": "toy_calib", "question": QUESTIONS[i % len(QUESTIONS)], "answer": "x",
               "correct": i % 2 == 0, "scores": {"perplexity": 0.1 * (i % 7)}}
        if with_verbalized:
            row["scores"]["verbalized"] = (i % 5) / 4
        rows.append(row)
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_cli_end_to_end(tiny_model_dir, tmp_path, capsys):
    task_dir = tmp_path / "runs" / "tiny" / "toy_calib"
    rows = write_items(task_dir)
    assert main(["pairwise", str(task_dir), "--model", str(tiny_model_dir), "--n-pairs", "20", "--batch-size", "4",
                 "--bootstrap", "50"]) == 0
    shown = capsys.readouterr().out
    assert "pairwise accuracy" in shown and "verbalized" in shown
    out = json.loads((task_dir / "pairwise.json").read_text())
    assert out["kind"] == "calib-eval-pairwise" and out["adapter"] is None
    assert out["n_pairs"] == 20 and out["n_items"] == 12 and out["n_correct"] == 6
    correct = {r["id"]: r["correct"] for r in rows}
    assert all(correct[p["first"]] != correct[p["second"]] and correct[p["first"]] == p["first_correct"]
               for p in out["pairs"])
    assert sum(p["first_correct"] for p in out["pairs"]) == 10
    p_first = [p["p_first"] for p in out["pairs"]]
    first_correct = [p["first_correct"] for p in out["pairs"]]
    assert out["pairwise_accuracy"]["estimate"] == pairwise_accuracy(p_first, first_correct)
    assert out["pairwise_accuracy"]["low"] <= out["pairwise_accuracy"]["estimate"] <= out["pairwise_accuracy"]["high"]
    index = {r["id"]: i for i, r in enumerate(rows)}
    wins = win_rates([index[p["first"]] for p in out["pairs"]], [index[p["second"]] for p in out["pairs"]], p_first, 12)
    paired = ~np.isnan(wins)
    assert out["win_rate_auroc"]["estimate"] == pytest.approx(
        roc_auc(wins[paired], np.array([r["correct"] for r in rows])[paired]))
    verbalized = out["verbalized"]
    assert verbalized["n"] == 12 and verbalized["ece"]["estimate"] == pytest.approx(expected_calibration_error(
        [r["scores"]["verbalized"] for r in rows], [r["correct"] for r in rows]))


def test_cli_without_verbalized_scores_says_so(tiny_model_dir, tmp_path, capsys):
    write_items(tmp_path / "t", with_verbalized=False)
    target = tmp_path / "elsewhere" / "p.json"
    assert main(["pairwise", str(tmp_path / "t" / "items.jsonl"), "--model", str(tiny_model_dir), "--n-pairs", "6",
                 "--bootstrap", "0", "--out", str(target)]) == 0
    assert "absent" in capsys.readouterr().out
    out = json.loads(target.read_text())
    assert out["verbalized"] is None and out["pairwise_accuracy"]["low"] is None
    assert not (tmp_path / "t" / "pairwise.json").exists()


def test_cli_refuses_one_class_items_before_loading_a_model(tmp_path, capsys):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "items.jsonl").write_text(json.dumps({"id": "a", "question": "q?", "correct": True}) + "\n")
    assert main(["pairwise", str(folder), "--model", "no-such-model"]) == 2  # the model is never reached
    err = capsys.readouterr().err
    assert "items.jsonl" in err and "1 of 1 are correct and 0 incorrect" in err


def test_cli_refuses_other_adapter_names(tmp_path, capsys):
    write_items(tmp_path / "t")
    assert main(["pairwise", str(tmp_path / "t"), "--adapter", "lora_prompt=adapters/x"]) == 2
    assert "--adapter pairwise=PATH" in capsys.readouterr().err


def write_card(folder, fingerprint, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    card = {"method": "pairwise-sft", "scorer": "pairwise", "base_model": "other-model",
            "base_fingerprint": fingerprint, "has_lora": True, **extra}
    (folder / "calib_card.json").write_text(json.dumps(card))


def test_adapter_for_another_base_model_is_refused(tiny_model_dir, tmp_path, capsys):
    write_items(tmp_path / "t")
    write_card(tmp_path / "wrong", "0123456789abcdef")
    assert main(["pairwise", str(tmp_path / "t"), "--model", str(tiny_model_dir), "--adapter",
                 f"pairwise={tmp_path / 'wrong'}"]) == 2
    assert "fingerprint 0123456789abcdef" in capsys.readouterr().err
    assert not list((tmp_path / "t").glob("pairwise*.json"))


def test_adapter_is_switched_on(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from calib_eval.models import model_fingerprint

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    fingerprint = model_fingerprint(base)
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))  # random B: the LoRA changes outputs
    folder = tmp_path / "my-pairwise"
    lora.save_pretrained(folder)
    write_card(folder, fingerprint)
    write_items(tmp_path / "t")
    args = ["pairwise", str(tmp_path / "t"), "--model", str(tiny_model_dir), "--n-pairs", "8", "--bootstrap", "0"]
    assert main(args) == 0
    assert main(args + ["--adapter", f"pairwise={folder}"]) == 0
    plain = json.loads((tmp_path / "t" / "pairwise.json").read_text())
    adapted = json.loads((tmp_path / "t" / "pairwise-my-pairwise.json").read_text())
    assert adapted["adapter"]["method"] == "pairwise-sft" and adapted["model"]["fingerprint"] == fingerprint
    assert [p["first"] for p in adapted["pairs"]] == [p["first"] for p in plain["pairs"]]  # same seed, same pairs
    assert [p["p_first"] for p in adapted["pairs"]] != pytest.approx([p["p_first"] for p in plain["pairs"]], abs=1e-4)


def test_leaderboard_build_passes_over_pairwise_files(tmp_path):
    from calib_eval.leaderboard import build_leaderboard
    from calib_eval.leaderboard.demo import demo_payload
    from calib_eval.pairwise.report import KIND
    from calib_eval.results import write_json_atomic

    results = demo_payload("m1", "mmlu_oe_calib", scorers=("verbalized",), n=20)
    for entry in results["scorers"].values():
        entry["reliability"] = None  # only the scatter plot is drawn: fast
    write_json_atomic(tmp_path / "runs/m1/mmlu_oe_calib/results.json", results)
    write_json_atomic(tmp_path / "runs/m1/mmlu_oe_calib/pairwise.json", {"kind": KIND, "schema_version": 1})
    report = build_leaderboard([tmp_path / "runs"], tmp_path / "lb")
    assert report.ok and not report.skipped and len(report.ingested) == 1
