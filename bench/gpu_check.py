"""Issue #16: the GPU path in one command, under ten minutes on one H100/H200.

    python bench/gpu_check.py                                     # GPU: the "gpu" section of bench/RESULTS.md
    python bench/gpu_check.py --device cpu --tiny --out /tmp/R.md   # dry run in seconds (tests/test_gpu_check.py)

The GPU machine has no network and only tens of MiB travel with the code, so
nothing is downloaded: models are built with random weights from the
architectures' configs (written below; throughput does not depend on weight
values), prompts are random token ids of one fixed length, and a word-level
tokenizer built in memory maps ids <-> words. Its end-of-sequence id lies
outside the model's vocabulary and decoded words never contain a stop string,
so every answer is exactly `new_tokens` long, on both sides of a comparison.

What it measures, per model shape (Llama-3.2-1B, Qwen2.5-7B; --tiny shrinks both):
- calib-eval's engine (`run_batch`, the runner's batch path: KV-cache generation,
  grading, then every base scorer extending the live cache), bf16: items/s,
  forward tokens/s, peak memory, and the fraction of the bf16 matmul peak;
- lm-eval's `HFLM.generate_until` on the same prompts (same model object),
  when lm-eval is installed (otherwise the row says it was skipped);
- generation items/s against batch size; a 50-step calibration-tune (LoRA,
  `calib_eval.training.train`); and, with two GPUs, two data-parallel
  processes (torchrun) against one.
Only torch, transformers, peft and accelerate are needed, plus calib-eval's light
dependencies (numpy, scipy, rich, pyyaml); the checkout need not be pip-installed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # cost.py's helpers, also under torchrun
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # calib_eval from a bare checkout (the GPU machine)
from cost import replace_section  # noqa: E402

# Dense (no sparsity) BF16 tensor-core peak of the H100 SXM5: 989.4 TFLOPS (NVIDIA H100 Tensor Core GPU
# datasheet: "BF16 Tensor Core 1,979 teraFLOPS" is quoted with 2:4 sparsity; dense is half). The H200 has the
# same GH100 compute (NVIDIA H200 datasheet lists the same 1,979 sparse figure).
PEAK_BF16_FLOPS = 989.4e12

# The architectures' published config.json values (hub: meta-llama/Llama-3.2-1B, Qwen/Qwen2.5-7B).
CONFIGS = {
    "Llama-3.2-1B": dict(
        model_type="llama", vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
        num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True, hidden_act="silu",
        rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192}),
    "Qwen2.5-7B": dict(
        model_type="qwen2", vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=False, hidden_act="silu", use_sliding_window=False),
}
TINY = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16)  # same architectures, CPU-sized
TRAIN_MODEL = "Llama-3.2-1B"


@dataclass(frozen=True)
class Setup:
    items: int = 64
    prompt_tokens: int = 512  # ~a 5-shot MMLU prompt
    new_tokens: int = 32  # every answer exactly this long
    batch_size: int = 16
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64)
    sampling_k: int = 10
    train_steps: int = 50
    train_batch: int = 8
    train_prompt_tokens: int = 256


TINY_SETUP = Setup(items=4, prompt_tokens=24, new_tokens=4, batch_size=2, batch_sizes=(1, 4), sampling_k=2,
                   train_steps=50, train_batch=4, train_prompt_tokens=16)


# ---- model, tokenizer and prompts, all built here ------------------------------------------------------------

def build_tokenizer(vocab_size: int):
    """Word-level tokenizer: the prompt scaffolding's words, then filler words w<id>; EOS outside the vocab."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from calib_eval import prompts

    words = ["<pad>", "<unk>"]
    for text in (prompts.UNCERTAINTY_QUERY, prompts.VERBALIZED_QUERY, prompts.QUERY_NO, prompts.QUERY_YES):
        words += [w for w in text.split() if w not in words]
    vocab = {w: i for i, w in enumerate(words)}
    vocab.update({f"w{i}": i for i in range(len(words), vocab_size)})
    vocab["<eos>"] = vocab_size  # the model has no logit for it: generation never stops early
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")
    fast.padding_side = "left"
    return fast, len(words)


def build_model(name: str, tiny: bool, device: str, dtype):
    from transformers import AutoConfig, AutoModelForCausalLM

    values = {**CONFIGS[name], **(TINY if tiny else {})}
    config = AutoConfig.for_model(**values, bos_token_id=None, eos_token_id=None, pad_token_id=0)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    return model.eval()


