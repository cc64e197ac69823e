"""Sampling family against LM-Polygraph 0.7.0's estimators, per item, on the same stored samples.

    calib-eval run --tasks mmlu_oe_calib --scorers sampling,semantic_entropy,... --limit 16 \\
        --sampling-temperature 0.7 --output runs/peer_family
    pip download lm-polygraph==0.7.0 --no-deps -d runs/peer     # the wheel only, 0.3 MB
    OMP_NUM_THREADS=1 python bench/peer_family.py runs/peer_family/default/mmlu_oe_calib/items.jsonl

LM-Polygraph's estimators are pure functions of a `stats` dict, so both
sides read the samples calib-eval stored with each item: nothing is
generated again. Only the estimator modules are loaded, straight from the
wheel (its package __init__s, which pull in its ~40 dependencies, are
skipped); they need numpy, scipy, rouge-score and nltk, which lm-eval
already brings. Its stats come from our side:

- sample_texts, sample_log_probs: the stored samples (whole-sequence log-probs);
- semantic_matrix_entail: our equivalence backend's similarity matrix
  (0/1 for the grader); semantic_matrix_contra: 1 - it;
- semantic_classes_entail: its own SemanticClassesCalculator (Kuhn's greedy
  clustering) over our equivalence as the entailment relation.

Same inputs, so where the definitions match the numbers must match; where they
differ by definition only the rank correlation is shown (the table says why).
Prints a markdown table and replaces the "peer-family" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from calib_eval.results import read_jsonl
from calib_eval.scorers import ScorerConfig, ScoringBatch, get_scorer
from calib_eval.scorers.family import sample_views
from calib_eval.scorers.samples import SampleSet
from calib_eval.task_specs import get_task, load_task_examples
from calib_eval.types import Generation, Graded

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-9
ENTAIL = 2  # the class id our equivalence is given as (any id works: it is passed as entailment_id)


def load_polygraph(wheel: Path, into: Path) -> None:
    """Make `lm_polygraph.estimators.*` and the semantic-classes calculator importable from the wheel."""
    if not (into / "lm_polygraph").is_dir():
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(into)
    base = into / "lm_polygraph"
    for name, folder in (("lm_polygraph", base), ("lm_polygraph.estimators", base / "estimators"),
                         ("lm_polygraph.stat_calculators", base / "stat_calculators"), ("lm_polygraph.utils", base / "utils")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]  # submodules load from the wheel; the __init__ is not run
        sys.modules[name] = package
    model = types.ModuleType("lm_polygraph.utils.model")  # only named in type hints by what we use
    model.Model = model.WhiteboxModel = model.BlackboxModel = object
    sys.modules["lm_polygraph.utils.model"] = model
    common = types.ModuleType("lm_polygraph.utils.common")  # the real one imports PIL and a processor
    common.polygraph_module_init = lambda init: init
    sys.modules["lm_polygraph.utils.common"] = common


def theirs(stats: dict) -> dict[str, np.ndarray]:
    """Their uncertainties (higher = less sure) for each estimator we compare with."""
    est = importlib.import_module("lm_polygraph.estimators.semantic_entropy")
    classes = importlib.import_module("lm_polygraph.stat_calculators.semantic_classes").SemanticClassesCalculator()
    stats = dict(stats)
    stats.update(classes({**stats, "entailment_id": ENTAIL}, [], None))
    make = {
        "SemanticEntropy": lambda: est.SemanticEntropy(),
        "SemanticEntropyEmpirical": lambda: est.SemanticEntropy(class_probability_estimation="frequency"),
        "NumSemSets": lambda: importlib.import_module("lm_polygraph.estimators.num_sem_sets").NumSemSets(),
        "EigValLaplacian": lambda: importlib.import_module("lm_polygraph.estimators.eig_val_laplacian").EigValLaplacian(),
        "DegMat": lambda: importlib.import_module("lm_polygraph.estimators.deg_mat").DegMat(),
        "Eccentricity": lambda: importlib.import_module("lm_polygraph.estimators.eccentricity").Eccentricity(),
        "LexicalSimilarity_rougeL": lambda: importlib.import_module(
            "lm_polygraph.estimators.lexical_similarity").LexicalSimilarity("rougeL"),
    }
    return {name: np.asarray(factory()(stats), dtype=np.float64) for name, factory in make.items()}


def ours_and_stats(rows: list[dict], cfg: ScorerConfig, data_root) -> tuple[dict, dict]:
    """Our family scores from the stored samples, and LM-Polygraph's stats built from the same samples."""
    task = rows[0]["task"]
    spec = get_task(task)
    by_id = {ex.id: ex for ex in load_task_examples(spec, None, data_root)}
    items = [Graded(Generation(by_id[r["id"]], "", r["answer_raw"]), r["correct"]) for r in rows]
    samples = [SampleSet.from_json(r["samples"]) for r in rows]
    batch = ScoringBatch(items, None, [], [], [], config=cfg, grader=spec.grade, samples=samples)
    names = ("semantic_entropy", "discrete_semantic_entropy", "num_semantic_sets", "eigv", "degree", "eccentricity",
             "lexical_similarity")
    ours = {n: np.asarray(get_scorer(n)().score(batch), dtype=np.float64) for n in names}
    sim = np.stack([v.similarity for v in sample_views(batch)])  # (items, k, k)
    eq = np.stack([v.equivalent for v in sample_views(batch)])
    stats = {"sample_texts": [list(s.texts) for s in samples], "sample_log_probs": [list(s.logprobs) for s in samples],
             "semantic_matrix_entail": sim, "semantic_matrix_contra": 1.0 - sim,
             "semantic_matrix_classes": np.where(eq, ENTAIL, 0)}
    return ours, stats


