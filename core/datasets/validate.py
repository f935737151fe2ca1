"""Validate SFT items: LLaMA-Factory's role rules, and re-running each item's code against its recorded output.

For every item:
  schema   the rules LLaMA-Factory applies silently (a leading system turn is lifted out; then
           human/observation at even positions, gpt/function_call at odd ones; an even, non-zero count),
           each violation named with the turn index and the reason.
  code     each gpt turn's first ```python block runs in the sandbox; its stdout is compared with the
           recorded output in the next (human/observation) turn: match | mismatch | error | timeout,
           or no_code; a block with no recorded output after it is `unchecked` when it runs fine.
  answer   the final reply's answer (core.answers) checked against the executed output (core.grading):
           consistent | inconsistent | unknown.
Results are cached by content hash (SQLite), so re-validating unchanged items costs no execution.

    report = validate_dataset(Dataset.load(path), on_progress=lambda done, total: ...)
    report.summary()   # {"items", "schema_errors", "code_match", "code_mismatch", "code_error", ...}
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mathbench.core.datasets.items import Dataset, Turn, detect_format, item_turns

# Bump CHECK_VERSION when the judging rules change (cached item checks go stale), EXEC_VERSION when
# the way code runs changes (cached executions go stale).
CHECK_VERSION = 9
EXEC_VERSION = 1
CODE_STATUSES = ("match", "mismatch", "error", "timeout", "no_code", "unchecked")
# Worst first: an item's code status is the worst of its rounds.
_SEVERITY = {"timeout": 0, "error": 1, "mismatch": 2, "unchecked": 3, "match": 4}
_USER_SIDE = ("human", "observation")
_BOT_SIDE = ("gpt", "function_call")
# A language tag counts only when the fence line holds nothing else: "```Preston got 5```" is all output.
_FENCE = re.compile(r"```(?:[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n)?(.*?)```", re.DOTALL)
_NUM = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


# ------------------------------------------------------------------------------------------------ results


@dataclass
class RoundCheck:
    """One code block of an item: what ran, what it printed, how that compares with the recorded output."""

    turn: int
    code_hash: str
    status: str  # the sandbox status: ok | error | timeout | killed
    stdout: str
    error_tail: str
    recorded: str | None
    result: str  # match | mismatch | error | timeout | unchecked
    how: str = ""  # exact | whitespace | numeric, or why it mismatched
    duration: float = 0.0


@dataclass
class ItemCheck:
    """Everything the validator found about one item."""

    index: int
    line: int | None
    schema_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    code_status: str = "no_code"
    rounds: list[RoundCheck] = field(default_factory=list)
    answer: str | None = None
    answer_rule: str = "none"
    answer_status: str = "unknown"  # consistent | inconsistent | unknown
    answer_reason: str = ""
    cached: bool = False

    @property
    def valid(self) -> bool:
        """Fit for training: LLaMA-Factory keeps it, its code reproduces, its answer agrees with the output."""
        return (not self.schema_errors and self.code_status in ("match", "no_code", "unchecked")
                and self.answer_status != "inconsistent")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["valid"] = self.valid
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ItemCheck":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["rounds"] = [RoundCheck(**r) for r in d.get("rounds", [])]
        return cls(**d)


@dataclass
class ValidationReport:
    """All item checks of one validation, with timing and cache use."""

    path: str | None
    checks: list[ItemCheck]
    elapsed: float = 0.0
    executed: int = 0  # code blocks actually run
    cached_items: int = 0  # items answered from the cache
    cancelled: bool = False

    def summary(self) -> dict:
        """The `mathbench data validate --json` object."""
        c = self.checks
        out = {
            "items": len(c),
            "schema_errors": sum(1 for x in c if x.schema_errors),
            "code_match": sum(1 for x in c if x.code_status == "match"),
            "code_mismatch": sum(1 for x in c if x.code_status == "mismatch"),
            "code_error": sum(1 for x in c if x.code_status == "error"),
            "code_timeout": sum(1 for x in c if x.code_status == "timeout"),
            "no_code": sum(1 for x in c if x.code_status == "no_code"),
            "code_unchecked": sum(1 for x in c if x.code_status == "unchecked"),
            # Errors from a module this environment lacks (e.g. scipy), not from the item's code itself.
            "code_error_missing_module": sum(
                1 for x in c if x.code_status == "error"
                and any("ModuleNotFoundError" in r.how for r in x.rounds if r.result == "error")),
            "answer_consistent": sum(1 for x in c if x.answer_status == "consistent"),
            "answer_inconsistent": sum(1 for x in c if x.answer_status == "inconsistent"),
            "answer_unknown": sum(1 for x in c if x.answer_status == "unknown"),
            "valid": sum(1 for x in c if x.valid),
            "blocks_executed": self.executed,
            "cached_items": self.cached_items,
            "elapsed_s": round(self.elapsed, 3),
        }
        if self.path:
            out["file"] = self.path
        if self.cancelled:
            out["cancelled"] = True
        return out

    def by_status(self, status: str) -> list[ItemCheck]:
        return [x for x in self.checks if x.code_status == status]


# ------------------------------------------------------------------------------------------------ schema


def schema_errors(item: dict, fmt: str | None = None) -> list[str]:
    """Why LLaMA-Factory would skip *item* (empty when it would keep it); each reason names the turn."""
    own = detect_format(item)
    if own is None:
        return ["no 'conversations', 'messages' or alpaca 'instruction'/'output' field"]
    if fmt and own != fmt:
        return [f"item is in {own} format, the file is {fmt}"]
    if own == "alpaca":
        errs = []
        for key in ("instruction", "output"):
            if not isinstance(item.get(key), str) or not item.get(key):
                errs.append(f"'{key}' missing or not a non-empty string")
        hist = item.get("history")
        if hist is not None and (not isinstance(hist, list) or any(
                not (isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)) for p in hist)):
            errs.append("'history' must be a list of [prompt, response] string pairs")
        return errs
    key = "conversations" if own == "sharegpt" else "messages"
    raw = item.get(key)
    if not isinstance(raw, list):
        return [f"'{key}' is a {type(raw).__name__}, expected a list"]
    errs: list[str] = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            errs.append(f"turn {i}: is a {type(t).__name__}, expected an object")
    if errs:
        return errs
    turns = item_turns(item, own)
    for i, t in enumerate(raw):
        ck = "value" if "value" in t or "from" in t else "content"
        if not isinstance(t.get(ck), str):
            errs.append(f"turn {i}: '{ck}' missing or not a string")
    start = 1 if turns and turns[0].role == "system" else 0
    body = turns[start:]
    if not body:
        errs.append("no turns (besides a system prompt)")
        return errs
    for i, t in enumerate(body, start):
        pos = i - start
        allowed = _USER_SIDE if pos % 2 == 0 else _BOT_SIDE
        if t.role not in allowed:
            where = "even" if pos % 2 == 0 else "odd"
            errs.append(f"turn {i}: role {t.role!r} at an {where} position (expected {' or '.join(allowed)})")
    if len(body) % 2:
        errs.append(f"odd number of turns ({len(body)}): SFT needs each human/observation turn answered")
    return errs


def _warnings(turns: list[Turn]) -> list[str]:
    return [f"turn {i}: empty {t.role} turn" for i, t in enumerate(turns) if not t.content.strip()]


# ------------------------------------------------------------------------------------------------ outputs


def recorded_output(text: str) -> str:
    """The output an observation turn records: the fenced part(s), else the whole text."""
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() not in ("python", "py", "python3")]
    if blocks:
        return "\n".join(b.strip("\n") for b in blocks)
    return text.strip()


def _ws(text: str) -> str:
    return "\n".join(" ".join(ln.split()) for ln in text.replace("\r\n", "\n").split("\n") if ln.strip())


def _close(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def _rounds_to(full: str, shown: str) -> bool:
    """True when *shown* is *full* rounded (or cut) to the decimals *shown* has."""
    if "." not in shown or "e" in shown.lower():
        return False
    try:
        x, y = float(full), float(shown)
    except ValueError:
        return False
    step = 10.0 ** -len(shown.split(".")[1])
    return abs(x - y) <= step * (1 + 1e-9)


def compare_outputs(actual: str, recorded: str) -> tuple[bool, str]:
    """Does the executed *actual* stdout reproduce the *recorded* output? -> (same, how/why).

    Same when equal exactly, up to whitespace, or with every number within 1e-6 relative (3150 vs
    3150.0 prints the same value); otherwise the reason says what differs.
    """
    if actual.strip() == recorded.strip():
        return True, "exact"
    a, r = _ws(actual), _ws(recorded)
    if a == r:
        return True, "whitespace"
    if " ".join(a.split()) == " ".join(r.split()):
        return True, "line breaks"
    a_nums, r_nums = _NUM.findall(a), _NUM.findall(r)
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums) and all(
            x == y or _close(x, y) for x, y in zip(a_nums, r_nums)):
        return True, "numeric"
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums) and all(
            x == y or _rounds_to(x, y) for x, y in zip(a_nums, r_nums)):
        return False, "the recorded numbers are the printed ones rounded"
    if _NUM.sub("#", a) == _NUM.sub("#", r) and len(a_nums) == len(r_nums):
        x, y = next((x, y) for x, y in zip(a_nums, r_nums) if not (x == y or _close(x, y)))
        return False, f"different numbers: printed {x}, recorded {y}"
    if not a:
        return False, "the code printed nothing"
    if not r:
        return False, "the recorded output is empty"
    if r in a:
        return False, "recorded output is only part of what the code prints"
    if a_nums and r_nums and not set(r_nums) & set(a_nums) and not any(_close(x, y) for x in r_nums for y in a_nums):
        return False, "different numbers"
    return False, "different text"


# ------------------------------------------------------------------------------------------------ answers


_CAND_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?/\d+(?:\.\d+)?|[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_CHOICE = re.compile(r"^\s*[\(（]?([A-E])[\)）]?(?:[.．、:：]|\s)\s*(?P<rest>.+)$", re.DOTALL)


def _answer_candidates(stdout: str) -> list[str]:
    """What in the output could be the answer: the last line, its part after ':' / '=', the last numbers."""
    lines = [ln.strip() for ln in stdout.strip().splitlines() if ln.strip()]
    cands: list[str] = []
    if lines:
        last = lines[-1]
        cands.append(last)
        for sep in (":", "：", "=", "是", "为"):
            if sep in last:
                cands.append(last.rsplit(sep, 1)[1].strip())
    cands.extend(reversed(_CAND_NUM.findall(stdout)[-8:]))
    seen, out = set(), []
    for c in cands:
        if c and c not in seen:
            seen.add(c)
            out.append(c)
    return out


def _same_number(ans, out) -> str | None:
    """How the answer number *ans* agrees with an output number *out* (both core.normalize.Number), or None."""
    targets = [(ans.value, "")]
    if ans.percent:
        targets.append((ans.value / 100, " (as a fraction)"))
    for value, note in targets:
        if value == out.value:
            return "equal" + note
        if abs(float(value) - float(out.value)) <= 1e-6 * max(1.0, abs(float(value))):
            return "equal within 1e-6" + note
        if ans.ulp is not None and abs(value - out.value) <= ans.ulp / 2 * (1 + 1e-9):
            return f"rounded to {ans.ulp}" + note
        if ans.ulp is None and value.denominator == 1 and out.value.denominator != 1 and abs(value - out.value) < 0.5:
            return "rounded to an integer" + note
    return None


_UNSHOWN = "a non-numeric answer the output does not show verbatim"


def _answer_fast(final_text: str, stdout: str) -> tuple[str | None, str, str, str, tuple[str, str] | None]:
    """check_answer without the symbolic step: (answer, rule, status, reason, (answer, candidate) still to
    compare symbolically or None)."""
    from mathbench.core.grading import extract_answer, parse_number

    ext = extract_answer(final_text)
    if not ext.answer:
        return None, ext.rule, "unknown", "no final answer found", None
    if not stdout.strip():
        return ext.answer, ext.rule, "unknown", "the code printed nothing", None
    ans = ext.answer.strip()
    m = _CHOICE.match(ans)
    if m:
        ans = m.group("rest").strip()
    elif re.fullmatch(r"[\(（]?[A-E][\)）]?", ans):
        return ext.answer, ext.rule, "unknown", "a multiple-choice letter", None
    cands = _answer_candidates(stdout)
    num = parse_number(ans)
    if num is not None:
        out_nums = [(c, n) for c in cands if (n := parse_number(c)) is not None]
        for c, n in out_nums:
            how = _same_number(num, n)
            if how:
                return ext.answer, ext.rule, "consistent", f"output shows {c} ({how})", None
        if not out_nums:
            return ext.answer, ext.rule, "unknown", "no number in the output to compare with", None
        if out_nums[0][1].value == -num.value:
            return ext.answer, ext.rule, "inconsistent", f"sign differs: the output shows {out_nums[0][0]}", None
        last_line = stdout.strip().splitlines()[-1].strip()
        return ext.answer, ext.rule, "inconsistent", f"answer {ans} but the output ends {last_line[-80:]!r}", None
    # Symbolic comparison is slow (~0.1 s a call): only the output's final value, and only when it looks like math.
    math_like = [c for c in cands[:2] if re.search(r"[\d\\^()\[\]{}]", c)][-1:]
    return ext.answer, ext.rule, "unknown", _UNSHOWN, ((ans, math_like[0]) if math_like else None)


def _symbolic_verdict(pair: tuple[str, str], grade) -> tuple[str, str] | None:
    """(status, reason) from a grader verdict on (answer, candidate); None leaves the answer unknown."""
    if grade is not None and grade.verdict == "correct":
        return "consistent", f"output shows {pair[1]} ({grade.reason})"
    return None


def check_answer(final_text: str, stdout: str) -> tuple[str | None, str, str, str]:
    """The final reply's answer against the executed output -> (answer, rule, status, reason).

    A numeric answer is consistent when an output number equals it (or rounds to it at the answer's
    precision) and inconsistent when the output shows numbers but none agrees; other answers are
    compared with the output's final value by core.grading (symbolically); anything the two cannot be
    compared on (choice letters, intervals, words) stays unknown rather than a false alarm.
    """
    from mathbench.core.grading import shared_pool

    answer, rule, status, reason, pair = _answer_fast(final_text, stdout)
    if pair is not None:
        try:
            grade = shared_pool().submit("answer", *pair, timeout=2.0).result()
        except Exception:  # noqa: BLE001 - a grader failure leaves the answer unknown, not the run
            grade = None
        verdict = _symbolic_verdict(pair, grade)
        if verdict:
            status, reason = verdict
    return answer, rule, status, reason


# ------------------------------------------------------------------------------------------------ cache


def default_cache_path(workspace_state_dir: str | Path | None = None) -> Path:
    """Where validation results are cached: the workspace's .mathbench/cache, else ~/.cache/mathbench."""
    if workspace_state_dir is not None:
        return Path(workspace_state_dir) / "cache" / "validate.sqlite"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mathbench" / "validate.sqlite"


