"""The scorer interface, its registry and the batch every scorer receives.

A scorer maps a batch of graded generations to one score per item, higher =
more likely correct. It never regenerates the answer: base-model scorers
extend the batch's live KV cache (`answered_state`), and when there is none
(rescoring saved generations) the batch re-encodes prompt + answer once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from calib_eval.registry import Registry
from calib_eval.types import Graded


@dataclass(frozen=True)
class ScorerConfig:
    """Scorer settings; defaults follow the papers (DESIGN.md section 2)."""

    sampling_k: int = 10  # samples per question, drawn once and shared by every sampling-family scorer
    sampling_temperature: float = 1.0
    # sample rows decoded at once per item (0: all k). Below k it bounds the sampling cache at B*chunk
    # rows (calib_eval/inference/state.py) but draws other samples for the same seed
    sampling_chunk: int = 0
    # when two samples mean the same: "grader" (the task's own grader), "nli:<hub id or folder>"
    # (bidirectional entailment, Kuhn et al. 2023) or "judge" (the evaluated LM asked)
    semantic_equivalence: str = "grader"
    semantic_length_norm: bool = True  # semantic entropy weighs samples by mean token log-prob (Farquhar et al.)
    graph_similarity: str = "equivalence"  # EigV/Degree/Eccentricity edge weight: equivalence | rouge_l
    eccentricity_threshold: float = 0.9  # eigenvectors of the Laplacian kept: eigenvalue below this (Lin et al.)
    verbalized_max_tokens: int = 6  # tokens allowed for "73" / "73%" after the query
    verbalized_fallback: float = 0.5  # confidence used when no number can be parsed
    entropy_reduce: str = "mean"  # mean | max token entropy (UA-CLM)
    # lora_prompt: "paper" (the base model answers, the adapter re-reads prompt + answer + query, Kapoor et al.)
    # or "shared-cache" (the adapter answers, the query extends that cache: cheaper, but the run's answers --
    # and every scorer's labels -- are the adapted model's); see bench/RESULTS.md "lora_prompt modes"
    lora_prompt_mode: str = "paper"
    seed: int = 0

    def __post_init__(self) -> None:
        from calib_eval.errors import CalibEvalError, unknown_name

        if self.sampling_k < 1:
            raise CalibEvalError(f"sampling_k must be >= 1, got {self.sampling_k}")
        if self.sampling_chunk < 0:
            raise CalibEvalError(f"sampling_chunk must be >= 0 (0: all k at once), got {self.sampling_chunk}")
        kind, _, source = self.semantic_equivalence.partition(":")
        if kind not in ("grader", "nli", "judge") or (kind == "nli") != bool(source):
            raise CalibEvalError(f"semantic_equivalence must be 'grader', 'judge' or 'nli:<hub id or folder>', "
                                 f"got {self.semantic_equivalence!r}")
        if self.graph_similarity not in GRAPH_SIMILARITIES:
            raise unknown_name("graph similarity", self.graph_similarity, GRAPH_SIMILARITIES)
        if self.lora_prompt_mode not in LORA_PROMPT_MODES:
            raise unknown_name("lora_prompt mode", self.lora_prompt_mode, LORA_PROMPT_MODES)

    def signature(self) -> dict:
        """The settings an item cache is keyed on: all of them, lora_prompt_mode only off "paper"
        and sampling_chunk only when it changes the samples (set and below k).

        Caches written before these settings existed hold paper-mode rows and
        samples drawn all at once; leaving the defaults out lets them resume,
        while a run with other answers or samples never mixes with them.
        """
        out = asdict(self)
        if out["lora_prompt_mode"] == "paper":
            del out["lora_prompt_mode"]
        if not 0 < out["sampling_chunk"] < out["sampling_k"]:
            del out["sampling_chunk"]
        return out


GRAPH_SIMILARITIES = ("equivalence", "rouge_l")
LORA_PROMPT_MODES = ("paper", "shared-cache")


@dataclass
class ScoringBatch:
    """One batch of items sharing a prompt prefix, with what scorers may reuse."""

    items: list[Graded]
    model: Any  # LoadedModel
    prefix_ids: list[int]
    suffix_ids: list[list[int]]
    answer_ids: list[list[int]]
    config: ScorerConfig = field(default_factory=ScorerConfig)
    max_new_tokens: int = 32  # the task's answer budget (sampling decodes the same way)
    stop: tuple[str, ...] = ("\n",)
    adapters: Any = None  # AdapterSet or None
    prefix_cache: Any = None  # KV cache of prefix_ids on the base model, if known
    answered: Any = None  # PromptState: prompt + answer on the base model
    prompt_only: Any = None  # checkpoint of `answered` before the answer was decoded
    extra: dict = field(default_factory=dict)  # per-scorer diagnostics, merged into results
    grader: Any = None  # the task's grade(example, answer); None: calib_eval.grading.grade
    samples: Any = None  # list[SampleSet], one per item: drawn once (or read from a file), shared
    shared: dict = field(default_factory=dict)  # per-batch products several scorers reuse

    def sampled(self):
        """The k samples per item, drawn on first use and shared by every sampling-family scorer."""
        if self.samples is None:
            from calib_eval.scorers.samples import draw_samples

            self.samples = draw_samples(self)
        return self.samples

    def answered_state(self):
        """Base-model state of prompt + answer, encoding it only if nobody has."""
        if self.answered is None:
            from calib_eval.inference.state import encode_batch

            rows = [s + a for s, a in zip(self.suffix_ids, self.answer_ids)]
            self.answered = encode_batch(self.model.model, self.prefix_ids, rows,
                                         self.model.tokenizer.pad_token_id, self.prefix_cache)
        return self.answered

    def prompt_state(self):
        """A fresh base-model state of the prompt alone (for sampling)."""
        from calib_eval.inference.state import encode_batch

        if self.answered is not None and self.prompt_only is not None:
            state = self.answered.fork()
            state.rollback(self.prompt_only)
            return state
        return encode_batch(self.model.model, self.prefix_ids, self.suffix_ids,
                            self.model.tokenizer.pad_token_id, self.prefix_cache)


class Scorer(Protocol):
    name: str
    is_probability: bool  # True: goes into ECE/Brier directly; False: needs a calibration map
    needs_adapter: bool  # True: refuses to run without --adapter NAME=PATH
    task_modes: tuple[str, ...]  # which task modes it applies to ("generate", "choice")

    def score(self, batch: ScoringBatch) -> list[float]: ...


def check_scorer(name: str, obj: Any) -> str | None:
    """What keeps a plugin's object from being a scorer (None: nothing); the registry names the entry point."""
    if not isinstance(obj, type):
        return f"expected a class (the runner builds one instance per run), got {type(obj).__name__}"
    missing = [a for a in ("score", "is_probability", "needs_adapter", "task_modes") if not hasattr(obj, a)]
    if missing:
        return f"class {obj.__name__} lacks {', '.join(missing)} (see calib_eval.scorers.base.Scorer)"
    if getattr(obj, "name", name) != name:
        return f"class {obj.__name__} is named {obj.name!r} but its entry point is {name!r}; make them equal"
    modes = tuple(obj.task_modes) if isinstance(obj.task_modes, (tuple, list)) else ()
    if not modes or set(modes) - {"generate", "choice"}:
        return f"task_modes must be a non-empty tuple of 'generate' / 'choice', got {obj.task_modes!r}"
    return None


# third-party scorers: entry points in group "calib_eval.scorers" (docs/plugins.md)
SCORERS: Registry[type] = Registry("scorer", group="calib_eval.scorers", check=check_scorer)


def get_scorer(name: str) -> type:
    import calib_eval.scorers  # noqa: F401  (registers the built-in scorers)

    return SCORERS.get(name)