def matmul_params(model) -> int:
    """Parameters that take part in a matmul per token: all but the input embedding, plus the LM head."""
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return total - embedding + (embedding if tied else 0)


def random_prompts(n: int, length: int, first_filler: int, vocab_size: int, seed: int = 0) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(first_filler, vocab_size, (n, length), generator=generator).tolist()


def loaded_model(model, tokenizer, name: str):
    from calib_eval.models import LoadedModel

    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return LoadedModel(model, tokenizer, name, f"random weights, {name} config", str(model.device), dtype)


# ---- measuring -----------------------------------------------------------------------------------------------

class TokenCounter:
    """Counts tokens through the model's forward (prefill, decode steps, scorer extensions alike)."""

    def __init__(self, model) -> None:
        self.tokens = 0
        # the decoder stack, not the LM wrapper: peft calls the wrapper's .forward directly, skipping its hooks
        self.handle = model.get_decoder().register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens += int(ids.numel()) if ids is not None else 0

    def close(self) -> None:
        self.handle.remove()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process RSS high-water mark (KiB on Linux)


def measured(device: str, model, fn) -> dict:
    """Run fn() once; wall seconds, forward tokens and peak memory."""
    counter = TokenCounter(model)
    reset_peak(device)
    sync(device)
    started = time.perf_counter()
    try:
        extra = fn() or {}
        sync(device)
    finally:
        counter.close()
    return {"seconds": time.perf_counter() - started, "tokens": counter.tokens, "peak_gib": peak_gib(device), **extra}


def synthetic_task(new_tokens: int):
    from calib_eval.task_specs import TaskSpec

    return TaskSpec(name="gpu_check", dataset="none", split=None, mode="generate", description="random prompts",
                    max_new_tokens=new_tokens, stop=("\n",))


def base_scorers() -> dict:
    """Every registered scorer that needs no adapter and applies to generated answers."""
    from calib_eval.scorers import SCORERS

    chosen = {}
    for name in SCORERS.names():
        cls = SCORERS.get(name)
        if not cls.needs_adapter and "generate" in cls.task_modes:
            chosen[name] = cls()
    return chosen


def engine_pass(loaded, rows: list[list[int]], setup: Setup, batch_size: int, scorers: dict) -> dict:
    """The runner's batch path over all rows: generation + grading (+ scorers); per-scorer seconds."""
    from calib_eval.runner.batch_work import run_batch
    from calib_eval.scorers import ScorerConfig
    from calib_eval.types import Example

    spec = synthetic_task(setup.new_tokens)
    cfg = ScorerConfig(sampling_k=setup.sampling_k)
    texts = [loaded.tokenizer.decode(r) for r in rows]
    examples = [Example(id=f"q{i}", task="gpu_check", question=t, references=("w7",)) for i, t in enumerate(texts)]
    seconds = {"generation": 0.0} | {name: 0.0 for name in scorers}
    answer_lengths = set()
    for start in range(0, len(rows), batch_size):
        span = range(start, min(start + batch_size, len(rows)))
        outcome = run_batch(loaded, spec, [examples[i] for i in span], [], [rows[i] for i in span],
                            [texts[i] for i in span], scorers, cfg, None, None)
        seconds["generation"] += outcome.generation_s
        for name, value in outcome.scoring_s.items():
            seconds[name] += value
        answer_lengths |= {len(r["answer_raw"].split()) for r in outcome.rows}
    return {"stage_seconds": seconds, "answer_lengths": sorted(answer_lengths)}


def lm_eval_pass(model, tokenizer, rows: list[list[int]], setup: Setup, batch_size: int) -> dict | str:
    """lm-eval's HF generation on the same prompts and model object; a reason string when lm-eval is absent."""
    import importlib.util

    if importlib.util.find_spec("lm_eval") is None:
        return "skipped: lm-eval is not installed"
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
              max_length=setup.prompt_tokens + setup.new_tokens + 8)
    kwargs = {"until": ["<never-produced>"], "max_gen_toks": setup.new_tokens, "do_sample": False}
    requests = [Instance(request_type="generate_until", doc={}, idx=0, arguments=(tokenizer.decode(r), dict(kwargs)),
                         metadata=("gpu_check", i, 1)) for i, r in enumerate(rows)]
    same_ids = sum(lm.tok_encode(req.arguments[0]) == r for req, r in zip(requests, rows))
    lm.generate_until(requests[:batch_size], disable_tqdm=True)  # warm-up, as the engine gets one
    answers: list[str] = []
    result = measured(str(model.device), model, lambda: answers.extend(lm.generate_until(requests, disable_tqdm=True)))
    return {**result, "same_prompt_ids": same_ids, "answer_lengths": sorted({len(a.split()) for a in answers})}