class ValidationCache:
    """Content-hash keyed results (SQLite): executed blocks and whole item checks. Safe across processes."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
                self._db.commit()
            except sqlite3.DatabaseError:
                # A corrupt cache only costs time: start over.
                if self._db is not None:
                    self._db.close()
                self.path.unlink(missing_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")

    def get(self, key: str) -> dict | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_many(self, pairs: Iterable[tuple[str, dict]]) -> None:
        if self._db is None:
            return
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in pairs]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", rows)
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def item_key(item: dict, fmt: str | None, timeout: float) -> str:
    """Cache key of an item's check: its content, the file's format, the timeout and the validator version."""
    return "item:" + _hash(str(CHECK_VERSION), str(fmt), f"{timeout:g}",
                           json.dumps(item, ensure_ascii=False, sort_keys=True))


def code_key(code: str, timeout: float) -> str:
    return "exec:" + _hash(str(EXEC_VERSION), f"{timeout:g}", code)


# ------------------------------------------------------------------------------------------------ validate


@dataclass
class _Plan:
    index: int
    fmt: str | None
    turns: list[Turn]
    blocks: list[tuple[int, str]]  # (gpt turn index, code)
    key: str


def _plan(index: int, item: dict, fmt: str | None, timeout: float) -> _Plan:
    from mathbench.core.evaluation.pot import extract_code

    turns = item_turns(item, detect_format(item) or fmt)
    blocks = []
    for i, t in enumerate(turns):
        if t.role in _BOT_SIDE:
            code = extract_code(t.content)
            if code and code.strip():
                blocks.append((i, code))
    return _Plan(index, fmt, turns, blocks, item_key(item, fmt, timeout))


def _judge(plan: _Plan, item: dict, line: int | None, execs: dict[str, dict],
           timeout: float) -> tuple[ItemCheck, tuple[str, str] | None]:
    """The item's check, and an (answer, output value) pair still to compare symbolically, if any."""
    check = ItemCheck(index=plan.index, line=line, schema_errors=schema_errors(item, plan.fmt),
                      warnings=_warnings(plan.turns))
    if not plan.blocks:
        return check, None
    turns = plan.turns
    last_ok_stdout = None
    for turn_idx, code in plan.blocks:
        res = execs[code_key(code, timeout)]
        nxt = turns[turn_idx + 1] if turn_idx + 1 < len(turns) else None
        recorded = recorded_output(nxt.content) if nxt is not None and nxt.role in _USER_SIDE else None
        status = res["status"]
        if status == "timeout":
            result, how = "timeout", f"no result within {timeout:g} s"
        elif status in ("error", "killed"):
            tail = res.get("error_tail") or ""
            result, how = "error", (tail.splitlines()[-1] if tail else f"process {status}")
        elif recorded is None:
            result, how = "unchecked", "no recorded output after the code"
        else:
            same, how = compare_outputs(res["stdout"], recorded)
            result = "match" if same else "mismatch"
            if not same and res.get("varies"):
                how += "; the output changes from run to run (the code is not deterministic)"
        if status == "ok":
            last_ok_stdout = res["stdout"]
        check.rounds.append(RoundCheck(turn=turn_idx, code_hash=code_key(code, timeout)[5:17], status=status,
                                       stdout=res["stdout"], error_tail=res.get("error_tail", ""),
                                       recorded=recorded, result=result, how=how,
                                       duration=res.get("duration", 0.0)))
    check.code_status = min((r.result for r in check.rounds), key=_SEVERITY.__getitem__)
    last_code_turn = plan.blocks[-1][0]
    finals = [t for t in turns[last_code_turn + 1:] if t.role == "gpt"]
    if finals and last_ok_stdout is not None:
        check.answer, check.answer_rule, check.answer_status, check.answer_reason, pair = _answer_fast(
            finals[-1].content, last_ok_stdout)
        return check, pair
    elif finals:
        from mathbench.core.grading import extract_answer

        ext = extract_answer(finals[-1].content)
        check.answer, check.answer_rule = ext.answer, ext.rule
        check.answer_reason = "the code did not run to the end"
    return check, None


