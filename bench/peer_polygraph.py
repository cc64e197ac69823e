"""LM-Polygraph side of bench/peer.py; runs inside .venv-polygraph, not ours.

    .venv-polygraph/bin/python bench/peer_polygraph.py IN.json OUT.json

IN.json (written by bench/peer.py): model folder, prompt strings, the prompt
token ids calib-eval used, max_new_tokens, stop strings, samples k, batch
size and which estimator groups to run. Each group is one end-to-end
UEManager run (its own greedy generation included, model load excluded), so
its wall time is what a user of LM-Polygraph pays for those estimators.
OUT.json: per group the seconds, the estimations, and the saved statistics
(greedy tokens/texts, token log-likelihoods, entropies, sample texts).
Imports only lm_polygraph, torch and transformers: none of calib_eval.
"""
from __future__ import annotations

import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lm_polygraph import UEManager, WhiteboxModel
from lm_polygraph.defaults.register_default_stat_calculators import register_default_stat_calculators
from lm_polygraph.estimators import (LexicalSimilarity, MaximumSequenceProbability, MaximumTokenProbability,
                                     MeanTokenEntropy, MonteCarloSequenceEntropy, Perplexity, PTrue)
from lm_polygraph.utils.builder_enviroment_stat_calculator import BuilderEnvironmentStatCalculator
from lm_polygraph.utils.dataset import Dataset
from lm_polygraph.utils.generation_parameters import GenerationParameters

# group name -> (estimators, statistics to keep for the comparison)
GROUPS = {
    # all four read the one greedy pass (GreedyProbsCalculator, + EntropyCalculator)
    "greedy": (lambda: [MaximumSequenceProbability(), Perplexity(), MaximumTokenProbability(), MeanTokenEntropy()],
               ["greedy_log_likelihoods", "entropy"]),
    "ptrue": (lambda: [PTrue()], []),
    # sampling estimators that need no NLI model from the hub; both read the same k samples
    "sampling": (lambda: [LexicalSimilarity("rougeL"), MonteCarloSequenceEntropy()], ["sample_texts"]),
}


def load(cfg: dict) -> WhiteboxModel:
    """The same local folder, fp32 on CPU, greedy, same answer budget and stop string.

    top_k=0 turns off GenerationParameters' default top-k 50, so sampling is
    plain temperature-1 sampling over the whole vocabulary, as calib-eval's.
    """
    tokenizer = AutoTokenizer.from_pretrained(cfg["model_path"], padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(cfg["model_path"], dtype=torch.float32).eval()
    params = GenerationParameters(do_sample=False, temperature=1.0, top_k=0, top_p=1.0,
                                  stop_strings=list(cfg["stop"]), allow_newlines=True,
                                  max_new_tokens=cfg["max_new_tokens"])
    return WhiteboxModel(model, tokenizer, cfg["model_path"], "CausalLM", params)


def run_group(model: WhiteboxModel, cfg: dict, name: str) -> dict:
    make, keep = GROUPS[name]
    estimators = make()
    manager = UEManager(
        Dataset(cfg["prompts"], [""] * len(cfg["prompts"]), batch_size=cfg["batch_size"]),
        model, estimators,
        # attentions/hidden states off: none of these estimators reads them
        available_stat_calculators=register_default_stat_calculators(
            "Whitebox", output_attentions=False, output_hidden_states=False),
        builder_env_stat_calc=BuilderEnvironmentStatCalculator(model),
        generation_metrics=[], ue_metrics=[], processors=[],
        ignore_exceptions=False, verbose=False, max_new_tokens=cfg["max_new_tokens"], save_stats=keep)
    for calculator in manager.stat_calculators:
        if hasattr(calculator, "samples_n"):
            calculator.samples_n = cfg["k"]
    torch.manual_seed(cfg["seed"])
    wall, cpu = time.perf_counter(), time.process_time()
    manager()
    seconds = [time.perf_counter() - wall, time.process_time() - cpu]  # [wall, process CPU]
    stats = {key: _plain(manager.stats.get(key, [])) for key in ["greedy_tokens", "greedy_texts", *keep]}
    estimations = {str(e): _plain(manager.estimations[e.level, str(e)]) for e in estimators}
    return {"seconds": seconds, "estimations": estimations, "stats": stats}


def _plain(value):
    """numpy/torch containers -> JSON-able lists and floats."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def main(argv: list[str]) -> int:
    cfg = json.loads(open(argv[0]).read())
    torch.set_num_threads(cfg["threads"])
    model = load(cfg)
    same_ids = sum(model.tokenize([p])["input_ids"][0].tolist() == ids
                   for p, ids in zip(cfg["prompts"], cfg["prompt_ids"]))
    out = {"same_prompt_ids": same_ids, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "max_new_tokens": cfg["max_new_tokens"], "stop": cfg["stop"], "groups": {}}
    for name in cfg["groups"]:
        out["groups"][name] = run_group(model, cfg, name)
        print(f"polygraph {name}: {out['groups'][name]['seconds'][0]:.1f}s", file=sys.stderr, flush=True)
    with open(argv[1], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
