"""The sampling family: one set of k samples, many scorers, known answers on rigged inputs."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from calib_eval.scorers import SCORERS, ScorerConfig, ScoringBatch
from calib_eval.scorers.equivalence import GraderEquivalence, grader_equivalent
from calib_eval.scorers.graph import degree, eccentricity, eigv
from calib_eval.scorers.lexical import lexical_similarity
from calib_eval.scorers.samples import SampleSet
from calib_eval.scorers.semantic import discrete_semantic_entropy, semantic_entropy, semantic_sets
from calib_eval.types import Example, Generation, Graded

FAMILY = ("sampling", "semantic_entropy", "discrete_semantic_entropy", "num_semantic_sets", "lexical_similarity",
          "eigv", "degree", "eccentricity")
OPEN = Example("q1", "toy", "What is the capital of France?", references=("Paris",))


# --- pure statistics ----------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2, 5, 10])
def test_identical_samples_one_set_zero_entropy_and_distinct_samples_log_k(k):
    same, apart = np.ones((k, k), bool), np.eye(k, dtype=bool)
    assert semantic_sets(same) == [0] * k and semantic_sets(apart) == list(range(k))
    assert semantic_entropy(semantic_sets(same), np.random.default_rng(k).normal(size=k)) == pytest.approx(0)
    assert discrete_semantic_entropy(semantic_sets(apart)) == pytest.approx(math.log(k))
    assert semantic_entropy(semantic_sets(apart), np.full(k, -3.7)) == pytest.approx(math.log(k))


def test_semantic_entropy_weighs_sets_by_summed_sample_probability():
    # sets {0, 1} and {2}: p = (0.2 + 0.3) / 1.0 and 0.5 -> log 2; discrete shares 2/3, 1/3
    eq = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], bool)
    ids = semantic_sets(eq)
    assert ids == [0, 0, 1]
    assert semantic_entropy(ids, np.log([0.2, 0.3, 0.5])) == pytest.approx(math.log(2))
    p = np.array([0.1 + 0.3, 0.2]) / 0.6
    assert semantic_entropy(ids, np.log([0.1, 0.3, 0.2])) == pytest.approx(-(p * np.log(p)).sum())
    assert discrete_semantic_entropy(ids) == pytest.approx(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))


def test_semantic_sets_follow_the_first_member_not_transitivity():
    # 0~1 and 1~2 but not 0~2: sample 2 is compared with set 0's first member only (Kuhn et al.)
    eq = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], bool)
    assert semantic_sets(eq) == [0, 0, 1]


@pytest.mark.parametrize("k", [2, 3, 6])
def test_graph_uncertainties_at_the_extremes(k):
    same, apart = np.ones((k, k)), np.eye(k)
    assert eigv(same) == pytest.approx(1) and eigv(apart) == pytest.approx(k)
    assert degree(same) == pytest.approx(0) and degree(apart) == pytest.approx(1 - 1 / k)
    assert eccentricity(same) == pytest.approx(0, abs=1e-9) and eccentricity(apart) == pytest.approx(math.sqrt(k - 1))


def test_eigv_counts_cliques_and_rejects_a_bad_matrix():
    two_cliques = np.kron(np.eye(2), np.ones((3, 3)))  # two sets of 3
    assert eigv(two_cliques) == pytest.approx(2)
    assert degree(two_cliques) == pytest.approx(1 - 18 / 36)
    with pytest.raises(ValueError, match="symmetric"):
        eigv(np.array([[1.0, 0.5], [0.0, 1.0]]))


def test_lexical_similarity_is_mean_pairwise_rouge_l():
    assert lexical_similarity(["the red fox"] * 4) == pytest.approx(1)
    assert lexical_similarity(["red fox", "blue whale", "green tea"]) == pytest.approx(0)
    # "red fox" vs "red dog": LCS 1 of 2 -> F1 0.5; the other two pairs 0
    assert lexical_similarity(["red fox", "red dog", "blue whale"]) == pytest.approx(0.5 / 3)


# --- equivalence through the grader ----------------------------------------------------------------

@pytest.mark.parametrize("a,b,same", [
    ("Paris", " paris.", True), ("Paris", "London", False), ("", "", True), ("", "Paris", False),
    ("I don't know", "It is unknown.", True), ("Paris", "not Paris", False),
])
def test_grader_equivalence_on_open_answers(a, b, same):
    from calib_eval.grading import grade

    assert grader_equivalent(grade, OPEN, a, b) is same
    assert grader_equivalent(grade, OPEN, b, a) is same


@pytest.mark.parametrize("a,b", [("It is Paris", "Paris"), ("The city of Paris", "Paris"), ("Paris, France", "Paris")])
def test_grader_equivalence_is_the_grader_accepting_either_as_the_reference(a, b):
    # whatever the open-answer rules are (they evolve), equivalence follows them
    from calib_eval.grading import grade

    accepted = grade(replace(OPEN, references=(b,)), a)[0] or grade(replace(OPEN, references=(a,)), b)[0]
    assert grader_equivalent(grade, OPEN, a, b) is accepted


def test_equivalence_calls_the_task_grader_it_is_given():
    def same_initial(example, answer):  # a toy grader: right when the first letters match
        return answer.strip()[:1].lower() == example.references[0].strip()[:1].lower(), "toy"

    assert grader_equivalent(same_initial, OPEN, "Paris", "Prague")
    assert not grader_equivalent(same_initial, OPEN, "Paris", "Rome")


def test_grader_equivalence_on_yes_no_and_unanswerable_items():
    from calib_eval.grading import grade

    yesno = Example("q2", "toy", "Is it?", references=("yes",), choices=("yes", "no"), answer_index=0,
                    answer_kind="yesno")
    assert grader_equivalent(grade, yesno, "Yes, it is.", "yes")
    assert grader_equivalent(grade, yesno, "Maybe.", "maybe so")
    assert not grader_equivalent(grade, yesno, "Yes.", "No, it is not.")
    unanswerable = Example("q3", "toy", "What will happen?", answer_kind="unanswerable")
    assert grader_equivalent(grade, unanswerable, "No one knows.", "It is impossible to say.")
    assert not grader_equivalent(grade, unanswerable, "Rain", "Snow")  # grading these alone would ignore the text
    assert grader_equivalent(grade, unanswerable, "Rain", "rain.")


# --- scorers over stored samples (no model) ------------------------------------------------------

def _stored_batch(texts_per_item, logprobs=None, cfg=ScorerConfig(), greedy=None):
    items, samples = [], []
    for n, texts in enumerate(texts_per_item):
        answer = greedy[n] if greedy else texts[0]
        items.append(Graded(Generation(OPEN, "prompt", answer), answer.strip().lower() == "paris"))
        lp = logprobs[n] if logprobs else [-1.0] * len(texts)
        samples.append(SampleSet(tuple(texts), tuple(lp), tuple([2] * len(texts)), 1.0))
    return ScoringBatch(items, None, [], [], [], config=cfg, samples=samples)


def _scores(batch, names=FAMILY):
    return {name: SCORERS.get(name)().score(batch) for name in names}


def test_every_family_scorer_on_identical_and_distinct_samples():
    k = 5
    batch = _stored_batch([["Paris"] * k, ["Paris", "Rome", "Oslo", "Lima", "Bern"]])
    s = _scores(batch)
    assert s["sampling"] == [1.0, pytest.approx(1 / k)]
    assert s["semantic_entropy"] == [pytest.approx(0), pytest.approx(-math.log(k))]
    assert s["discrete_semantic_entropy"] == [pytest.approx(0), pytest.approx(-math.log(k))]
    assert s["num_semantic_sets"] == [-1.0, -float(k)]
    assert s["lexical_similarity"] == [pytest.approx(1), pytest.approx(0)]
    assert s["eigv"] == [pytest.approx(-1), pytest.approx(-k)]
    assert s["degree"] == [pytest.approx(0), pytest.approx(-(1 - 1 / k))]
    assert s["eccentricity"] == [pytest.approx(0, abs=1e-9), pytest.approx(-math.sqrt(k - 1))]
    assert batch.extra["semantic_entropy"]["equivalence"] == "grader"
    assert batch.extra["eigv"]["graph_weight"] == "equivalence (grader)"
    assert batch.extra["sampling"]["samples"] == "k=5 at T=1.0, stored"


def test_agreement_compares_through_the_grader_not_exact_text():
    batch = _stored_batch([["paris.", "PARIS!", "Paris", "London"]], greedy=["Paris"])
    assert _scores(batch, ["sampling"])["sampling"] == [pytest.approx(3 / 4)]
    toy = _stored_batch([["Prague", "Porto", "Rome", "Paris"]], greedy=["Paris"])
    toy.grader = lambda example, answer: (answer[:1] == example.references[0][:1], "toy")
    assert _scores(toy, ["sampling"])["sampling"] == [pytest.approx(3 / 4)]
    empty = _stored_batch([["", "", "Paris"]], greedy=[""])
    assert _scores(empty, ["sampling"])["sampling"] == [0.0]  # nothing to agree with


def test_semantic_entropy_uses_stored_sample_probabilities_and_length_norm():
    texts = [["Paris", "paris", "Rome"]]
    # n_tokens is 2 for every sample: length norm halves each log-prob, which changes the answer
    logprobs = [[math.log(0.2), math.log(0.3), math.log(0.5)]]
    whole = _scores(_stored_batch(texts, logprobs, ScorerConfig(semantic_length_norm=False)), ["semantic_entropy"])
    assert whole["semantic_entropy"] == [pytest.approx(-math.log(2))]
    w = np.sqrt([0.2, 0.3, 0.5])
    p = np.array([w[0] + w[1], w[2]]) / w.sum()
    normed = _scores(_stored_batch(texts, logprobs), ["semantic_entropy"])
    assert normed["semantic_entropy"] == [pytest.approx((p * np.log(p)).sum())]


def test_graph_methods_can_weigh_edges_by_rouge_l():
    cfg = ScorerConfig(graph_similarity="rouge_l")
    batch = _stored_batch([["red fox", "red fox", "red fox"]], cfg=cfg)
    assert _scores(batch, ["degree"])["degree"] == [pytest.approx(0)]
    assert batch.extra["degree"]["graph_weight"] == "rouge_l"


def test_bad_settings_are_refused_with_a_clear_error():
    from calib_eval.errors import CalibEvalError

    with pytest.raises(CalibEvalError, match="nli:<hub id or folder>"):
        ScorerConfig(semantic_equivalence="nli")
    with pytest.raises(CalibEvalError, match="rouge_l"):
        ScorerConfig(graph_similarity="rougel")


def test_stored_samples_round_trip_and_bad_rows_fail_clearly():
    from calib_eval.errors import DataError

    s = SampleSet(("a", "b"), (-1.0, -2.5), (1, 3), 0.7)
    assert SampleSet.from_json(json.loads(json.dumps(s.to_json()))) == s
    with pytest.raises(DataError, match="n_tokens"):
        SampleSet.from_json({"texts": ["a"], "logprobs": [-1.0], "temperature": 1.0})
    with pytest.raises(DataError, match="no stored samples"):
        ScoringBatch([], None, [], [], []).sampled()


def test_calib_eval_scorers_lists_the_family(capsys):
    from calib_eval.cli import main

    assert main(["scorers"]) == 0
    out = capsys.readouterr().out
    for name in FAMILY:
        assert name in out


# --- on a tiny model: drawn once, stored with the item, rescored without a model ----------------

def _run_family(tiny_lm, data_root, cfg, boost_word=None, n=3):
    from test_engine_scorers import _batch, boosted

    from calib_eval.runner.batch_work import run_batch

    loaded, spec, examples, suffix_ids, texts, scorers = _batch(tiny_lm, data_root, scorers=FAMILY, cfg=cfg, n=n)
    if boost_word is None:
        return run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, cfg, None, None)
    word = loaded.tokenizer(boost_word, add_special_tokens=False)["input_ids"][0]
    with boosted(loaded.model, word, 60.0):  # every step, greedy or sampled, picks the same token
        return run_batch(loaded, spec, examples, [], suffix_ids, texts, scorers, cfg, None, None)


def test_k_identical_samples_on_a_rigged_tiny_model(tiny_lm, data_root):
    cfg = ScorerConfig(sampling_k=4)
    out = _run_family(tiny_lm, data_root, cfg, boost_word=" yes")
    for row in out.rows:
        s = row["scores"]
        assert s["sampling"] == 1.0 and s["num_semantic_sets"] == -1.0 and s["eigv"] == pytest.approx(-1)
        assert s["semantic_entropy"] == pytest.approx(0) and s["discrete_semantic_entropy"] == pytest.approx(0)
        assert s["lexical_similarity"] == pytest.approx(1) and s["degree"] == pytest.approx(0)
        assert len(set(row["samples"]["texts"])) == 1 and len(row["samples"]["texts"]) == 4
        assert row["samples"]["texts"][0].strip() == row["answer"]
        assert row["samples"]["temperature"] == 1.0 and all(n >= 1 for n in row["samples"]["n_tokens"])
    assert out.extra["sampling"]["samples"] == "k=4 at T=1.0, drawn"


def test_samples_are_drawn_once_per_batch_for_the_whole_family(tiny_lm, data_root, monkeypatch):
    import calib_eval.inference.decode as decode

    calls = []
    real = decode.greedy_decode

    def counting(*args, **kwargs):
        calls.append(kwargs.get("sample_temperature"))
        return real(*args, **kwargs)

    monkeypatch.setattr(decode, "greedy_decode", counting)
    out = _run_family(tiny_lm, data_root, ScorerConfig(sampling_k=3))
    assert calls == [1.0]  # one sampling run for eight scorers (the greedy answer is decoded elsewhere)
    assert all(len(r["samples"]["texts"]) == 3 for r in out.rows)


def test_sequence_logprobs_of_samples_include_the_stop_token(tiny_lm, data_root):
    out = _run_family(tiny_lm, data_root, ScorerConfig(sampling_k=5, seed=3))
    for row in out.rows:
        s = row["samples"]
        assert all(lp < 0 for lp in s["logprobs"])  # even an empty sample paid for its stop token
        assert all(1 <= n <= 33 for n in s["n_tokens"])


def test_calib_eval_score_recomputes_the_family_from_stored_samples_without_a_model(tiny_lm, data_root, tmp_path,
                                                                                   monkeypatch):
    import calib_eval.models
    from calib_eval.results import write_jsonl_atomic
    from calib_eval.runner.config import RunConfig
    from calib_eval.runner.rescore import rescore

    out = _run_family(tiny_lm, data_root, ScorerConfig(sampling_k=4, seed=1), n=4)
    items = tmp_path / "run" / "items.jsonl"
    items.parent.mkdir()
    write_jsonl_atomic(items, out.rows)

    def no_model(*args, **kwargs):
        raise AssertionError("a language model was loaded")

    monkeypatch.setattr(calib_eval.models, "load_model", no_model)
    config = RunConfig(model="no-such-model", scorers=FAMILY, output=str(tmp_path / "out"), data_root=str(data_root),
                       bootstrap=0, scorer=ScorerConfig(sampling_k=99))  # k comes from the file, not the config
    [results] = rescore(items, config)
    payload = json.loads(results.read_text())
    again = {r["id"]: r for r in (json.loads(line) for line in results.with_name("items.jsonl").open())}
    for row in out.rows:
        assert again[row["id"]]["samples"] == row["samples"]
        for name in FAMILY:
            assert again[row["id"]]["scores"][name] == pytest.approx(row["scores"][name])
    assert payload["model"]["name"] == "unknown"
    assert payload["scorers"]["semantic_entropy"]["extra"]["samples"] == "k=4 at T=1.0, stored"


# --- NLI equivalence with a tiny random NLI-shaped model -----------------------------------------

LABELS = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}


def _tiny_nli(folder, tokenizer, favoured: int):
    """A 1-layer BERT classifier whose bias makes one label win for every pair."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=256, num_labels=3, id2label=LABELS,
                        label2id={v: k for k, v in LABELS.items()}, pad_token_id=tokenizer.pad_token_id)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.bias.zero_()
        model.classifier.bias[favoured] = 30.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("favoured,sets", [(2, 1), (0, 3)])