def _exec_record(res) -> dict:
    return {"status": res.status, "stdout": res.stdout, "error_tail": res.error_tail(6) if res.status != "ok" else "",
            "duration": round(res.duration, 4)}


def validate_items(
    items: list[dict],
    *,
    fmt: str | None = None,
    lines: list[int] | None = None,
    timeout: float = 10.0,
    pool=None,
    cache: ValidationCache | str | Path | None = "default",
    on_item: Callable[[ItemCheck], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    path: str | None = None,
) -> ValidationReport:
    """Check every item (schema, code, answer) using all of the sandbox pool's workers.

    cache: a ValidationCache, a path, None (no cache) or "default" (~/.cache/mathbench/validate.sqlite).
    on_item is called (in the calling thread) as each item is decided, on_progress with (done, total);
    setting *stop* ends early with a partial report (cancelled=True).
    """
    from mathbench.core.sandbox.pool import default_pool

    t0 = time.monotonic()
    own_cache = not isinstance(cache, ValidationCache)
    if cache == "default":
        cache = ValidationCache(default_cache_path())
    elif not isinstance(cache, ValidationCache):
        cache = ValidationCache(cache)
    total = len(items)
    results: list[ItemCheck | None] = [None] * total
    done = 0
    cached_items = 0
    executed = 0

    def finish(check: ItemCheck) -> None:
        nonlocal done
        results[check.index] = check
        done += 1
        if on_item:
            on_item(check)
        if on_progress:
            on_progress(done, total)

    try:
        plans: list[_Plan] = []
        for i, item in enumerate(items):
            plan = _plan(i, item, fmt, timeout)
            hit = cache.get(plan.key)
            line = lines[i] if lines and i < len(lines) and lines[i] else None
            if hit is not None:
                check = ItemCheck.from_dict(hit)
                check.index, check.line, check.cached = i, line, True
                cached_items += 1
                finish(check)
            else:
                plans.append(plan)
        # Blocks shared by several items (duplicates) run once; earlier runs come from the cache.
        execs: dict[str, dict] = {}
        need: dict[str, str] = {}
        for plan in plans:
            for _, code in plan.blocks:
                k = code_key(code, timeout)
                if k in execs or k in need:
                    continue
                hit = cache.get(k)
                if hit is not None:
                    execs[k] = hit
                else:
                    need[k] = code
        # What each needed block is expected to print (a block whose output differs runs twice, to tell
        # nondeterministic code from a wrong record).
        recorded_for: dict[str, list[str]] = {}
        for plan in plans:
            for turn_idx, code in plan.blocks:
                nxt = plan.turns[turn_idx + 1] if turn_idx + 1 < len(plan.turns) else None
                if nxt is not None and nxt.role in _USER_SIDE:
                    recorded_for.setdefault(code_key(code, timeout), []).append(recorded_output(nxt.content))
        waiting: dict[str, list[_Plan]] = {}
        pending_count: dict[int, int] = {}
        for plan in plans:
            keys = {code_key(c, timeout) for _, c in plan.blocks} - set(execs)
            pending_count[plan.index] = len(keys)
            for k in keys:
                waiting.setdefault(k, []).append(plan)
        # Items waiting for a symbolic answer comparison (a separate process, warmed up once) while
        # code keeps running: future -> (plan key, check, (answer, output value)).
        grading: dict = {}

        def store_and_finish(key: str, check: ItemCheck) -> None:
            if not any(r.status == "killed" for r in check.rounds):
                stored = check.to_dict()
                stored.pop("valid", None)
                cache.put_many([(key, stored)])
            finish(check)

        def decide(plan: _Plan) -> None:
            from mathbench.core.grading import shared_pool

            line = lines[plan.index] if lines and plan.index < len(lines) else None
            check, pair = _judge(plan, items[plan.index], line, execs, timeout)
            if pair is None:
                store_and_finish(plan.key, check)
            else:
                grading[shared_pool().submit("answer", *pair, timeout=2.0)] = (plan.key, check, pair)

        def graded(fut) -> None:
            key, check, pair = grading.pop(fut)
            try:
                verdict = _symbolic_verdict(pair, fut.result())
            except Exception:  # noqa: BLE001 - a grader failure leaves the answer unknown
                verdict = None
            if verdict:
                check.answer_status, check.answer_reason = verdict
            store_and_finish(key, check)

        for plan in plans:
            if pending_count[plan.index] == 0:
                decide(plan)
        pool = (pool or default_pool()) if need else pool
        workers = max(1, getattr(pool, "size", None) or os.cpu_count() or 2)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="validate") as ex:
            todo = iter(need.items())
            running: dict = {}

            def run_block(code: str, recorded: list[str]) -> dict:
                res = pool.run(code, timeout)
                rec = _exec_record(res)
                if res.status == "ok" and any(not compare_outputs(res.stdout, r)[0] for r in recorded):
                    again = pool.run(code, timeout)
                    rec["varies"] = again.status != "ok" or again.stdout != res.stdout
                return rec

            def submit_next() -> bool:
                if stop is not None and stop.is_set():
                    return False
                try:
                    k, code = next(todo)
                except StopIteration:
                    return False
                running[ex.submit(run_block, code, recorded_for.get(k, []))] = k
                return True

            while len(running) < workers * 2 and submit_next():
                pass
            while running or grading:
                finished, _ = wait(list(running) + list(grading), return_when=FIRST_COMPLETED)
                new_cache = []
                for fut in finished:
                    if fut in grading:
                        graded(fut)
                        continue
                    k = running.pop(fut)
                    rec = fut.result()
                    execs[k] = rec
                    executed += 1
                    if rec["status"] != "killed":
                        new_cache.append((k, rec))
                    for plan in waiting.pop(k, []):
                        pending_count[plan.index] -= 1
                        if pending_count[plan.index] == 0:
                            decide(plan)
                cache.put_many(new_cache)
                if stop is not None and stop.is_set():
                    for fut in running:
                        fut.cancel()
                    running.clear()
                    for fut in list(grading):
                        fut.cancel()
                        grading.pop(fut)
                    break
                while len(running) < workers * 2 and submit_next():
                    pass
    finally:
        if own_cache:
            cache.close()
    checks = [c for c in results if c is not None]
    return ValidationReport(path=path, checks=checks, elapsed=time.monotonic() - t0, executed=executed,
                            cached_items=cached_items, cancelled=len(checks) < total)


def cached_checks(items: list[dict], *, fmt: str | None = None, timeout: float = 10.0,
                  cache: ValidationCache | None = None) -> list[ItemCheck | None]:
    """Each item's check if the cache holds it (no code runs): what a screen shows before validating."""
    cache = cache or ValidationCache(default_cache_path())
    out: list[ItemCheck | None] = []
    for i, item in enumerate(items):
        hit = cache.get(item_key(item, fmt, timeout))
        if hit is None:
            out.append(None)
            continue
        check = ItemCheck.from_dict(hit)
        check.index, check.cached = i, True
        out.append(check)
    return out


def validate_dataset(ds: Dataset, **kwargs) -> ValidationReport:
    """validate_items over a loaded Dataset (its format, its line numbers, its path in the report)."""
    kwargs.setdefault("path", str(ds.path) if ds.path else None)
    return validate_items(ds.items, fmt=ds.fmt, lines=ds.lines, **kwargs)


def validate_file(path: str | Path, **kwargs) -> ValidationReport:
    return validate_dataset(Dataset.load(path), **kwargs)
