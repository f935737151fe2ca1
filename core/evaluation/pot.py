"""The Program-of-Thought protocol: prompts, code-block extraction, observation turns and the solve loop."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mathbench.core.resources import PROMPTS_DIR



# An opening fence tagged python/py/python3 (any case); the block ends at the next fence or the text's end.
_CODE_OPEN_RE = re.compile(r"```[ \t]*(?:python3?|py)\b[^\n]*\n?", re.I)
_CODE_CLOSE = "```"


class Unanswered(Exception):
    """The model could not be asked at all (every endpoint down): the solve is dropped, not recorded as an error."""


@dataclass(frozen=True)
class PromptTemplate:
    """How problems and code outputs are put to the model."""

    name: str
    system: str | None
    user: str = "{question}"
    observation_role: str = "user"
    observation: str = "```\n{output}\n```"
    observation_error: str = "```\n{output}\n```"
    observation_timeout: str = "timed out after {timeout} seconds"
    empty_output: str = "(no output)"
    error_tail_lines: int = 8

    def to_dict(self) -> dict:
        return asdict(self)

    def initial_messages(self, question: str, examples: list[dict] | None = None) -> list[dict]:
        """The system turn (if any), few-shot example turns (if any) and the problem turn."""
        messages: list[dict] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.extend(dict(m) for m in examples or [])
        messages.append({"role": "user", "content": self.user.replace("{question}", question)})
        return messages


def available_prompts() -> list[str]:
    """Names of the shipped prompt templates."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


def load_prompt(name: str | Path = "zh") -> PromptTemplate:
    """A shipped template by name ("zh", "en") or a YAML file by path."""
    import yaml

    path = Path(name)
    if not path.suffix and not path.exists():
        path = PROMPTS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"prompt {name!r} not found (shipped: {', '.join(available_prompts())})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ValueError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}:1: a prompt file must be a mapping")
    known = {f.name for f in fields(PromptTemplate)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown prompt keys {unknown}; known: {sorted(known)}")
    data.setdefault("name", path.stem)
    return PromptTemplate(**data)


def extract_code(text: str) -> str | None:
    """The first ```python / ```py block (an unterminated one runs to the end); None when absent or empty."""
    if not text:
        return None
    for match in _CODE_OPEN_RE.finditer(text):
        start = match.end()
        end = text.find(_CODE_CLOSE, start)
        code = text[start:] if end < 0 else text[start:end]
        if code.strip():
            return code.strip("\n")
    return None


def _get(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


def error_tail(result: Any, n_lines: int = 8) -> str:
    """The last lines of a failed block's stderr (its traceback tail, as a person would see it)."""
    method = getattr(result, "error_tail", None)
    if callable(method):
        try:
            return method(n_lines=n_lines)
        except TypeError:
            return method(n_lines)
    lines = (_get(result, "stderr", "") or "").rstrip().splitlines()
    return "\n".join(lines[-n_lines:])


def observation_text(result: Any, template: PromptTemplate, timeout: float | None = None) -> str:
    """What the model is shown after its block ran: stdout, or the traceback tail, or a timeout note."""
    status = _get(result, "status", "ok")
    stdout = (_get(result, "stdout", "") or "").rstrip("\n")
    if status == "timeout":
        shown = f"{timeout:g}" if timeout else "?"
        return template.observation_timeout.replace("{timeout}", shown)
    if status in ("error", "killed"):
        tail = error_tail(result, template.error_tail_lines) or f"process {status}"
        output = f"{stdout}\n{tail}" if stdout else tail
        return template.observation_error.replace("{output}", output)
    return template.observation.replace("{output}", stdout if stdout else template.empty_output)


def observation_message(result: Any, template: PromptTemplate, timeout: float | None = None) -> dict:
    """The observation turn (a user turn by default) for one executed block."""
    return {"role": template.observation_role, "content": observation_text(result, template, timeout)}


@dataclass
class PotTrace:
    """Everything one PoT solve did: every turn, every execution, the final reply."""

    messages: list[dict]
    executions: list[dict] = field(default_factory=list)
    final_text: str = ""
    rounds: int = 0
    error: str | None = None
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    latency: float = 0.0
    endpoint: str | None = None
    attempts: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


ChatFn = Callable[[list[dict]], Awaitable[Any]]
RunCodeFn = Callable[[str, float], Awaitable[Any]]


async def solve(
    problem: str,
    chat: ChatFn,
    run_code: RunCodeFn,
    *,
    template: PromptTemplate,
    max_rounds: int = 1,
    code_timeout: float = 10.0,
    examples: list[dict] | None = None,
) -> PotTrace:
    """Ask, run the reply's code, show the output, repeat up to max_rounds blocks; the last reply is final.

    A chat failure is recorded in trace.error (the turns so far are kept) and not raised; Unanswered
    (no endpoint to ask) is raised, since the problem was never really put to the model.
    """
    messages = template.initial_messages(problem, examples)
    trace = PotTrace(messages=messages)
    for round_no in range(max_rounds + 1):
        try:
            reply = await chat(list(messages))
        except Unanswered:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed item is data, not a crash
            trace.error = str(exc) or type(exc).__name__
            return trace
        _account(trace, reply)
        text = reply.text if hasattr(reply, "text") else str(reply)
        messages.append({"role": "assistant", "content": text})
        code = extract_code(text)
        if code is None or round_no == max_rounds:
            trace.final_text = text
            return trace
        started = time.monotonic()
        result = await run_code(code, code_timeout)
        trace.executions.append({
            "code": code,
            "stdout": _get(result, "stdout", ""),
            "stderr": _get(result, "stderr", ""),
            "status": _get(result, "status", "ok"),
            "duration": _get(result, "duration", time.monotonic() - started),
        })
        trace.rounds += 1
        messages.append(observation_message(result, template, code_timeout))
    return trace


def _account(trace: PotTrace, reply: Any) -> None:
    usage = getattr(reply, "usage", None) or {}
    for key in ("prompt_tokens", "completion_tokens"):
        trace.usage[key] = (trace.usage.get(key) or 0) + (usage.get(key) or 0)
    trace.latency += float(getattr(reply, "latency", 0.0) or 0.0)
    trace.endpoint = getattr(reply, "endpoint", trace.endpoint)
    trace.attempts += int(getattr(reply, "attempts", 1) or 1)
