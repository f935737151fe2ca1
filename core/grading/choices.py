"""Multiple-choice items: an item's options, its gold letter, and the letters a reply names as its answer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from mathbench.core.grading import normalize as nz
from mathbench.core.grading.extraction import strip_code, find_boxes
from mathbench.core.grading.limits import MAX_TEXT

LETTERS = "ABCDEFGHIJ"
_LABEL = re.compile(r"^\s*[\(（]?\s*(?P<l>[A-Ja-j])\s*[\)）.:：、]\s*")
_INLINE_LABELS = re.compile(r"(?:^|(?<=[\s,;，；]))[\(（]?(?P<l>[A-Ja-j])\s*[\)）.:：、]\s*")
_FORMAT = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textrm|mbox|mathit|textit)\s*\{([^{}]*)\}|\*\*|__|\$|\\[()\[\]]")
# Where a reply names its choice: 'answer is (B)', '答案：B', '选B', 'option B', 'Réponse : B'.
_CHOICE_PHRASE = re.compile(
    r"(?:答案选项|正确选项|选项|答案|选择|应选|故选|选|答え|正解|"
    r"(?i:(?:final\s+|correct\s+|the\s+)*(?:answer|option|choice)(?:\s+is)?|r[ée]ponse|respuesta|antwort|resposta|ответ))"
    r"\s*(?:is|are|为|是|は|[:：=])?\s*(?:[a-z ]{0,20}?)(?:(?i:option|choice)\s*)?(?:[*_$]|\\text(?:bf)?\{)*"
    r"(?:[\(（](?P<p>[A-Ja-j])[\)）]|(?P<l>[A-J]))(?![A-Za-z0-9])"
)
_ALSO = re.compile(r"(?:[*_$}]|\\\)|\s)*(?:,|，|、|/|\bor\b|\band\b|或|或者|和|及|还是)\s*(?:[*_$]|\\text(?:bf)?\{)*"
                   r"(?:[\(（](?P<p>[A-Ja-j])[\)）]|(?P<l>[A-J]))(?![A-Za-z0-9])")
_LEADING = re.compile(r"^\s*(?:[*_#>\-]\s*)*(?:\\textbf\{)?[\(（]?(?P<l>[A-J])[\)）]?(?:\*\*|\})?(?:[.。:：,，)\s\u4e00-\u9fff]|$)")
# A weaker way to name a choice, trusted only when nothing follows the letter but punctuation.
_CHOICE_WEAK = re.compile(r"(?i:I think|I believe|I choose|I pick|I'd (?:go with|choose|pick)|it's|it is|must be|should be|could be|may be|might be|would be)"
                          r"\s+(?:(?i:option|choice)\s+)?[\(（]?(?P<l>[A-J])[\)）]?(?=\s*(?:[.!。,，]|$|(?:or|and)\s+[\(（]?[A-J]\b))")


def normalize_choices(choices: Any) -> dict[str, str] | None:
    """Options as {letter: text}, from a list (labelled 'A) ..' or not), a dict keyed A-E, a TAL-style list of
    {aoVal, content}, a JSON string, or one string of labelled options ('a ) 38 , b ) 27.6 , ...')."""
    if choices is None:
        return None
    if hasattr(choices, "tolist"):  # a numpy array from parquet
        choices = choices.tolist()
    if isinstance(choices, str):
        text = choices.strip()
        if text[:1] in "[{":
            try:
                return normalize_choices(json.loads(text))
            except (json.JSONDecodeError, RecursionError):
                pass
        return _split_labelled(text)
    if isinstance(choices, dict):
        out = {}
        for key, value in choices.items():
            m = _LABEL.match(f"{key})") or re.fullmatch(r"\s*([A-Ja-j])\s*", str(key))
            if not m:
                return None
            out[m.group(1).upper()] = _option_text(value)
        return dict(sorted(out.items())) or None
    if isinstance(choices, Iterable):
        items = list(choices)
        if not items:
            return None
        if all(isinstance(i, (list, tuple)) and len(i) == 1 for i in items):
            items = [i[0] for i in items]  # TAL-SCQ5K wraps each option in a one-item list
        if all(isinstance(i, dict) and ("aoVal" in i or "label" in i) for i in items):
            return {str(i.get("aoVal", i.get("label"))).strip().upper(): _option_text(i.get("content", i.get("text")))
                    for i in items}
        texts = [_option_text(i) for i in items]
        labels = [_LABEL.match(t) for t in texts]
        if all(labels) and [m.group("l").upper() for m in labels] == list(LETTERS[: len(texts)]):
            return {m.group("l").upper(): t[m.end() :].strip() for m, t in zip(labels, texts)}
        return dict(zip(LETTERS, texts)) if len(texts) <= len(LETTERS) else None
    return None


def _option_text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("content", value.get("text", ""))
    return str(value).strip()


def _split_labelled(text: str) -> dict[str, str] | None:
    """'A) $f(-6)=0$ B) $f(6)=-6$' or 'a ) 38 , b ) 27.675' -> {'A': ..., 'B': ...} when labelled A, B, C in order."""
    marks, want = [], 0
    for m in _INLINE_LABELS.finditer(text):
        if want < len(LETTERS) and m.group("l").upper() == LETTERS[want]:
            marks.append(m)
            want += 1
    if len(marks) < 2:
        return None
    out = {}
    for m, nxt in zip(marks, marks[1:] + [None]):
        piece = text[m.end() : nxt.start() if nxt else len(text)]
        out[m.group("l").upper()] = piece.strip().rstrip(",;，；").strip()
    return out


def gold_letter(gold: Any, options: dict[str, str] | None) -> str | None:
    """The gold as a letter: 'C', '(c)', 'C. {x | x<4}', an index into the options, or the text of one option."""
    if gold is None:
        return None
    if isinstance(gold, int) and not isinstance(gold, bool) and options and 0 <= gold < len(options):
        return list(options)[gold]
    text = str(gold).strip()
    letter = nz.choice_letter(text)
    if letter is None:
        m = re.match(r"^[\(（]?([A-J])[\)）]?[.:：、)]\s+\S", text)
        letter = m.group(1) if m else None
    if letter is not None and (options is None or letter in options):
        return letter
    if options:
        key = nz.clean(text)
        hits = [k for k, v in options.items() if nz.clean(v) == key]
        if len(hits) == 1:
            return hits[0]
    return None


def named_letters(text: str, letters: Iterable[str] = "ABCDE") -> list[str]:
    """The option letters a reply gives as its answer, in order (two or more mean it did not choose)."""
    allowed = set(letters)
    body = strip_code(str(text or "")[-MAX_TEXT:])
    boxes = [b for b in find_boxes(body) if b[2]]
    if boxes:
        found = _letters_in_box(boxes[-1][2], allowed)
        if found is not None:
            return found
    for m in reversed(list(_CHOICE_PHRASE.finditer(body))[-30:]):
        if _letter(m) in allowed:
            return _with_following(body, m, allowed)
    tail = body[-600:]
    weak = list(_CHOICE_WEAK.finditer(tail))
    if weak and weak[-1].group("l") in allowed:
        return _with_following(tail, weak[-1], allowed)
    lines = [ln for ln in body.strip().splitlines() if ln.strip()]
    if lines:
        m = _LEADING.match(lines[-1])
        if m and m.group("l") in allowed and _looks_like_choice_line(lines[-1], m):
            return _with_following(lines[-1], m, allowed)
    bold = [m for m in re.finditer(r"\*\*\s*[\(（]?([A-J])[\)）]?\s*\*\*|\\textbf\{\s*\(?([A-J])\)?\s*\}", body[-600:])]
    if bold:
        letter = bold[-1].group(1) or bold[-1].group(2)
        return [letter] if letter in allowed else []
    return []


def _looks_like_choice_line(line: str, m: re.Match) -> bool:
    """'B. 27.675', '(B)', '**B**', 'B' — not a sentence that starts with the article 'A'."""
    rest = line[m.end() :].strip()
    return not rest or m.group(0).strip() != m.group("l") or not re.match(r"[a-z]", rest)


def _letters_in_box(content: str, allowed: set[str]) -> list[str] | None:
    """Letters in a boxed answer ('B', '\\text{(B)}', 'B, C'); None when the box holds something else."""
    plain = _FORMAT.sub(lambda m: m.group(1) or "", content).strip()
    parts = [p.strip() for p in re.split(r"\s*(?:,|，|、|/|\bor\b|\band\b|或|和)\s*", plain) if p.strip()]
    letters = []
    for part in parts:
        m = re.fullmatch(r"[\(（]?([A-J])[\)）]?(?:[.:：)]\s*.*)?", part, re.DOTALL)
        if not m or m.group(1) not in allowed:
            return None if not letters else letters
        letters.append(m.group(1))
    return list(dict.fromkeys(letters)) or None


def _letter(m: re.Match) -> str:
    groups = m.groupdict()
    return (groups.get("l") or groups.get("p") or "").upper()


def _with_following(text: str, m: re.Match, allowed: set[str]) -> list[str]:
    """The letter m names, and any more that 'or' / 'and' / ',' join to it ('A or B')."""
    letters, pos = [_letter(m)], m.end()
    while True:
        nxt = _ALSO.match(text, pos)
        if not nxt or _letter(nxt) not in allowed:
            return list(dict.fromkeys(letters))
        letters.append(_letter(nxt))
        pos = nxt.end()


def find_choice(text: str) -> str | None:
    """The one option letter (A-E) a reply names as its answer, or None (also when it names two)."""
    letters = named_letters(text)
    return letters[0] if len(letters) == 1 else None


def option_matches(answer: str, options: dict[str, str], equal: Callable[[str, str], bool]) -> list[str]:
    """The letters whose option text equals the answer."""
    return [k for k, v in options.items() if v and equal(v, answer)]
