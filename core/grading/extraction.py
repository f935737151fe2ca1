"""Final-answer extraction from model replies and from references, recording which rule fired."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_FENCE_CODE = re.compile(r"```[ \t]*(?:python|py|python3)\b.*?(?:```|$)", re.DOTALL | re.IGNORECASE)
_HASH_RE = re.compile(r"####\s*([^\n]+)")
_NUMBER_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])[-−]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)(?:\s*%)?")
_MATH_SEGMENT = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$|(?<![\\\d])\$((?:\\\$|[^$\n])+?)(?<!\\)\$", re.DOTALL)
# Between two boxes that together give one answer ("\boxed{-2} and \boxed{1}").
_BOX_CONNECTORS = {"", ",", "，", "、", ";", "；", "and", "or", ",and", ",or", "和", "或", "或者", "以及", "与"}
_ANSWER_IS = [
    re.compile(
        r"(?:(?:final|the)\s+answer\s*(?:is|will be|would be|should be|[:：=])|\b(?:answer|réponse|respuesta|antwort|resposta|ответ)\s*[:：=])"
        r"\s*(?:is\b\s*)?",
        re.IGNORECASE,
    ),
    re.compile(r"(?:最终答案|正确答案|答案)\s*(?:应该|应|就)?\s*(?:是|为|[:：=])\s*"),
]
_CONCLUSION_START = re.compile(
    r"(?:^|(?<=[\n。！？!?]))\s*(?:[#*>\-\s]*)(?P<zh>因此|所以|综上所述|综上|故|总之|最后|由此可得|可得|答[:：])|"
    r"(?:^|(?<=[\n.!?]))\s*(?:[#*>\-\s]*)(?P<en>therefore|thus|so|hence|in conclusion|in total|altogether)\b",
    re.IGNORECASE,
)
_CHOICE_IN_TEXT = re.compile(
    r"(?:答案选项|选项|答案|选择|应选|故选|选|(?i:answer|option|choice))\s*(?:is|为|是|[:：])?\s*(?:[a-z ]{0,20}?)"
    r"[\(（]?(?P<l>[A-E])[\)）]?(?![A-Za-z])"
)
_CHOICE_AT_START = re.compile(r"^\s*[\(（]?(?P<l>[A-E])[\)）]?(?:[.。:：,，\s]|$)")


@dataclass
class Extraction:
    """What a reply's final answer is, which rule found it, and every candidate that rule saw."""

    answer: str | None
    rule: str
    candidates: list[str] = field(default_factory=list)


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """Every \\boxed{..} / \\fbox{..} / '\\boxed 5' in order, as (start, end, content), braces balanced."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        m = _BOX_CMD.search(text, pos)
        if not m:
            return out
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            content = text[i + 1 : j]  # an unclosed box runs to the end of the reply
            out.append((m.start(), min(j + 1, len(text)), content.strip()))
            pos = j + 1
        else:
            tok = re.match(r"[^\s$\\,.;]+", text[i:])
            if tok and m.end() < i:
                out.append((m.start(), i + tok.end(), tok.group(0)))
                pos = i + tok.end()
            else:
                pos = m.end()


def _final_box_group(text: str, boxes: list[tuple[int, int, str]]) -> list[str]:
    """The last box together with the boxes right before it that only connectors separate."""
    group = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = text[prev[1] : group[0][0]]
        if len(between) <= 48 and _is_connector(between):
            group.insert(0, prev)
        else:
            break
    return [b[2] for b in group]


def _is_connector(between: str) -> bool:
    core = re.sub(r"\\(?:text|mbox|textrm)\s*\{([^{}]*)\}", r"\1", between)
    core = re.sub(r"\\q?quad|\\[,;: !]|\\[()\[\]]|[\s$]|[A-Za-z](?:_\{?\w+\}?)?\s*=\s*$", "", core)
    if core in _BOX_CONNECTORS:
        return True
    # "for part (a) and": a short English phrase ending in a joiner, never Chinese prose between answers
    return len(core) <= 30 and not re.search(r"[\u4e00-\u9fff\d]", core) and bool(re.search(r"(?:and|or|,)$", core))


def _strip_code(text: str) -> str:
    return _FENCE_CODE.sub(" ", text)


def _phrase_answer(phrase: str) -> str | None:
    """The answer inside an 'answer is ...' phrase: its math segment, its only number, or its first clause."""
    phrase = phrase.strip()
    first = re.split(r"(?<!\d)[.。;；!?](?!\d)|\n", phrase, maxsplit=1)[0]
    is_tail = re.search(r"\s(?:is|are|equals)\s+(?P<v>[^\s].{0,40})$", first)
    if is_tail and re.search(r"\d|\\", is_tail.group("v")) and not _numbers(_MATH_SEGMENT.sub(" ", first[: is_tail.start()])):
        phrase = is_tail.group("v")  # "The largest $n$ is 34": the value after the verb
    seg = _MATH_SEGMENT.search(phrase)
    if seg and seg.start() < 40:
        parts = [next(g for g in seg.groups() if g is not None).strip()]
        pos = seg.end()
        while True:  # "$12$ and $13$" is one answer of two parts
            nxt = re.match(r"\s*(?:,|and|or|和|或)\s*", phrase[pos:])
            seg2 = _MATH_SEGMENT.match(phrase, pos + nxt.end()) if nxt else None
            if not seg2:
                break
            parts.append(next(g for g in seg2.groups() if g is not None).strip())
            pos = seg2.end()
        return ", ".join(parts)
    clause = re.split(r"(?<!\d)[.。;；](?!\d)|\n|，|,\s(?=[A-Za-z])|\s(?:because|since|as|which)\s", phrase, maxsplit=1)[0]
    clause = clause.strip().strip("*").strip()
    nums = _NUMBER_TOKEN.findall(clause)
    if len(nums) == 1 and not re.search(r"[\\^=()\[\]]", clause):
        scaled = re.search(re.escape(nums[0].strip()) + r"\s*(?:thousand|million|billion|trillion|万|亿)", clause)
        return scaled.group(0) if scaled else nums[0].strip()
    if re.search(r"[\u4e00-\u9fff]", clause):
        # "每份应该是 (\frac{2}{5}) 吨": the one piece of mathematics between the Chinese words
        pieces = [p.strip() for p in re.split(r"[\u4e00-\u9fff：:，]+", clause) if re.search(r"\d|\\", p)]
        if len(pieces) == 1:
            return _unwrap_parens(pieces[0])
    return clause or None


def _unwrap_parens(s: str) -> str:
    """'(\frac{2}{5})' -> '\frac{2}{5}'; a tuple '(2, 3)' or '(1)+(2)' keeps its brackets."""
    m = re.fullmatch(r"[(（](.*)[)）]", s)
    if not m:
        return s
    inner, depth = m.group(1), 0
    for ch in inner:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0 or (ch == "," and depth == 0):
            return s
    return inner.strip() if depth == 0 else s


_FINAL_ANSWER = re.compile(r"final answer\s*(?:is|[:：])\s*(?:the final answer is\b\s*)?|最终答案\s*(?:是|为|[:：])\s*", re.IGNORECASE)


def _answer_is(body: str, after: int = 0) -> Extraction | None:
    """The value after the last 'the answer is' / '答案是'; after a box only an explicit 'final answer' counts."""
    for pattern in ([_FINAL_ANSWER] if after else _ANSWER_IS):
        matches = [m for m in pattern.finditer(body) if m.start() >= after]
        for m in reversed(matches):
            ans = _phrase_answer(body[m.end() :])
            if ans and (re.search(r"\d|\\", ans) or (len(ans) <= 20 and not after)):
                return Extraction(ans, "answer-is", [ans])
    return None


def _last_math(body: str) -> Extraction | None:
    """The last LaTeX math segment of the reply when no number follows it ('... we find that $x \\lt 3$.')."""
    segs = list(_MATH_SEGMENT.finditer(body))
    for m in reversed(segs):
        content = next(g for g in m.groups() if g is not None).strip()
        words = re.sub(r"\\(?:begin|end)\{\w+\*?\}(?:\{[^{}]*\})?|\\[A-Za-z]+", " ", content)
        if not content or re.search(r"[A-Za-z]{3,}", words) or not re.search(r"[\d\\<>=]", content):
            continue
        if _numbers(_MATH_SEGMENT.sub(" ", body[m.end() :])):
            return None  # a plain number comes later; the last-number rule decides
        return Extraction(content, "last-math", [content])
    return None


def _numbers(text: str) -> list[str]:
    return [n.strip() for n in _NUMBER_TOKEN.findall(text)]


def extract_answer(text: str | None) -> Extraction:
    """The final answer of a full model reply: last \\boxed, '####', 'the answer is', a concluding sentence, last number."""
    if not text or not text.strip():
        return Extraction(None, "none", [])
    body = _strip_code(text)
    boxes = [b for b in find_boxes(body) if b[2]]
    late = _answer_is(body, after=boxes[-1][1]) if boxes else None
    if late is not None:
        return late  # "Final Answer: ..." written after the last box restates the answer
    if boxes:
        group = _final_box_group(body, boxes)
        answer = ", ".join(group) if len(group) > 1 else group[-1]
        return Extraction(answer, "boxed", [b[2] for b in boxes])
    hashes = _HASH_RE.findall(body)
    if hashes:
        return Extraction(hashes[-1].strip(), "gsm8k-hash", [h.strip() for h in hashes])
    found = _answer_is(body)
    if found is not None:
        return found
    concl = _conclusion(body)
    if concl is not None:
        return concl
    math = _last_math(body)
    if math is not None:
        return math
    nums = _numbers(body)
    if nums:
        return Extraction(nums[-1], "last-number", nums[-3:])
    return Extraction(None, "none", [])


def _conclusion(body: str) -> Extraction | None:
    """The value in the last concluding sentence ('因此，需要3辆卡车', 'So she pays $18.')."""
    lines = [m.start() for m in re.finditer(r"(?m)^.*\S.*$", body)]
    tail_start = lines[-2] if len(lines) >= 2 else 0  # a concluding sentence sits in the last two lines
    starts = [m for m in _CONCLUSION_START.finditer(body) if m.end() >= tail_start]
    for m in reversed(starts):
        rest = body[m.end() :]
        sentence = re.split(r"[。！？!?\n]|\.(?!\d)(?=\s|$)", rest, maxsplit=1)[0]
        segs = [next(g for g in s.groups() if g is not None).strip() for s in _MATH_SEGMENT.finditer(sentence)]
        segs = [s for s in segs if re.search(r"\d", s)]
        plain = _MATH_SEGMENT.sub(" ", sentence)
        nums = _numbers(plain)
        rule = "chinese-conclusion" if m.group("zh") else "conclusion"
        if segs:
            return Extraction(segs[-1], rule, segs + nums)
        if nums:
            return Extraction(nums[-1], rule, nums)
    return None


def find_choice(text: str) -> str | None:
    """A multiple-choice letter the reply names ('答案选项为 D', 'the answer is (B)'), or None."""
    body = _strip_code(text or "")
    found = list(_CHOICE_IN_TEXT.finditer(body))
    if found:
        return found[-1].group("l").upper()
    m = _CHOICE_AT_START.match(body)
    return m.group("l") if m else None


def extract_gold(reference: str | None) -> str | None:
    """The gold answer of a reference: GSM8K '#### 1,080' -> '1080', a MATH solution -> its last box, else itself."""
    if reference is None:
        return None
    text = str(reference).strip()
    if not text:
        return None
    hashes = _HASH_RE.findall(text)
    if hashes:
        gold = hashes[-1].strip()
        if re.fullmatch(r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", gold):
            gold = gold.replace(",", "")
        return gold
    boxes = [b for b in find_boxes(text) if b[2]]
    if boxes:
        group = _final_box_group(text, boxes)
        return ", ".join(group) if len(group) > 1 else group[-1]
    return text