def model_rows(name: str, args, setup: Setup) -> dict:
    """Engine generation alone, engine + every base scorer, lm-eval generation: one model, one load."""
    tokenizer, first_filler = build_tokenizer(TINY["vocab_size"] if args.tiny else CONFIGS[name]["vocab_size"])
    model = build_model(name, args.tiny, args.device, args.dtype)
    loaded = loaded_model(model, tokenizer, name)
    rows = random_prompts(setup.items, setup.prompt_tokens, first_filler, model.config.vocab_size)
    scorers = base_scorers()
    engine_pass(loaded, rows[: setup.batch_size], setup, setup.batch_size, scorers)  # warm-up (kernels, allocator)
    out = {"params": sum(p.numel() for p in model.parameters()), "matmul_params": matmul_params(model),
           "scorers": list(scorers)}
    out["generation"] = measured(args.device, model, lambda: engine_pass(loaded, rows, setup, setup.batch_size, {}))
    out["scored"] = measured(args.device, model, lambda: engine_pass(loaded, rows, setup, setup.batch_size, scorers))
    out["lm_eval"] = lm_eval_pass(model, tokenizer, rows, setup, setup.batch_size)
    if name == TRAIN_MODEL:
        out["batch_scaling"] = {b: measured(args.device, model, lambda b=b: engine_pass(
            loaded, random_prompts(max(b, setup.batch_size), setup.prompt_tokens, first_filler,
                                   model.config.vocab_size, seed=1), setup, b, {}))
            for b in setup.batch_sizes}
    del loaded, model
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return out


def calibration_tune(args, setup: Setup) -> dict:
    """50 LoRA steps of calibration-tune on the 1B shape: fp32 weights + bf16 autocast, as `calib-eval train`."""
    from rich.console import Console

    from calib_eval.training import api
    from calib_eval.training.config import CalibrationTuneConfig
    from calib_eval.training.graded_data import GradedExample

    tokenizer, first_filler = build_tokenizer(TINY["vocab_size"] if args.tiny else CONFIGS[TRAIN_MODEL]["vocab_size"])
    model = build_model(TRAIN_MODEL, args.tiny, args.device, torch.float32)
    n = setup.train_batch * 12  # enough rows for a held-out tenth and both classes in each split
    prompts_ = random_prompts(n, setup.train_prompt_tokens, first_filler, model.config.vocab_size, seed=2)
    answers = random_prompts(n, setup.new_tokens, first_filler, model.config.vocab_size, seed=3)
    graded = [GradedExample(f"t{i}", "random", tokenizer.decode(p), tokenizer.decode(a), p, a, bool(i % 2), "w7")
              for i, (p, a) in enumerate(zip(prompts_, answers))]
    with tempfile.TemporaryDirectory(prefix="gpu-check-train-") as tmp:
        cfg = CalibrationTuneConfig(output=str(Path(tmp) / "ct"), steps=setup.train_steps, batch_size=setup.train_batch,
                                    checkpoint_every=0, log_every=10**6, device=args.device, max_examples=n)
        loaded = loaded_model(model, tokenizer, TRAIN_MODEL)
        quiet = Console(file=open(os.devnull, "w"))
        result = measured(args.device, model, lambda: {"folder": api.train(cfg, loaded=loaded, console=quiet,
                                                                             graded=graded)})
        card = json.loads((result.pop("folder") / "calib_card.json").read_text())
    del model, loaded
    return {**result, "steps": card["steps"], "final_loss": card["final_train_loss"],
            "train_rows": card["train_examples"]}


# ---- two data-parallel processes (two GPUs or more) ----------------------------------------------------------

def data_parallel(args, setup: Setup) -> dict | str:
    """Two torchrun processes, one GPU each, splitting the items as `calib-eval run` does under accelerate."""
    gpus = torch.cuda.device_count() if args.device.startswith("cuda") else 0
    if gpus < 2 and not args.dp_on_cpu:
        return f"skipped: {gpus} GPU(s) here, two are needed"
    with tempfile.TemporaryDirectory(prefix="gpu-check-dp-") as tmp:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(Path(__file__).resolve()), "--dp-worker", tmp, "--device", args.device]
        cmd += ["--tiny"] if args.tiny else []
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.dp_timeout)
        if done.returncode != 0:
            return f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
        ranks = [json.loads(p.read_text()) for p in sorted(Path(tmp).glob("rank*.json"))]
    return {"processes": len(ranks), "items": sum(r["items"] for r in ranks),
            "seconds": max(r["seconds"] for r in ranks), "tokens": sum(r["tokens"] for r in ranks)}


