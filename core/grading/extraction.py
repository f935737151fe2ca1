"""Final-answer extraction from model replies and from references, recording which rule fired."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mathbench.core.grading.limits import MAX_TEXT
from mathbench.core.grading.normalize import plain_spaces

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_FENCE_CODE = re.compile(r"```[ \t]*(?:python|py|python3)\b.*?(?:```|$)", re.DOTALL | re.IGNORECASE)
_HASH_RE = re.compile(r"####\s*([^\n]+)")
# A number as people print it: 1,080 / 1 080 (space-grouped) / 1000,99 and 2,74 (decimal commas that cannot
# group thousands) / 3.5 / 7/2 / .5, with an optional percent sign.
_NUMBER_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.])[-−]?(?:"
    r"0,\d+(?![\d,])|[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?(?![\d,])"
    r"|[1-9]\d{0,2}(?:[ \u00a0\u2009\u202f]\d{3})+(?:\.\d+)?(?![\d.,])"
    r"|(?<!\d,)\d+,\d{1,2}(?![\d,])|\d{4,},\d+(?![\d,])"
    r"|\d+(?:\.\d+)?(?:/\d+)?|\.\d+)(?:\s*%)?"
)
_MATH_SEGMENT = re.compile(
    r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$|(?<![\\\d])\$((?:\\\$|[^$\n])+?)(?<!\\)\$"
    r"|(?<![\\\d$])\$[ \t]*\n((?:\\\$|[^$]){1,200}?)\n[ \t]*\$(?!\$)",  # `$` alone on the lines around it
    re.DOTALL,
)
# Between two boxes that together give one answer ("\boxed{-2} and \boxed{1}").
_BOX_CONNECTORS = {"", ",", "，", "、", ";", "；", "and", "or", ",and", ",or", "和", "或", "或者", "以及", "与"}
_ANSWER_IS = [
    re.compile(
        r"(?:(?:final|the|my|our)\s+(?:(?:correct|final|right)\s+)?answer\s*(?:is|will be|would be|should be|[:：=])"
        r"|\b(?:answer|jibu|jawaban|ответ)\s*[:：=]"
        r"|\b(?:la\s+)?r[ée]ponse(?:\s+finale)?\s*(?:est\b|[:：=])|\b(?:la\s+)?respuesta(?:\s+final)?\s*(?:es\b|[:：=])"
        r"|\b(?:die\s+)?(?:endgültige\s+)?antwort\s*(?:ist\b|lautet\b|[:：=])"
        r"|\b(?:a\s+)?resposta(?:\s+final)?\s*(?:é|[:：=])|\b(?:la\s+)?risposta(?:\s+finale)?\s*(?:è|[:：=]))"
        r"\s*(?:is\b\s*)?",
        re.IGNORECASE,
    ),
    re.compile(r"(?:最终答案|正确答案|答案|答え|解答|正解)\s*(?:应该|应|就)?\s*(?:是|为|は|[:：=])\s*"),
]
_CONCLUSION_START = re.compile(
    r"(?:^|(?<=[\n。！？!?\s]))\s*(?:[#*>\-\s]*)"
    r"(?P<zh>因此|所以|综上所述|综上|故|总之|最后|由此可得|可得|答[:：]|よって|したがって|ゆえに|故に|इसलिए|अतः)|"
    r"(?:^|(?<=[\n.!?$])|(?<=\\\]))\s*(?:[#*>\-\s]*)(?P<en>therefore|thus|so|hence|in conclusion|in total|altogether|donc|ainsi"
    r"|por lo tanto|por tanto|entonces|also|daher|somit|folglich|quindi|portanto|logo|итак|таким образом)\b",
    re.IGNORECASE,
)
# What may follow a reply's final math and still leave it the answer: punctuation, a percent word, a unit.
_TRAILER = re.compile(r"^[\s.。,，;；:：!！)）\]*_$]*(?:%|(?:[^\W\d_]|[²³°]){1,15}(?:\s+(?:[^\W\d_]|[²³]){1,15}){0,2})?[\s.。!！।*_$]*$")
_LATEX_CMD = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}(?:\{[^{}]*\})?|\\(?:text|textbf|textit|textrm|textnormal|mbox|mathrm|mathbf|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")
_NO_ANSWER = {"error", "none", "null", "nan", "n/a", "na", "timeout", "unknown", "no answer", "empty", "failed"}
_WORDS_OK = {"and", "or", "percent", "percentage", "pct", "units", "unit", "degrees", "degree", "square", "cubic",
             "feet", "foot", "meters", "meter", "cm", "km", "mm", "inches", "inch", "miles", "mile", "dollars",
             "dollar", "cents", "cent", "hours", "hour", "minutes", "minute", "seconds", "second", "days", "day",
             "years", "year", "kg", "grams", "gram", "liters", "litres", "yuan", "euros", "pounds", "pi", "sqrt",
             "inf", "infty", "mod", "pmod", "sin", "cos", "tan", "log", "ln", "exp"}


@dataclass
class Extraction:
    """What a reply's final answer is, which rule found it, and every candidate that rule saw.

    `at_end` says nothing but punctuation or a unit follows the answer; `sentence_values` holds the distinct
    numbers of the final sentence when no marker (box, 'the answer is') says which of them is the answer.
    """

    answer: str | None
    rule: str
    candidates: list[str] = field(default_factory=list)
    at_end: bool = False
    sentence_values: list[str] = field(default_factory=list)


def _brace_pairs(text: str) -> dict[int, int]:
    """The position of the matching '}' for every '{' (one pass; unclosed braces run to the end)."""
    pairs, stack = {}, []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
    for i in stack:
        pairs[i] = len(text)
    return pairs


def find_boxes(text: str) -> list[tuple[int, int, str]]:
    """Every \\boxed{..} / \\fbox{..} / '\\boxed 5' in order, as (start, end, content), braces balanced."""
    out: list[tuple[int, int, str]] = []
    pairs: dict[int, int] | None = None
    pos = 0
    while True:
        m = _BOX_CMD.search(text, pos)
        if not m:
            return out
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            if pairs is None:
                pairs = _brace_pairs(text)
            j = pairs.get(i, len(text))
            out.append((m.start(), min(j + 1, len(text)), text[i + 1 : j].strip()))
            pos = j + 1
        else:
            tok = re.match(r"[^\s$\\,.;]+", text[i : i + 200])
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
    if core in _BOX_CONNECTORS or re.fullmatch(r"[^\w\u4e00-\u9fff]{1,12}", core):
        return True
    # "for part (a) and": a short English phrase ending in a joiner, never Chinese prose between answers
    return len(core) <= 30 and not re.search(r"[\u4e00-\u9fff\d]", core) and bool(re.search(r"(?:and|or|,)$", core))


_SPECIAL_TOKEN = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|end_of_text|start_header_id)\|>|</s>")


def strip_code(text: str) -> str:
    """The reply without code blocks, and without what a model wrote after a chat template's end token."""
    m = _SPECIAL_TOKEN.search(text)
    if m and text[: m.start()].strip():
        text = text[: m.start()]
    return _FENCE_CODE.sub(" ", text)


