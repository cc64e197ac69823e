"""`calib-eval train`: flags generated from the config dataclasses (defaults live there only).

    calib-eval train --method calibration-tune --model default --max-examples 1000 --output adapters/ct
    calib-eval train --recipe adapters/recipes/calibration-tune.yaml --output adapters/ct --steps 200

Precedence: dataclass defaults < recipe YAML < flags given on the command line.
A flag the chosen method does not have is an error, not silently ignored.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from calib_eval.training.errors import TrainingError


def _config_classes() -> dict[str, type]:
    from calib_eval.training.methods import TRAINERS

    return {name: TRAINERS.get(name).config_class for name in TRAINERS.names()}


def _all_fields() -> dict[str, dataclasses.Field]:
    out: dict[str, dataclasses.Field] = {}
    for cls in _config_classes().values():
        for f in dataclasses.fields(cls):
            out.setdefault(f.name, f)
    return out


def _csv(value: str) -> tuple:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    """Register `train` on an argparse subparsers object; returns the parser."""
    from calib_eval.training.methods import TRAINERS

    p = subparsers.add_parser("train", help="train a calibration adapter (LoRA / probe head / temperature)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="YAML recipe (adapters/recipes/<method>.yaml); flags override it")
    for name, f in _all_fields().items():
        flag = "--" + name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        if name == "method":
            p.add_argument(flag, choices=TRAINERS.names(), default=argparse.SUPPRESS, help=help_text)
        elif isinstance(default, bool):
            p.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=help_text)
        elif isinstance(default, tuple):
            p.add_argument(flag, type=_csv, default=argparse.SUPPRESS,
                           help=f"{help_text} (comma-separated; default {','.join(map(str, default))})")
        else:
            p.add_argument(flag, type=type(default), default=argparse.SUPPRESS,
                           help=f"{help_text} (default {default!r}; per-method defaults may differ)")
    return p


def load_recipe(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"recipe {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise TrainingError(f"recipe {path} must be a mapping of config fields")
    return {k.replace("-", "_"): tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def config_from_args(args: argparse.Namespace):
    """Build the method's config dataclass from recipe + explicit flags."""
    values = load_recipe(args.recipe) if getattr(args, "recipe", None) else {}
    values.update({k: v for k, v in vars(args).items() if k not in ("recipe", "command", "func")})
    method = values.setdefault("method", "calibration-tune")
    classes = _config_classes()
    if method not in classes:
        from calib_eval.errors import unknown_name

        raise unknown_name("training method", method, classes)
    cls = classes[method]
    allowed = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(values) - allowed)
    if extra:
        raise TrainingError(f"method {method!r} has no option(s) {', '.join(extra)}; "
                            f"its options: {', '.join(sorted(allowed))}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise TrainingError(f"bad recipe/flags for {method!r}: {exc}") from None


def cmd_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from calib_eval.training.api import train

    cfg = config_from_args(args)
    console = Console()
    folder = train(cfg, console=console)
    console.print(f"adapter written to {folder}  (use: --adapter <scorer>={folder})")
    for line in heldout_summary(folder):
        console.print(line)
    return 0


def heldout_summary(folder) -> list[str]:
    """Readable lines for the card's held-out metrics (and baseline comparisons)."""
    import json
    from pathlib import Path

    card = json.loads((Path(folder) / "calib_card.json").read_text())
    metrics = card.get("heldout_metrics") or {}
    if "auroc" not in metrics:
        return []

    def fmt(m: dict) -> str:
        return ", ".join(f"{k} {m[k]:.3f}" for k in ("accuracy", "auroc", "ece", "brier") if k in m)

    lines = [f"held-out ({metrics['n']} items): {card['scorer']}: {fmt(metrics)}"]
    for name, base in (metrics.get("baselines") or {}).items():
        gain = base["auroc_gain"]
        lines.append(f"  untrained {name}: {fmt(base)}; AUROC gain {gain['estimate']:+.3f} "
                     f"(95% CI {gain['low']:+.3f} .. {gain['high']:+.3f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (`python -m calib_eval.training.cli ...`)."""
    import sys

    from calib_eval.errors import CalibEvalError

    parser = argparse.ArgumentParser(prog="calib-eval")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    args = parser.parse_args(argv)
    try:
        return cmd_train(args)
    except CalibEvalError as exc:
        print(f"calib-eval: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
