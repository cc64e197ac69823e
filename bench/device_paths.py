"""The GPU's other paths, against the CPU: every training method and every scorer, adapted ones included.

    python bench/device_paths.py --tokenizer DIR               # GPU: the "device-paths" section of bench/RESULTS.md
    python bench/device_paths.py --device cpu --out /tmp/R.md   # CPU dry run in seconds (tests/test_device_paths.py)

bench/gpu_check.py times the evaluation engine on full model shapes. This
script asks whether everything else runs on a GPU and gives the CPU's numbers
there: a device bug (a tensor built on the CPU, a dtype mismatch between a
head and bf16 features) crashes or shifts scores on CUDA only, where no CPU
test looks. The first GPU run of gpu_check found one in calibration-tune's
held-out readout; the other methods, the adapter scorers and `calib-eval
score` had never run on a GPU.

Model: a tiny random Llama with the SmolLM2 tokenizer (its " i"/" ii", digit
and " 1"/" 2" tokens are what the queries read; pass its folder with
--tokenizer, 3.5 MB, since the GPU machine has no model zoo). Weights are
seeded, so the CPU and the device hold the same model. Three stages:

1. every training method trains a few steps on the device (bf16 autocast on
   CUDA, as `calib-eval train`). Temperature scaling is left out: it fits on a
   task's validation split (data the GPU machine lacks) through the runner's
   batch path, which stage 3 covers;
2. saved answers, after a shared few-shot prefix whose KV cache is encoded
   once on the base model and once under each LoRA, are rescored through
   `calib-eval score`'s path (no generation, so both devices read the same
   tokens) by every deterministic scorer, with no adapter and with the
   stage-1 adapters, on the CPU in float32 and on the device in float32 and
   bfloat16; plus the pairwise question under the pairwise-sft adapter.
   Reported: max relative |device - CPU|;
3. the runner's batch path (the same prefix cache, greedy generation, then
   every scorer, the sampling family included, adapters attached) on the
   device and the CPU: identical greedy answers and score differences.

Exit status 1 when a stage fails or a float32 score differs from the CPU's by
more than --tolerance.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # calib_eval from a bare checkout (the GPU machine)
from cost import replace_section  # noqa: E402
from gpu_check import machine  # noqa: E402

from calib_eval.model_zoo import model_dir  # noqa: E402

DEFAULT_TOKENIZER = model_dir("default")  # SmolLM2-135M-Instruct, once `calib-eval models pull default` ran
# (question, reference); answers alternate right / wrong so AUROC and probe training see both classes
QUESTIONS = [("What is the capital of France?", "Paris"), ("How many legs does a spider have?", "eight"),
             ("What gas do plants absorb?", "carbon dioxide"), ("Is the sun a star?", "yes"),
             ("What color is the sky on a clear day?", "blue"), ("Who wrote Hamlet?", "William Shakespeare"),
             ("What is frozen water called?", "ice"), ("Can fish breathe air?", "no")]
# a shared few-shot header, so the prefix KV caches (base and per adapter) run on the device too
PREFIX = "Answer each question in a few words.\n\nQuestion: What is 2 + 2?\nAnswer: four\n\n"
SKIPPED_METHODS = {"temperature": "fits on a task's validation split; its batch path is stage 3's"}
# scorers whose value is a deterministic function of prompt + answer (+ adapter): comparable across devices
DETERMINISTIC = ("perplexity", "zero_shot_classifier", "ua_clm_entropy", "verbalized", "lora_prompt", "probe")
# stage-2/3 adapter sets: scorer -> training method (two sets, since probe and verbalized each have two)
ADAPTER_SETS = {"none": {},
                "set A": {"lora_prompt": "calibration-tune", "probe": "probe", "ua_clm_entropy": "ua-clm",
                          "verbalized": "verbalized-sft"},
                "set B": {"probe": "lora-probe", "verbalized": "multitask-sft"}}


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    from calib_eval.models import prepare_tokenizer

    if not (folder / "tokenizer.json").exists():
        raise SystemExit(f"no tokenizer.json in {folder}: pass --tokenizer with the SmolLM2 tokenizer's folder "
                         f"(`calib-eval models pull default` writes it to {DEFAULT_TOKENIZER})")
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    prepare_tokenizer(tokenizer)
    return tokenizer


def loaded_tiny(tokenizer, device: str, dtype=torch.float32):
    """The same tiny random Llama on any device (seeded on the CPU, then moved)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from calib_eval.models import LoadedModel

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
    return LoadedModel(model, tokenizer, "tiny-llama", "tiny-llama (device_paths)", device,
                       str(dtype).removeprefix("torch."))