def _segment(m: re.Match) -> str:
    return next(g for g in m.groups() if g is not None).strip()


def _phrase_answer(phrase: str) -> str | None:
    """The answer inside an 'answer is ...' phrase: its math segment, its only number, or its first clause."""
    phrase = phrase[:400].strip()
    first = re.split(r"(?<!\d)[.。;；!?](?!\d)|\n", phrase, maxsplit=1)[0]
    is_tail = re.search(r"\s(?:is|are|equals)\s+(?P<v>[^\s].{0,40})$", first)
    if is_tail and re.search(r"\d|\\", is_tail.group("v")) and not numbers_in(_MATH_SEGMENT.sub(" ", first[: is_tail.start()])):
        phrase = is_tail.group("v")  # "The largest $n$ is 34": the value after the verb
    seg = _MATH_SEGMENT.search(phrase)
    if seg and seg.start() < 40:
        parts = [_segment(seg)]
        pos = seg.end()
        while True:  # "$12$ and $13$" is one answer of two parts
            nxt = re.match(r"\s*(?:,|and|or|和|或)\s*", phrase[pos:])
            seg2 = _MATH_SEGMENT.match(phrase, pos + nxt.end()) if nxt else None
            if not seg2:
                break
            parts.append(_segment(seg2))
            pos = seg2.end()
        tail = phrase[pos:].split("\n", 1)[0]
        unit = re.match(r"[ \t]*(%|percent\b|pct\b)", tail)
        return ", ".join(parts) + (f" {unit.group(1)}" if unit and len(parts) == 1 else "")
    clause = re.split(r"(?<!\d)[.。;；](?!\d)|\n|，|,\s(?=[A-Za-z])|\s(?:because|since|as|which)\s", phrase, maxsplit=1)[0]
    clause = clause.strip().strip("*").strip()
    nums = _NUMBER_TOKEN.findall(clause)
    if len(nums) > 1 and not re.search(r"[\\^=()\[\]+*/×÷]", clause) and not _HEDGE_WORDS.search(clause) \
            and not re.fullmatch(r"[-−\d\s,;.%]+(?:\b(?:and|or)\b[-−\d\s,;.%]+)?", clause):
        nums = nums[:1]  # "Janeth aura encore 220 $ à payer d'ici 12 mois": the value the phrase states first
    if len(nums) == 1 and not re.search(r"[\\^=()\[\]]", clause):
        scaled = re.search(re.escape(nums[0].strip()) + r"\s*(?:thousand|million|billion|trillion|万|亿)", clause)
        return scaled.group(0) if scaled else _canonical_number(nums[0])
    if re.search(r"[\u4e00-\u9fff\u3040-\u30ff]", clause):
        # "每份应该是 (\frac{2}{5}) 吨": the one piece of mathematics between the Chinese or Japanese words
        pieces = [p.strip() for p in re.split(r"[\u4e00-\u9fff\u3040-\u30ff：:，]+", clause) if re.search(r"\d|\\", p)]
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
        for m in reversed(matches[-20:]):
            ans = _phrase_answer(body[m.end() :])
            if ans and (re.search(r"\d|\\", ans) or (len(ans) <= 20 and not after)):
                return Extraction(ans, "answer-is", [ans], at_end=True)
    return None


