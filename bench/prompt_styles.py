"""MMLU-OE with the paper's raw 5-shot prompt vs a chat-template prompt that asks for a short answer.

    OMP_NUM_THREADS=1 python bench/prompt_styles.py --model qwen2.5-coder-0.5b --items 64 --dtype bfloat16

Kapoor et al.'s prompt (calib_eval.prompts.mmlu_oe_prefix) is raw text, no chat
template; instruction-tuned models often answer it with whole sentences, which
the rule grader rejects. The chat variant puts the same five shots into the
model's own chat template as user/assistant turns, after a system line asking
for a short answer, so the two differ only in framing. For each style and the
same first N items of mmlu_oe_calib (stable order): accuracy, mean answer
words, and AUROC of P(True) (Kapoor et al.'s query appended after the answer)
and of the answer's mean token log-probability, with the paired AUROC CIs the
leaderboard uses. Greedy decoding, one item at a time (plain HF generate, not
the runner's engine: this compares prompts, not engines). The paper's prompt
stays the primary row everywhere else.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

SHORT_ANSWER_SYSTEM = "Answer each question with a short answer: a few words or a number, no explanation."
STYLES = ("paper", "chat")


def chat_prompt(tokenizer, subject_header: str, shots, question: str) -> str:
    """The five shots as chat turns after a short-answer instruction; ends where the assistant speaks."""
    messages = [{"role": "system", "content": SHORT_ANSWER_SYSTEM + " " + subject_header.strip()}]
    for shot in shots:
        messages += [{"role": "user", "content": shot.question}, {"role": "assistant", "content": shot.references[0]}]
    messages.append({"role": "user", "content": question})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def prompts_for(style: str, spec, examples, tokenizer, data_root) -> list[str]:
    from calib_eval.data import mmlu

    if style == "paper":
        return [spec.prompt(ex, data_root) for ex in examples]
    out = []
    for ex in examples:
        subject = ex.metadata.get("subject", "")
        header = f"The following are questions about {subject.replace('_', ' ')}."
        shots = mmlu.few_shot(subject, k=5, data_root=data_root)  # the paper prompt's five dev shots
        out.append(chat_prompt(tokenizer, header, shots, ex.question))
    return out


@torch.no_grad()
def answer_and_scores(loaded, prompt: str, max_new_tokens: int, stop: tuple[str, ...]) -> tuple[str, float, float]:
    """Greedy answer (cut at the task's stop), its mean token log-prob, and P(True) after the paper's query."""
    from calib_eval import prompts
    from calib_eval.task_specs import cut_at_stop

    tok, model = loaded.tokenizer, loaded.model
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    answer = cut_at_stop(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True), stop)
    answer_ids = tok(answer, add_special_tokens=False)["input_ids"]
    full = torch.tensor([ids[0].tolist() + answer_ids])
    logits = model(full).logits[0, ids.shape[1] - 1: -1].float()
    logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(answer_ids)[:, None]).mean().item() if answer_ids else -99.0
    query = tok(prompt + answer + prompts.UNCERTAINTY_QUERY, return_tensors="pt", add_special_tokens=False)["input_ids"]
    last = model(query).logits[0, -1].float()
    no, yes = (tok(t, add_special_tokens=False)["input_ids"][0] for t in (prompts.QUERY_NO, prompts.QUERY_YES))
    p_true = torch.softmax(torch.stack([last[no], last[yes]]), 0)[1].item()
    return answer, logp, p_true


def evaluate(style: str, loaded, spec, examples, data_root) -> dict:
    t0 = time.perf_counter()
    rows = []
    for ex, prompt in zip(examples, prompts_for(style, spec, examples, loaded.tokenizer, data_root)):
        answer, logp, p_true = answer_and_scores(loaded, prompt, spec.max_new_tokens, spec.stop)
        rows.append((spec.grade(ex, " " + answer)[0], answer, logp, p_true))
    return {"rows": rows, "seconds": time.perf_counter() - t0}


def summary(result: dict, bootstrap: int) -> dict:
    from calib_eval.metrics import roc_auc
    from calib_eval.metrics.bootstrap import bootstrap_ci

    correct = np.array([r[0] for r in result["rows"]], dtype=bool)
    out = {"n": len(correct), "accuracy": correct.mean(), "words": np.mean([len(r[1].split()) for r in result["rows"]]),
           "seconds": result["seconds"]}
    for name, column in (("p_true", 3), ("logprob", 2)):
        score = np.array([r[column] for r in result["rows"]])
        if 0 < correct.sum() < len(correct):
            ci = bootstrap_ci(roc_auc, score, correct, n_resamples=bootstrap)
            out[name] = (ci.estimate, ci.low, ci.high)
        else:
            out[name] = None  # one class: AUROC undefined
    return out


def _auroc(cell) -> str:
    return "one class" if cell is None else f"{cell[0]:.3f} [{cell[1]:.2f}, {cell[2]:.2f}]"


def main(argv=None) -> int:
    from calib_eval.models import load_model
    from calib_eval.task_specs import get_task, load_task_examples

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--bootstrap", type=int, default=1000)
    args = p.parse_args(argv)
    loaded = load_model(args.model, "cpu", args.dtype)
    spec = get_task("mmlu_oe_calib")
    examples = load_task_examples(spec, args.items, args.data_root)
    print(f"### MMLU-OE prompt styles ({args.model}, {args.dtype}, first {len(examples)} items of the stable order)\n")
    print("| prompt | accuracy | mean answer words | P(True) AUROC | mean log-prob AUROC | s/item |")
    print("|---|---|---|---|---|---|")
    for style in STYLES:
        s = summary(evaluate(style, loaded, spec, examples, args.data_root), args.bootstrap)
        label = "paper (raw 5-shot, primary)" if style == "paper" else "chat template + short-answer system line"
        print(f"| {label} | {s['accuracy']:.3f} ({int(round(s['accuracy'] * s['n']))}/{s['n']}) | {s['words']:.1f} | "
              f"{_auroc(s['p_true'])} | {_auroc(s['logprob'])} | {s['seconds'] / s['n']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