def graded_rows(tokenizer, n: int = 24) -> list:
    from calib_eval.inference.tokens import encode_text, prompt_ids
    from calib_eval.training.graded_data import GradedExample

    rows = []
    for i in range(n):
        question, reference = QUESTIONS[i % len(QUESTIONS)]
        answer = f" {reference}" if i % 2 == 0 else " I am not sure"
        prompt = f"Question: {question}\nAnswer:"
        rows.append(GradedExample(f"toy/{i}", "toy", prompt, answer, prompt_ids(tokenizer, "", prompt)[1],
                                  encode_text(tokenizer, answer), i % 2 == 0, reference, "", {"question": question}))
    return rows


# ---- stage 1: training ---------------------------------------------------------------------------------------

def train_everything(tokenizer, device: str, steps: int, folder: Path) -> dict:
    """method -> {"folder", "seconds", "final_loss"} or {"error"}; each on a fresh copy of the tiny model."""
    from rich.console import Console

    from calib_eval.training import train
    from calib_eval.training.cli import _config_classes

    quiet = Console(file=open(os.devnull, "w"))
    out = {}
    for method, cls in _config_classes().items():
        if method in SKIPPED_METHODS:
            continue
        kwargs = dict(method=method, output=str(folder / method), steps=steps, batch_size=4, holdout_fraction=0.25,
                      checkpoint_every=0, lr=1e-2, log_every=10**6, device=device)
        if "n_pairs" in cls.__dataclass_fields__:
            kwargs["n_pairs"] = 12
        started = time.perf_counter()
        try:
            adapter = train(cls(**kwargs), loaded=loaded_tiny(tokenizer, device), console=quiet,
                            graded=graded_rows(tokenizer))
            card = json.loads((adapter / "calib_card.json").read_text())
            out[method] = {"folder": str(adapter), "seconds": time.perf_counter() - started,
                           "steps": card["steps"], "final_loss": card["final_train_loss"]}
        except Exception as error:  # noqa: BLE001 -- one method's failure must not hide the others'
            out[method] = {"error": _last_line(error)}
    return out


def _last_line(error: Exception) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} " \
           f"({Path(where.filename).name}:{where.lineno})"


# ---- stage 2: rescoring saved answers ------------------------------------------------------------------------

def saved_items(tokenizer) -> tuple[list, list]:
    """(Graded, prompt ids after the prefix, answer ids, no samples) rows and each row's prefix ids, as
    `calib-eval score` prepares a saved file."""
    from calib_eval.inference.tokens import prompt_ids
    from calib_eval.types import Example, Generation, Graded

    items, prefixes = [], []
    for row in graded_rows(tokenizer, 8):
        example = Example(id=row.id, task="device_paths", question=row.example["question"], references=(row.reference,))
        prefix_ids, rest = prompt_ids(tokenizer, PREFIX, row.prompt)
        items.append((Graded(Generation(example, PREFIX + row.prompt, row.answer), row.correct), rest,
                      row.answer_ids, None))
        prefixes.append(prefix_ids)
    return items, prefixes


def adapter_folders(trained: dict, wanted: dict) -> dict | None:
    """scorer -> folder for one adapter set, or None when one of its methods failed to train."""
    if any("error" in trained.get(method, {"error": "not trained"}) for method in wanted.values()):
        return None
    return {scorer: trained[method]["folder"] for scorer, method in wanted.items()}