def _trails(rest: str) -> bool:
    """Whether what follows an answer is only punctuation, closing marks, a percent word or a short unit."""
    return len(rest) <= 40 and bool(_TRAILER.match(rest))


def _last_math(body: str) -> Extraction | None:
    """The last LaTeX math segment of the reply when no number follows it ('... we find that $x \\lt 3$.')."""
    segs = list(_MATH_SEGMENT.finditer(body))
    for m in reversed(segs[-50:]):
        content = _segment(m)
        words = re.sub(r"\\(?:begin|end)\{\w+\*?\}(?:\{[^{}]*\})?|\\[A-Za-z]+", " ", content)
        if not content or re.search(r"[A-Za-z]{3,}", words) or not re.search(r"[\d\\<>=]", content):
            continue
        rest = body[m.end() :]
        if numbers_in(_MATH_SEGMENT.sub(" ", rest)):
            return None  # a plain number comes later; the last-number rule decides
        return Extraction(content, "last-math", [content], at_end=_trails(rest))
    return None


def _canonical_number(token: str) -> str:
    """A number token in plain form: '1 000' -> '1000', '1000,99' -> '1000.99'; '1,080' keeps its commas."""
    t = plain_spaces(token).strip()
    if re.fullmatch(r"[-−]?\d{1,3}(?: \d{3})+(?:\.\d+)?(?:\s*%)?", t):
        t = t.replace(" ", "")
    m = re.fullmatch(r"([-−]?)(\d+),(\d+)(\s*%)?", t)
    if m and not (len(m.group(3)) == 3 and len(m.group(2)) <= 3 and not m.group(2).startswith("0")):
        t = f"{m.group(1)}{m.group(2)}.{m.group(3)}{m.group(4) or ''}"
    return t