def dp_worker(args, setup: Setup) -> int:
    """One rank: its share of the items through engine + every base scorer; writes rank<r>.json."""
    from calib_eval.runner.parallel import current_shard

    shard = current_shard()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', shard.rank))}" if args.device.startswith("cuda") else args.device
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    tokenizer, first_filler = build_tokenizer(TINY["vocab_size"] if args.tiny else CONFIGS[TRAIN_MODEL]["vocab_size"])
    model = build_model(TRAIN_MODEL, args.tiny, device, args.dtype)
    loaded = loaded_model(model, tokenizer, TRAIN_MODEL)
    rows = random_prompts(setup.items, setup.prompt_tokens, first_filler, model.config.vocab_size)
    mine = [rows[i] for i in shard.take(list(range(len(rows))))]
    scorers = base_scorers()
    engine_pass(loaded, mine[: setup.batch_size], setup, setup.batch_size, scorers)  # warm-up
    result = measured(device, model, lambda: engine_pass(loaded, mine, setup, setup.batch_size, scorers))
    Path(args.dp_worker, f"rank{shard.rank}.json").write_text(json.dumps(
        {"items": len(mine), "seconds": result["seconds"], "tokens": result["tokens"]}))
    return 0


# ---- report ---------------------------------------------------------------------------------------------------

def machine(device: str) -> str:
    import transformers

    where = (f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}" if device.startswith("cuda")
             else f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    return f"{where}; torch {torch.__version__}, transformers {transformers.__version__}"


def speed_cells(r: dict, items: int, matmul_params: int, device: str) -> str:
    """items/s | tokens/s | peak GiB | % of the bf16 matmul peak (2 x matmul params x forward tokens / s)."""
    peak = (f"{100 * 2 * matmul_params * r['tokens'] / r['seconds'] / PEAK_BF16_FLOPS:.1f}%"
            if device.startswith("cuda") else "n/a (CPU)")
    return f"{items / r['seconds']:.2f} | {r['tokens'] / r['seconds']:,.0f} | {r['peak_gib']:.2f} | {peak}"