def rescored(tokenizer, device: str, dtype, folders: dict, workdir: Path) -> dict:
    """scorer -> per-item scores from calib_eval.runner.rescore.score_items on `device`."""
    from rich.console import Console

    from calib_eval.adapters import AdapterSet
    from calib_eval.runner.config import RunConfig
    from calib_eval.runner.rescore import score_items
    from calib_eval.scorers import SCORERS

    loaded = loaded_tiny(tokenizer, device, dtype)
    adapters = AdapterSet.load(loaded, folders) if folders else None
    scorers = {name: SCORERS.get(name)() for name in DETERMINISTIC if not SCORERS.get(name).needs_adapter
               or name in folders}
    items, prefixes = saved_items(tokenizer)
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "saved.jsonl"
    source.write_text("".join(json.dumps({"id": g.generation.example.id}) + "\n" for g, *_ in items))
    out_dir = workdir / f"{device}-{dtype}".replace(":", "_")
    config = RunConfig(output=str(out_dir), batch_size=4, bootstrap=20)
    score_items("device_paths", items, scorers, config, loaded, adapters, Console(file=open(os.devnull, "w")),
                source, max_new_tokens=8, prefixes=prefixes)
    rows = [json.loads(line) for line in (next(out_dir.glob("*/device_paths")) / "items.jsonl").open()]
    return {name: [row["scores"][name] for row in rows] for name in scorers}


def pairwise_scores(tokenizer, device: str, dtype, folder: str) -> list[float]:
    from calib_eval.adapters import AdapterSet
    from calib_eval.pairwise.probability import first_probabilities

    loaded = loaded_tiny(tokenizer, device, dtype)
    adapters = AdapterSet.load(loaded, {"pairwise": folder})
    questions = [q for q, _ in QUESTIONS]
    with adapters.active("pairwise") as model:
        return first_probabilities(model, tokenizer, list(zip(questions, questions[1:] + questions[:1])),
                                   batch_size=4)


def max_difference(a: list, b: list) -> float:
    """Max relative difference |a - b| / max(|a|, |b|) over items; inf when only one side is finite.

    Relative, because scales differ: a random model's perplexity score exp(mean log p) is ~1/vocab, while
    P(True) and probe scores are near 0.5 and entropies near log(vocab).
    """
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        finite = [v is not None and math.isfinite(v) for v in (x, y)]
        if finite != [True, True]:
            worst = worst if finite == [False, False] else math.inf
        elif x != y:
            worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
    return worst


def over_adapter_sets(trained: dict, rows: list[dict], measure) -> list[tuple[str, dict, object]]:
    """(set name, scorer -> method, measure(set name, folders)) for each adapter set that trained and measured;
    every other set gets an error row in `rows`."""
    measured = []
    for set_name, wanted in ADAPTER_SETS.items():
        folders = adapter_folders(trained, wanted)
        if folders is None:
            rows.append({"set": set_name, "error": "an adapter of this set failed to train"})
            continue
        try:
            measured.append((set_name, wanted, measure(set_name, folders)))
        except Exception as error:  # noqa: BLE001 -- one set's failure must not hide the others'
            rows.append({"set": set_name, "error": _last_line(error)})
    return measured


def rescoring_rows(tokenizer, device: str, trained: dict, workdir: Path) -> list[dict]:
    rows: list[dict] = []

    def measure(set_name: str, folders: dict) -> dict:
        return {key: rescored(tokenizer, dev, dtype, folders, workdir / set_name.replace(" ", "_"))
                for key, (dev, dtype) in _precisions(device).items()}

    for set_name, wanted, runs in over_adapter_sets(trained, rows, measure):
        for scorer, cpu in runs["cpu"].items():
            rows.append({"set": set_name, "scorer": scorer, "adapter": wanted.get(scorer, "-"),
                         "fp32": max_difference(runs["fp32"][scorer], cpu),
                         "bf16": max_difference(runs["bf16"][scorer], cpu), "n": len(cpu)})
    folders = adapter_folders(trained, {"pairwise": "pairwise-sft"})
    if folders is None:
        rows.append({"set": "pairwise", "error": "pairwise-sft failed to train"})
        return rows
    try:
        runs = {key: pairwise_scores(tokenizer, dev, dtype, folders["pairwise"])
                for key, (dev, dtype) in _precisions(device).items()}
    except Exception as error:  # noqa: BLE001
        rows.append({"set": "pairwise", "error": _last_line(error)})
        return rows
    rows.append({"set": "pairwise", "scorer": "P(first) (`calib-eval pairwise`)", "adapter": "pairwise-sft",
                 "fp32": max_difference(runs["fp32"], runs["cpu"]), "bf16": max_difference(runs["bf16"], runs["cpu"]),
                 "n": len(runs["cpu"])})
    return rows


