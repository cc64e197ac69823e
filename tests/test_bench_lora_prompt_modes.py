"""bench/lora_prompt_modes.py: agreement counts, paired differences and the tolerance verdict (no model)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import lora_prompt_modes as bench  # noqa: E402  (bench/lora_prompt_modes.py)


def fake_result(n=60, changed=0, shift=0.0, shared_cpu=1.1, seed=0):
    """Rows of the three passes; `changed` shared-cache answers differ (and flip their label and score)."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.4
    score = np.clip(0.3 + 0.4 * correct + rng.normal(0, 0.15, n), 0.01, 0.99)

    def rows(flip: int, delta: float):
        out = []
        for i in range(n):
            moved = i < flip
            out.append({"answer_raw": f"a{i}" + ("x" if moved else ""), "correct": bool(correct[i] ^ moved),
                        "scores": {"lora_prompt": float(np.clip(score[i] + delta, 0.0, 1.0))}})
        return out

    return {"task": "t", "n": n, "seconds": {"base": [10.0, 10.0], "paper": [18.0, 18.0],
                                             "shared-cache": [10.0 * shared_cpu, 10.0 * shared_cpu]},
            "rows": {"base": rows(0, 0.0), "paper": rows(0, 0.0), "shared-cache": rows(changed, shift)}}


def test_identical_answers_give_zero_differences_and_pass():
    c = bench.compare(fake_result(), n_bins=10, n_boot=200)
    assert c["same_answers"] == c["same_labels"] == c["same_paper"] == 60
    assert c["AUROC"]["diff"].estimate == 0.0 and c["ECE"]["diff"].estimate == 0.0
    assert c["cost"]["paper"] == (1.8, 1.8) and c["cost"]["shared-cache"][0] == 1.1
    assert bench.verdict(60, c) == []


def test_changed_answers_and_cost_fail_the_tolerance():
    c = bench.compare(fake_result(changed=6, shared_cpu=1.4), n_bins=10, n_boot=200)
    assert c["same_answers"] == 54 and c["same_labels"] == 54
    fails = " ".join(bench.verdict(60, c))
    assert "same answers 54/60" in fails and "cost 1.40x" in fails


def test_a_worse_ece_fails_even_with_identical_answers():
    c = bench.compare(fake_result(shift=0.2), n_bins=10, n_boot=200)
    assert c["ECE"]["diff"].estimate > bench.MAX_ECE_RISE
    assert any(f.startswith("dECE") for f in bench.verdict(60, c))