def numbers_in(text: str) -> list[str]:
    return [_canonical_number(n) for n in _NUMBER_TOKEN.findall(text)]


def distinct_values(values: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v.replace(",", "").rstrip("%").strip().removesuffix(".0"), None)
    return list(seen)


def _whole_expression(body: str) -> Extraction | None:
    """The reply itself when it is one expression ('\\frac{10}{9}', '1 000', '$28$ %', '$E$'), else None."""
    s = body.strip()
    if not s or len(s) > 600 or _BOX_CMD.search(s):
        return None
    segs = list(_MATH_SEGMENT.finditer(s))
    if len(segs) > 1:
        return None
    if segs:
        m = segs[0]
        before, rest = s[: m.start()], s[m.end() :]
        if before.strip() or not _trails(rest):
            return None
        content = _segment(m)
        unit = rest.strip(" \t\n.。!*_$")
        answer = f"{content} {unit}".strip() if unit and unit != "%" else content + (" %" if unit == "%" else "")
        return Extraction(answer, "whole", [answer], at_end=True) if answer else None
    if "\n" in s.strip() or re.search(r"(?![A-Za-zα-ωΑ-Ωπθ])[^\W\d_]", _LATEX_CMD.sub(" ", s)):
        return None  # a line break, or letters of a script in which the answer would be prose
    words = re.findall(r"[A-Za-z]{2,}", _LATEX_CMD.sub(" ", s))
    if re.search(r"\d", s):
        if any(w.lower() not in _WORDS_OK for w in words):
            return None
    elif (len(words) > 6 or len(s) > 60 or re.search(r"[.!?;:]\s+\S|[()\[\]=<>'\"`]", s)
          or s.lower().strip(" .!") in _NO_ANSWER):
        return None
    answer = s.rstrip(" .。")
    return Extraction(answer, "whole", [answer], at_end=True) if answer else None


def extract_answer(text: str | None) -> Extraction:
    """The final answer of a full model reply: last \\boxed, '####', the reply itself when it is one expression,
    'the answer is', a concluding sentence, the last math, the last number."""
    if not text or not text.strip():
        return Extraction(None, "none", [])
    body = strip_code(str(text)[-MAX_TEXT:])
    boxes = [b for b in find_boxes(body) if b[2]]
    late = _answer_is(body, after=boxes[-1][1]) if boxes else None
    if late is not None:
        return late  # "Final Answer: ..." written after the last box restates the answer
    if boxes:
        group = _final_box_group(body, boxes)
        answer = ", ".join(group) if len(group) > 1 else group[-1]
        return Extraction(answer, "boxed", [b[2] for b in boxes], at_end=True)
    hashes = _HASH_RE.findall(body)
    if hashes:
        return Extraction(hashes[-1].strip(), "gsm8k-hash", [h.strip() for h in hashes], at_end=True)
    whole = _whole_expression(body)
    if whole is not None:
        return whole
    found = _answer_is(body)
    if found is not None:
        return found
    bold = _bold(body)
    if bold is not None:
        return bold
    concl = _conclusion(body)
    if concl is not None:
        return concl
    math = _last_math(body)
    if math is not None:
        return math
    tokens = list(_NUMBER_TOKEN.finditer(body))
    if tokens:
        nums = [_canonical_number(t.group(0)) for t in tokens[-3:]]
        sentence = _final_sentence(body)
        return Extraction(nums[-1], "last-number", nums, at_end=_trails(body[tokens[-1].end() :]),
                          sentence_values=_sentence_values(sentence, nums[-1]))
    return Extraction(None, "none", [])


_HEDGE_WORDS = re.compile(r"\b(?:or|maybe|perhaps|possibly|probably|either|between)\b|或|还是|可能|也许|大概", re.I)
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")