def _precisions(device: str) -> dict:
    return {"cpu": ("cpu", torch.float32), "fp32": (device, torch.float32), "bf16": (device, torch.bfloat16)}


# ---- stage 3: the runner's batch path ------------------------------------------------------------------------

def batch_path(tokenizer, device: str, dtype, folders: dict) -> dict:
    """Generation + every scorer (adapters attached) through runner.batch_work.run_batch."""
    from calib_eval.adapters import AdapterSet
    from calib_eval.inference.tokens import prompt_ids
    from calib_eval.inference.state import encode_prefix
    from calib_eval.runner.batch_work import base_model, run_batch
    from calib_eval.scorers import SCORERS, ScorerConfig
    from calib_eval.task_specs import TaskSpec
    from calib_eval.types import Example

    loaded = loaded_tiny(tokenizer, device, dtype)
    adapters = AdapterSet.load(loaded, folders) if folders else None
    scorers = {name: SCORERS.get(name)() for name in SCORERS.names()
               if "generate" in SCORERS.get(name).task_modes and (not SCORERS.get(name).needs_adapter
                                                                   or name in folders)}
    spec = TaskSpec(name="device_paths", dataset="none", split=None, mode="generate", description="toy questions",
                    max_new_tokens=8, stop=("\n",))
    texts = [f"{PREFIX}Question: {q}\nAnswer:" for q, _ in QUESTIONS]
    examples = [Example(id=f"q{i}", task="device_paths", question=q, references=(r,))
                for i, (q, r) in enumerate(QUESTIONS)]
    split = [prompt_ids(tokenizer, PREFIX, t.removeprefix(PREFIX)) for t in texts]
    prefix_ids = split[0][0]
    assert all(p == prefix_ids for p, _ in split), "the toy prompts must share one prefix, as a runner batch does"
    with base_model(adapters):  # the runner encodes the shared prefix on the base model (run.with_prefix_caches)
        prefix_cache = encode_prefix(loaded.model, prefix_ids)
    torch.manual_seed(0)
    outcome = run_batch(loaded, spec, examples, prefix_ids, [rest for _, rest in split], texts, scorers,
                        ScorerConfig(sampling_k=4), adapters, prefix_cache)
    return {"answers": [r["answer_raw"] for r in outcome.rows],
            "scores": {name: [r["scores"][name] for r in outcome.rows] for name in scorers}}


def batch_rows(tokenizer, device: str, trained: dict) -> list[dict]:
    rows: list[dict] = []

    def measure(set_name: str, folders: dict) -> tuple[dict, dict]:
        batch_path(tokenizer, device, torch.bfloat16, folders)  # must run; its answers may differ, not compared
        return batch_path(tokenizer, "cpu", torch.float32, folders), batch_path(tokenizer, device, torch.float32,
                                                                                 folders)

    for set_name, _, (cpu, dev) in over_adapter_sets(trained, rows, measure):
        same = sum(a == b for a, b in zip(cpu["answers"], dev["answers"]))
        deterministic = [n for n in cpu["scores"] if n in DETERMINISTIC]
        worst = max((max_difference(dev["scores"][n], cpu["scores"][n]) for n in deterministic), default=0.0)
        finite = all(v is not None and math.isfinite(v) for s in dev["scores"].values() for v in s)
        rows.append({"set": set_name, "scorers": len(cpu["scores"]), "same_answers": same, "n": len(cpu["answers"]),
                     "fp32": worst if same == len(cpu["answers"]) else None, "finite": finite})
    return rows


# ---- report --------------------------------------------------------------------------------------------------

def _number(value) -> str:
    return "n/a" if value is None else ("inf" if math.isinf(value) else f"{value:.1e}")