def test_nli_backend_is_used_and_recorded(tiny_lm, tmp_path, favoured, sets):
    folder = _tiny_nli(tmp_path / f"nli{favoured}", tiny_lm[1], favoured)
    cfg = ScorerConfig(semantic_equivalence=f"nli:{folder}")
    # three texts the grader would call three different answers; one duplicate
    batch = _stored_batch([["Paris", "Rome", "Oslo", "Rome"]], cfg=cfg)
    s = _scores(batch, ["num_semantic_sets", "eigv", "sampling"])
    assert s["num_semantic_sets"] == [-float(sets)]
    assert s["sampling"] == [pytest.approx(0.25 if sets == 3 else 1.0)]
    assert batch.extra["num_semantic_sets"]["equivalence"] == f"nli:{folder}"
    assert batch.extra["eigv"]["graph_weight"] == f"equivalence (nli:{folder})"
    # similarity is the mean entailment probability: ~1 when entailment wins, ~0 when contradiction does
    assert s["eigv"] == [pytest.approx(-1 if sets == 1 else -3, abs=1e-3)]


def test_nli_model_without_an_entailment_label_is_refused():
    from calib_eval.errors import CalibEvalError
    from calib_eval.nli import entailment_label

    assert entailment_label(LABELS) == 2
    with pytest.raises(CalibEvalError, match="entailment"):
        entailment_label({0: "LABEL_0", 1: "LABEL_1"})


