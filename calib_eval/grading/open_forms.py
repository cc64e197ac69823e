"""Token forms of free text for the open-ended grader: signs, operators, numbers and case kept apart.

SQuAD-style normalisation deletes every punctuation mark and the articles, so
"(x + 1)(x − 4)" equals "(x + 1)(x + 4)", "-i" equals "i" and "Vitamin A"
becomes "vitamin". Here text becomes tokens instead:
- words (letters and digits; an apostrophe, or a hyphen between two words of
  two letters or more, joins: "don't" -> "dont", "well-known" -> "wellknown",
  and so does a full stop between single letters: "U.S." -> "US", "a.m." -> "am");
- numbers, in one canonical form: "0.5", "1/2", "50%" and ".50" all become
  "1/2"; thousands commas go ("1,000" -> "1000"); "3:30" stays as it is;
- operators as tokens of their own, Unicode spellings mapped to one: "−", "–",
  "—" -> "-"; "×", "•", "·" -> "*"; "≤" -> "<="; "≠" -> "!="; every other math
  symbol (⊃, ∨, ≡, →, ~ ...) stays itself;
- list separators "," and ";" (kept for the multi-candidate rule, ignored when
  comparing whole answers);
- brackets, as "(" and ")", only in a text with an operator, where grouping
  matters ("(5 × 19) + 12" != "5 × (19 + 12)"); primes after a digit ("6'" feet,
  "6''" inches) are tokens too (not '"', which closes quotes more often);
- markdown emphasis ("**Paris**") and LaTeX number fractions ("\\frac{1}{2}")
  are unwrapped first; everything else (brackets outside formulas, quotes, full
  stops, colons, "$") is dropped.
Case is kept in the tokens and ignored when comparing, except for short
symbols whose case carries meaning ("Bb" vs "BB", "Co" vs "CO"; see
:func:`_case_matters`). A lower-cased answer therefore cannot match "Bb × Bb":
that phrasing is ambiguous, since "bb × bb" is another genotype.

Two forms per text: ``keep`` (all tokens) and ``strip`` (articles dropped, but
only an article that is a word before another word: "the Paris" -> "Paris",
while "Vitamin A", "Hepatitis A virus" and "a = g" keep their letter).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

SEPARATORS = frozenset({",", ";"})
ARTICLES = frozenset({"a", "an", "the"})
_SPELLINGS = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\ufe63": "-",
    "\uff0d": "-", "\u00d7": "*", "\u2022": "*", "\u00b7": "*", "\u22c5": "*", "\u2219": "*", "\u00f7": "/",
    "\u2044": "/", "\u2215": "/", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u2018": "'", "\u2019": "'",
    "\u02bc": "'", "\u2032": "'", "\u2033": "''", "&": " and ", "[": "(", "{": "(", "]": ")", "}": ")",
})  # before NFKD, which would turn "≠" into "=" plus a combining stroke
# markdown emphasis around words ("**Paris**", "*Paris*"), never inside a formula ("x*y*z", "2 ** 3")
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}(?=[^\s*])([^*]+?)(?<=[^\s*])\*{1,2}(?![\w*])")
_FRAC = re.compile(r"\\[dt]?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}")  # LaTeX \frac{1}{2} is the number 1/2
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_JOIN = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])|(?<=[^\W\d_]{2})-(?=[^\W\d_]{2})"
                   r"|(?<=\b[^\W\d_])\.(?=[^\W\d_]\b)")  # don't, well-known, a.m., U.S.
_NUMBER = r"(?:\d+\.\d+|\.\d+|\d+)"
_TOKEN = re.compile(
    rf"(?P<time>(?<![\w.])\d+(?::\d+)+(?!\w))"
    rf"|(?P<num>(?<![\w.]){_NUMBER}(?:/{_NUMBER})?(?:\s*%)?(?![^\W_]))"
    r"|(?P<word>[^\W_]+)"
    r"|(?P<prime>(?<=\d)(?:''|'))"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||->|<-|=>|\*\*|//|[-+*/^=<>~|%#])"
    r"|(?P<bracket>[()\[\]{}])"
    r"|(?P<sep>[,;])"
    r"|(?P<other>\S)"
)


@dataclass(frozen=True)
class Forms:
    """Tokens of one text: with separators (for span rules), without (for whole-answer equality), lowered."""

    keep: tuple[str, ...]
    strip: tuple[str, ...]
    keep_bare: tuple[str, ...]
    strip_bare: tuple[str, ...]
    keep_key: tuple[str, ...]  # keep_bare lower-cased: a cheap first test before same_tokens
    strip_key: tuple[str, ...]


def canonical_number(token: str) -> str:
    """'0.5', '1/2', '50%', '.50' -> '1/2'; '2.0' -> '2'. Division by zero stays as written."""
    text = token.replace(" ", "")
    percent = text.endswith("%")
    text = text.rstrip("%")
    num, _, den = text.partition("/")
    try:
        value = Fraction(num) / (Fraction(den) if den else 1)
    except ZeroDivisionError:
        return token
    value /= 100 if percent else 1
    return str(value)


@lru_cache(maxsize=4096)
def _is_symbol(ch: str) -> bool:
    return unicodedata.category(ch) in ("Sm", "So")


def _clean(text: str) -> str:
    text = _EMPHASIS.sub(r"\1", _FRAC.sub(r"\1/\2", text)).translate(_SPELLINGS)
    if not text.isascii():
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return _JOIN.sub("", _THOUSANDS.sub("", text))


def tokens(text: str) -> tuple[str, ...]:
    """Case-kept tokens of a text (see the module doc); brackets only count in formulas."""
    out, brackets, formula = [], [], False
    for m in _TOKEN.finditer(_clean(text)):
        kind, tok = m.lastgroup, m.group(0)
        if kind == "num":
            tok = canonical_number(tok)
        elif kind == "bracket":
            brackets.append(len(out))
        elif kind == "other" and not _is_symbol(tok):
            continue
        formula |= kind in ("op", "other")
        out.append(tok)
    if not formula:  # "(I) and (IV)", "HBr(g)": grouping matters only around operators
        drop = set(brackets)
        out = [t for i, t in enumerate(out) if i not in drop]
    return tuple(out)


def _drop_articles(toks: tuple[str, ...]) -> tuple[str, ...]:
    """Drop an article before another word; mid-text only a lower-case one ("Vitamin A diet" keeps its A)."""
    if not any(t.lower() in ARTICLES for t in toks):
        return toks
    out = []
    for i, tok in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        article = tok.lower() in ARTICLES and nxt[:1].isalpha() and (i == 0 or tok.islower())
        if not article:
            out.append(tok)
    return tuple(out)


@lru_cache(maxsize=200_000)  # references and wrong options repeat across calls and probes
def open_forms(text: str) -> Forms:
    keep = tokens(text)
    strip = _drop_articles(keep)
    keep_bare = tuple(t for t in keep if t not in SEPARATORS)
    strip_bare = tuple(t for t in strip if t not in SEPARATORS)
    return Forms(keep, strip, keep_bare, strip_bare, tuple(t.lower() for t in keep_bare),
                 tuple(t.lower() for t in strip_bare))


def _allele(t: str) -> bool:
    # one letter twice, in two cases: "Bb", "Aa" (genotypes, where case is the whole meaning)
    return len(t) == 2 and t[0].lower() == t[1].lower() and t[0] != t[1]


def _case_matters(a: str, b: str) -> bool:
    """Short symbols: elements ("Co" vs "CO"), logic constants ("Sc" vs "sC"), genotypes ("Bb" vs "bb")."""
    if len(a) > 3:
        return False
    both_capitalised = not a.islower() and not b.islower()
    return both_capitalised or _allele(a) or _allele(b)


def same_tokens(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Equal ignoring case, except for short symbols whose case carries meaning (:func:`_case_matters`)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x != y and (x.lower() != y.lower() or _case_matters(x, y)):
            return False
    return True


def is_operator(token: str) -> bool:
    """Operators and math symbols; numbers, words and separators are not."""
    return not token[:1].isalnum() and token not in SEPARATORS