def model_table(results: dict, setup: Setup, device: str) -> list[str]:
    lines = ["| model | path | items/s | forward tokens/s | peak GiB | % of bf16 peak | answer lengths |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        label = f"{name} ({r['params'] / 1e9:.2f}B params)" if r["params"] > 1e8 else f"{name} (tiny, {r['params']:,} params)"
        paths = [("engine: generation", r["generation"]),
                 (f"engine: generation + every base scorer ({len(r['scorers'])})", r["scored"]),
                 ("lm-eval HFLM.generate_until (generation)" + _same_ids(r["lm_eval"], setup.items), r["lm_eval"])]
        for path, row in paths:
            if isinstance(row, str):
                lines.append(f"| {label} | {path} | {row} | | | | |")
                continue
            lengths = ",".join(map(str, row.get("answer_lengths", [])))
            lines.append(f"| {label} | {path} | {speed_cells(row, setup.items, r['matmul_params'], device)} | {lengths} |")
    return lines


def _choice_only() -> str:
    from calib_eval.scorers import SCORERS

    names = [n for n in SCORERS.names() if not SCORERS.get(n).needs_adapter and "generate" not in SCORERS.get(n).task_modes]
    return f"{', '.join(names) or 'no base scorer'} scores choice tasks only, so is not timed here"


def _same_ids(row, items: int) -> str:
    return "" if isinstance(row, str) else f"; same prompt ids on {row['same_prompt_ids']}/{items} items"


def scorer_table(results: dict) -> list[str]:
    names = list(results)
    lines = ["| stage (engine, seconds over all items) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    stages = results[names[0]]["scored"]["stage_seconds"]
    for stage in stages:
        lines.append(f"| {stage} | " + " | ".join(f"{results[n]['scored']['stage_seconds'][stage]:.2f}" for n in names) + " |")
    return lines


def scaling_table(scaling: dict, setup: Setup, device: str) -> list[str]:
    lines = ["| batch size | items | items/s | generated tokens/s | forward tokens/s | peak GiB |", "|---|---|---|---|---|---|"]
    for b, r in scaling.items():
        n = max(b, setup.batch_size)
        lines.append(f"| {b} | {n} | {n / r['seconds']:.2f} | {n * setup.new_tokens / r['seconds']:,.0f} | "
                     f"{r['tokens'] / r['seconds']:,.0f} | {r['peak_gib']:.2f} |")
    return lines


def report(results: dict, train: dict, dp: dict | str, setup: Setup, args, total_s: float) -> str:
    mode = ("**CPU dry run (`--tiny`): shapes shrunk, NOT GPU numbers**; it checks that every row is produced. "
            "The GPU numbers come from `python bench/gpu_check.py` on one H100/H200 (no flags), not run yet"
            if args.tiny else "full shapes")
    if not args.device.startswith("cuda"):
        mode += ". Peak GiB on CPU is the process's RSS high-water mark (never reset between rows)"
    one = results[TRAIN_MODEL]["scored"]
    lines = ["## gpu", "",
             f"`python bench/gpu_check.py {' '.join(sys.argv[1:])}`".replace(" `", "`"), "",
             f"Machine: {machine(args.device)}. {mode}. dtype {str(args.dtype).removeprefix('torch.')}; "
             f"random weights from the architectures' configs; {setup.items} prompts of {setup.prompt_tokens} random "
             f"token ids, answers fixed at {setup.new_tokens} tokens, batch {setup.batch_size}, sampling k="
             f"{setup.sampling_k}. % of bf16 peak = 2 x matmul params x forward tokens / s / "
             f"{PEAK_BF16_FLOPS / 1e12:.1f} TFLOPS (attention excluded). Whole check: {total_s:.0f} s.", "",
             *model_table(results, setup, args.device), "",
             "Per stage (a sampling-family scorer listed first pays for the k shared samples; "
             f"{_choice_only()}):", "",
             *scorer_table(results), "",
             f"Batch-size scaling, {TRAIN_MODEL} shape, engine generation alone:", "",
             *scaling_table(results[TRAIN_MODEL]["batch_scaling"], setup, args.device), "",
             f"calibration-tune, {TRAIN_MODEL} shape, LoRA (fp32 weights, bf16 autocast on CUDA): {train['steps']} steps "
             f"x batch {setup.train_batch} in {train['seconds']:.1f} s ({train['seconds'] / train['steps']:.3f} s/step, "
             f"{train['tokens'] / train['seconds']:,.0f} forward tokens/s incl. the frozen-base pass and held-out "
             f"scoring, peak {train['peak_gib']:.2f} GiB, final loss {train['final_loss']:.3f}).", ""]
    if isinstance(dp, str):
        lines.append(f"Data parallel (two processes): {dp}.")
    else:
        lines.append(f"Data parallel, {TRAIN_MODEL} shape, generation + every base scorer: {dp['processes']} processes "
                     f"{dp['items'] / dp['seconds']:.2f} items/s (slowest rank's time) vs one process "
                     f"{setup.items / one['seconds']:.2f} items/s: x{(dp['items'] / dp['seconds']) / (setup.items / one['seconds']):.2f}.")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="CPU-sized shapes and counts (the tests' dry run)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")), help="RESULTS.md to update")
    parser.add_argument("--models", default=",".join(CONFIGS), help="comma-separated subset of " + ", ".join(CONFIGS))
    parser.add_argument("--dp-on-cpu", action="store_true", help="run the two-process row on CPU too (slow)")
    parser.add_argument("--dp-timeout", type=int, default=300)
    parser.add_argument("--dp-worker", default=None, help=argparse.SUPPRESS)  # internal: one torchrun rank
    args = parser.parse_args(argv)
    args.dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    return args


def main(argv=None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args(argv)
    setup = TINY_SETUP if args.tiny else Setup()
    if args.dp_worker:
        return dp_worker(args, setup)
    started = time.perf_counter()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = set(names) - set(CONFIGS)
    if unknown or TRAIN_MODEL not in names:
        raise SystemExit(f"--models must include {TRAIN_MODEL} and name only {', '.join(CONFIGS)}; got {args.models}")
    results = {}
    for name in names:
        print(f"[gpu_check] {name}: engine, scorers, lm-eval{', batch scaling' if name == TRAIN_MODEL else ''}",
              flush=True)
        results[name] = model_rows(name, args, setup)
    print("[gpu_check] calibration-tune", flush=True)
    train = calibration_tune(args, setup)
    print("[gpu_check] data parallel", flush=True)
    dp = data_parallel(args, setup)
    body = report(results, train, dp, setup, args, time.perf_counter() - started)
    replace_section(Path(args.out), "gpu", body.rstrip())
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