def test_agreement_function_outside_a_batch_matches_the_scorer():
    from calib_eval.scorers.sampling import agreement

    samples = ["paris.", "PARIS!", "Paris", "London"]
    assert agreement("Paris", samples, OPEN) == pytest.approx(3 / 4)
    assert agreement("Paris", samples) == pytest.approx(3 / 4)
    assert agreement("", samples) == 0.0


# --- the evaluated LM as the judge ---------------------------------------------------------------

@pytest.mark.parametrize("word,sets", [(" yes", 1), (" no", 3)])
def test_judge_backend_follows_a_rigged_yes_or_no(tiny_lm, word, sets):
    from test_engine_scorers import boosted

    from calib_eval.models import LoadedModel, prepare_tokenizer

    model, tok = tiny_lm
    prepare_tokenizer(tok)
    loaded = LoadedModel(model, tok, "tiny", "tiny", "cpu", "float32")
    batch = _stored_batch([["Paris", "Rome", "Oslo", "Rome"]], cfg=ScorerConfig(semantic_equivalence="judge"))
    batch.model = loaded
    token = tok(word, add_special_tokens=False)["input_ids"][0]
    with boosted(model, token, 30.0):
        s = _scores(batch, ["num_semantic_sets", "sampling"])
    assert s["num_semantic_sets"] == [-float(sets)]
    assert batch.extra["num_semantic_sets"]["equivalence"] == "judge"


