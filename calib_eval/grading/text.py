"""Shared text handling for the graders: SQuAD-style normalisation, answer clean-up, sentences.

See the package docstring (calib_eval.grading) for what each step does and why.
"""
from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

MAX_EXTRA_WORDS = 10
HEDGES = frozenset({"not", "no", "never", "nor", "neither", "either", "or", "isnt", "arent", "wasnt", "werent",
                    "doesnt", "dont", "didnt", "cannot", "cant", "wont", "unlikely"})

_ASCII_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# punctuation that changes a number's value is swapped for private-use characters while
# the rest is deleted, then swapped back
_NUMERIC_PUNCT = re.compile(r"(?<=\d)[.:/+-](?=\d)|(?:(?<=^)|(?<=[\s(\[]))[+-](?=\d)")
_PROTECT = {ch: chr(0xE000 + i) for i, ch in enumerate(".:/+-")}
_RESTORE = {v: k for k, v in _PROTECT.items()}
_RESTORE_TABLE = str.maketrans(_RESTORE)
_DROP_ASCII_PUNCT = str.maketrans("", "", string.punctuation)
_ANSWER_PREFIX = re.compile(r"^\s*(?:final\s+)?answer\s*:\s*", re.IGNORECASE)
_STATED = re.compile(r"^\s*(?:so,?\s+)?(?:the\s+)?(?:correct\s+|final\s+|best\s+)?answer\s+is\s*:?\s*"
                     r"(?:option\s+|choice\s+)?", re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^\s*(?:\(([A-Za-z])\)|([A-Z])[.):](?=\s|$))\s*")
_WHOLE_LABEL = re.compile(r"^\s*\(?([A-Za-z])\)?\s*[.):]?\s*$")
_STATED_LABEL = re.compile(r"^(?:\(([A-Za-z])\)|([A-Z]))(?=[\s.,;:)!]|$)")  # after "the answer is"
_SENTENCE_END = re.compile(r"[.!?]+\s+")


@lru_cache(maxsize=4096)
def _is_unicode_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


@lru_cache(maxsize=65536)  # pure; choices and references repeat across calls
def normalize_text(text: str) -> str:
    """SQuAD-style normalisation, Unicode-aware, that keeps numbers' values apart."""
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
        text = text.replace("\u2212", "-")  # the minus sign counts as a sign
    text = _THOUSANDS.sub("", text.lower())
    text = _NUMERIC_PUNCT.sub(lambda m: _PROTECT[m.group(0)], text)  # 1.56, 3:30, 1/2, 2-3, -1 survive
    text = text.translate(_DROP_ASCII_PUNCT)
    if not text.isascii():
        text = "".join(ch for ch in text if ch in _RESTORE or not _is_unicode_punct(ch))
    text = text.translate(_RESTORE_TABLE)
    return " ".join(_ARTICLES.sub(" ", text).split())


def strict_text(text: str) -> str:
    """Case-sensitive, punctuation-keeping form for choices that ``normalize_text`` would merge."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).rstrip(".").strip()


def first_line(text: str) -> str:
    """The first non-blank line: whatever a model adds after a newline is chatter."""
    return text.strip().split("\n", 1)[0].strip()


def strip_answer_prefix(text: str) -> str:
    """Remove a leading "Answer:" and then a leading choice label like "(B)" or "B."."""
    text = _ANSWER_PREFIX.sub("", text, count=1)
    return _LABEL_PREFIX.sub("", text, count=1)


def normalize_answer(text: str) -> str:
    """A model answer, reduced for comparison: first line, prefixes stripped, normalised."""
    return normalize_text(strip_answer_prefix(first_line(text)))


def first_sentence(text: str) -> str:
    """Text up to the first sentence end, not counting initials such as "F." in "John F. Kennedy"."""
    for m in _SENTENCE_END.finditer(text):
        before = text[: m.start()].split()
        if before and not (len(before[-1]) == 1 and before[-1].isupper()):
            return text[: m.start()]
    return text