def report(trained: dict, rescoring: list[dict], batches: list[dict], device: str, tolerance: float,
           total_s: float, where: str) -> tuple[str, bool]:
    """The RESULTS.md section, and whether anything failed; `where` names the machine."""
    failed = False
    lines = ["## device-paths", "", f"`python bench/device_paths.py {' '.join(sys.argv[1:])}`".replace(" `", "`"), "",
             f"Machine: {where}. Tiny random Llama (2 layers, width 64, seeded) with the SmolLM2 tokenizer. Whole check: {total_s:.0f} s."
             + ("" if device.startswith("cuda") else " **CPU dry run: the device is the CPU, so every difference "
                                                     "is 0 by construction; it checks that every row is produced**"),
             "", f"Stage 1, every training method on {device} ({', '.join(f'{m}: {why}' for m, why in SKIPPED_METHODS.items())}):",
             "", "| method | result | steps | seconds | final loss |", "|---|---|---|---|---|"]
    for method, r in trained.items():
        failed |= "error" in r
        lines.append(f"| {method} | {r['error']} | | | |" if "error" in r else
                     f"| {method} | trained | {r['steps']} | {r['seconds']:.1f} | {r['final_loss']:.3g} |")
    lines += ["", f"Stage 2, saved answers after a shared few-shot prefix (its KV cache encoded once on the base "
              f"model and once under each LoRA) rescored through `calib-eval score`'s path, max relative difference |{device} - CPU float32| / "
              f"max of the two over the items; tolerance {tolerance:g} for float32:", "",
              "| adapters | scorer | adapter method | items | float32 | bfloat16 |", "|---|---|---|---|---|---|"]
    for r in rescoring:
        if "error" in r:
            failed = True
            lines.append(f"| {r['set']} | {r['error']} | | | | |")
            continue
        failed |= not r["fp32"] <= tolerance
        lines.append(f"| {r['set']} | {r['scorer']} | {r['adapter']} | {r['n']} | {_number(r['fp32'])} | "
                     f"{_number(r['bf16'])} |")
    lines += ["", f"Stage 3, the runner's batch path (the same prefix cache, greedy answers, then every scorer of generated answers, the "
              f"sampling family at k=4) on {device} float32 against the CPU; bfloat16 ran too (its answers may "
              "differ):", "",
              "| adapters | scorers | same greedy answers | max relative deterministic-score difference | all scores finite |",
              "|---|---|---|---|---|"]
    for r in batches:
        if "error" in r:
            failed = True
            lines.append(f"| {r['set']} | {r['error']} | | | |")
            continue
        failed |= not r["finite"] or (r["fp32"] is not None and not r["fp32"] <= tolerance)
        lines.append(f"| {r['set']} | {r['scorers']} | {r['same_answers']}/{r['n']} | {_number(r['fp32'])} | "
                     f"{'yes' if r['finite'] else 'NO'} |")
    lines += ["", f"Verdict: {'FAILED (see the rows above)' if failed else 'every path ran and agreed with the CPU'}."]
    return "\n".join(lines) + "\n", failed


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="the SmolLM2 tokenizer's folder")
    parser.add_argument("--steps", type=int, default=3, help="training steps per method")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest float32 relative difference from the CPU accepted")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="RESULTS.md to update")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args(argv)
    started = time.perf_counter()
    tokenizer = load_tokenizer(args.tokenizer)
    with tempfile.TemporaryDirectory(prefix="device-paths-") as tmp:
        print("[device_paths] stage 1: training", flush=True)
        trained = train_everything(tokenizer, args.device, args.steps, Path(tmp) / "adapters")
        print("[device_paths] stage 2: rescoring", flush=True)
        rescoring = rescoring_rows(tokenizer, args.device, trained, Path(tmp) / "rescore")
        print("[device_paths] stage 3: batch path", flush=True)
        batches = batch_rows(tokenizer, args.device, trained)
    body, failed = report(trained, rescoring, batches, args.device, args.tolerance, time.perf_counter() - started,
                          machine(args.device))
    replace_section(Path(args.out), "device-paths", body.rstrip())
    print(body)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