def test_judge_needs_a_model_and_rescoring_with_it_loads_one():
    from calib_eval.errors import CalibEvalError
    from calib_eval.runner.samples_only import needs_language_model

    with pytest.raises(CalibEvalError, match="needs the evaluated model"):
        _scores(_stored_batch([["a", "b"]], cfg=ScorerConfig(semantic_equivalence="judge")), ["eigv"])
    rows = [{"samples": {"texts": ["a"]}}]
    assert not needs_language_model(rows, ["eigv"], {}, "grader")
    assert needs_language_model(rows, ["eigv"], {}, "judge")
    assert needs_language_model(rows, ["eigv", "perplexity"], {}, "grader")
    assert needs_language_model([{"samples": None}], ["eigv"], {}, "grader")


def test_rescoring_from_samples_names_the_model_that_generated_them(tmp_path):
    from calib_eval.runner.samples_only import stored_identity

    items = tmp_path / "items.jsonl"
    assert stored_identity(items).name == "unknown"
    (tmp_path / "results.json").write_text(json.dumps({"model": {"name": "smol", "source": "/m", "fingerprint": "ab"}}))
    who = stored_identity(items)
    assert (who.name, who.fingerprint, who.model) == ("smol", "ab", None)
    assert "stored samples" in who.source and "/m" in who.source