def _bold(body: str) -> Extraction | None:
    """A value the reply's last sentence sets in bold ('... 是 **66**.'), with no number after it."""
    found = list(_BOLD.finditer(body[-600:]))
    if not found:
        return None
    m = found[-1]
    rest = body[-600:][m.end() :]
    inner = m.group(1).strip()
    if not re.search(r"\d", inner) or numbers_in(rest) or "\n\n" in rest:
        return None
    nums = numbers_in(_MATH_SEGMENT.sub(" ", inner))
    answer = _segment(_MATH_SEGMENT.search(inner)) if _MATH_SEGMENT.search(inner) else (nums[-1] if len(nums) == 1 else inner)
    return Extraction(answer, "bold", [answer], at_end=True)


def _final_sentence(body: str) -> str:
    """The reply's last sentence that holds a number."""
    parts = re.split(r"[。！？!?।\n]|\.(?!\d)(?=\s|$)", body[-2000:])
    for part in reversed(parts):
        if re.search(r"\d", part):
            return part
    return ""


_COPULA = re.compile(r"(?:['’]s\b|\b(?:is|are|was|were|equals|be|becomes|comes to|totals?|of)|=|＝|是|为|為|等于|共|は|[:：])"
                     r"\s*(?:about|approximately|exactly|only|just|now|then|约|大约|一共|总共|共)?\s*[$¥￥€£]?\s*$", re.I)


def _sentence_values(sentence: str, chosen: str) -> list[str]:
    """The distinct numbers of an unmarked final sentence; only the chosen one when the sentence marks it as its
    result ('5 + 3 = 8 apples', '... the probability is 2/3', '总数是80块')."""
    plain = _MATH_SEGMENT.sub(lambda m: " " + _segment(m) + " ", sentence)
    tokens = list(_NUMBER_TOKEN.finditer(plain))
    if not tokens:
        return [chosen]
    if _COPULA.search(plain[max(0, tokens[-1].start() - 40) : tokens[-1].start()]):
        return [chosen]
    last_eq = max(plain.rfind("="), plain.rfind("＝"))
    if last_eq >= 0 and len(numbers_in(plain[last_eq:])) == 1:
        return [chosen]
    return distinct_values([_canonical_number(t.group(0)) for t in tokens])


def _conclusion(body: str) -> Extraction | None:
    """The value in the last concluding sentence ('因此，需要3辆卡车', 'So she pays $18.')."""
    lines = [m.start() for m in re.finditer(r"(?m)^.*\S.*$", body[-4000:])]
    offset = max(0, len(body) - 4000)
    tail_start = offset + (lines[-2] if len(lines) >= 2 else 0)  # a concluding sentence sits in the last two lines
    starts = [m for m in _CONCLUSION_START.finditer(body, max(0, tail_start - 1)) if m.end() >= tail_start]
    for m in reversed(starts):
        rest = body[m.end() :]
        sentence = re.split(r"[。！？!?।\n]|\.(?!\d)(?=\s|$)", rest, maxsplit=1)[0]
        segs = [_segment(s) for s in _MATH_SEGMENT.finditer(sentence)]
        segs = [s for s in segs if re.search(r"\d", s)]
        plain = _MATH_SEGMENT.sub(" ", sentence)
        nums = numbers_in(plain)
        rule = "chinese-conclusion" if m.group("zh") else "conclusion"
        after = rest[len(sentence) :]
        at_end = not re.search(r"\d", after)
        if segs:
            values = [segs[-1]] if len(segs) == 1 and not nums else distinct_values(segs + nums)
            return Extraction(segs[-1], rule, segs + nums, at_end=at_end, sentence_values=values)
        if nums:
            return Extraction(nums[-1], rule, nums, at_end=at_end, sentence_values=_sentence_values(sentence, nums[-1]))
    return None


def extract_gold(reference: str | None) -> str | None:
    """The gold answer of a reference: GSM8K '#### 1,080' -> '1080', a MATH solution -> its last box, a worked
    solution -> its 'the answer is', else itself."""
    if reference is None:
        return None
    text = str(reference).strip()[-MAX_TEXT:]
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
    if len(text) > 120 and re.search(r"[A-Za-z\u4e00-\u9fff]{3,}\s", text):
        found = _answer_is(text)
        if found is not None and found.answer:
            return found.answer
    return text