# (ours, theirs, same definition?, why they differ when they do)
PAIRS = (
    ("discrete_semantic_entropy", "SemanticEntropyEmpirical", True, ""),
    ("num_semantic_sets", "NumSemSets", False, "theirs counts connected components of the equivalence graph, ours "
     "Kuhn's first-member sets: equal whenever the equivalence is transitive"),
    ("eigv", "EigValLaplacian", True, ""),
    ("degree", "DegMat", True, ""),
    ("eccentricity", "Eccentricity", True, ""),
    ("semantic_entropy", "SemanticEntropy", False, "theirs is Kuhn's Monte-Carlo estimate -mean_j log p(C_j) with "
     "unnormalised whole-sequence probabilities; ours the entropy of the normalised set distribution, samples "
     "weighed by mean token log-prob (Farquhar et al.'s reference code)"),
    ("lexical_similarity", "LexicalSimilarity_rougeL", False, "theirs uses rouge-score's tokenizer with Porter "
     "stemming; ours the grader's normalised tokens, no stemming"),
)


def rho(a: np.ndarray, b: np.ndarray) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(spearmanr(a, b).statistic)
    return "undefined (a constant column)" if math.isnan(value) else f"{value:+.2f}"


def report(ours: dict, their: dict, rows: list[dict], source: Path) -> str:
    n, k = len(rows), len(rows[0]["samples"]["texts"])
    temps = {r["samples"]["temperature"] for r in rows}
    sets = -ours["num_semantic_sets"]
    lines = ["## peer-family\n",
             f"calib-eval's sampling family against LM-Polygraph 0.7.0's estimators on the same stored samples: "
             f"`{source}` ({n} items of {rows[0]['task']}, k={k} at T={'/'.join(map(str, sorted(temps)))}), "
             f"equivalence by the task's grader on both sides. Semantic sets per item: mean {sets.mean():.1f}, "
             f"range {sets.min():.0f}-{sets.max():.0f}. Commands: bench/peer_family.py's docstring. LM-Polygraph's "
             f"NLI-based estimators are given our equivalence as the entailment matrix, so this checks the estimators' "
             f"arithmetic and clustering, not an NLI model.\n",
             "| calib-eval | LM-Polygraph | same definition | max abs diff | items equal (1e-9) | Spearman | note |",
             "|---|---|---|---|---|---|---|"]
    for mine, other, same, why in PAIRS:
        a, b = -ours[mine], their[other]  # ours are negated uncertainties (lexical: a similarity)
        if mine == "lexical_similarity":
            a = -a
            b = -b  # theirs is -mean similarity
        diff = np.abs(a - b)
        lines.append(f"| {mine} | {other} | {'yes' if same else 'no'} | {diff.max():.2g} | "
                     f"{int((diff <= TOLERANCE).sum())}/{n} | {rho(a, b)} | {why} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("items", help="a run's items.jsonl with stored samples")
    parser.add_argument("--polygraph-wheel", default=str(ROOT / "runs" / "peer" / "lm_polygraph-0.7.0-py3-none-any.whl"))
    parser.add_argument("--unpack-to", default=str(ROOT / "runs" / "peer" / "lm_polygraph-0.7.0"))
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)
    if not Path(args.polygraph_wheel).is_file():
        parser.error(f"{args.polygraph_wheel} not found: pip download lm-polygraph==0.7.0 --no-deps -d runs/peer")
    rows = [raw for _, raw in read_jsonl(Path(args.items), "items")]
    if not all(r.get("samples") for r in rows):
        parser.error("the items file has no stored samples: run a sampling-family scorer first")
    load_polygraph(Path(args.polygraph_wheel), Path(args.unpack_to))
    ours, stats = ours_and_stats(rows, ScorerConfig(), args.data_root)
    table = report(ours, theirs(stats), rows, Path(args.items))
    print(table)
    from cost import replace_section  # bench/ is on sys.path as a script

    replace_section(Path(args.results), "peer-family", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
