"""What a LLaMA-Factory run says: trainer_log.jsonl read incrementally, console metric dicts, checkpoints, results."""

from __future__ import annotations

import ast
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mathbench.core.jobs.logtail import IncrementalReader, tail_file
from mathbench.core.jobs.registry import Progress, format_duration

TRAINER_LOG = "trainer_log.jsonl"
RUNNING_LOG = "running_log.txt"

# ---------------------------------------------------------------- trainer_log.jsonl


def parse_hms(text: Any) -> float | None:
    """LLaMA-Factory's str(timedelta) ("0:09:01", "1 day, 2:03:04") as seconds; None when unreadable."""
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    m = re.match(r"^\s*(?:(-?\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$", text)
    if not m:
        return None
    days = int(m.group(1) or 0)
    return days * 86400 + int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))


def smooth(values: list[float], weight: float | None = None) -> list[float]:
    """Exponential moving average; by default with LLaMA-Factory's plot_loss weight, which grows with the series."""
    if not values:
        return []
    if weight is None:
        weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    last = values[0]
    out = []
    for v in values:
        last = last * weight + (1 - weight) * v
        out.append(last)
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v) if math.isfinite(v) else None
    return None


def _append_point(series: list[tuple[float, float]], step: float, value: float) -> None:
    # A resumed run appends steps that go back: the newer run replaces the overlapping tail.
    while series and series[-1][0] >= step:
        series.pop()
    series.append((step, value))


@dataclass
class TrainProgress:
    """What trainer_log.jsonl says so far: progress, timing and the metric series (x = step)."""

    step: int | None = None
    total: int | None = None
    epoch: float | None = None
    percentage: float | None = None
    elapsed: float | None = None
    remaining: float | None = None
    loss: float | None = None
    lr: float | None = None
    eval_loss: float | None = None
    throughput: float | None = None
    total_tokens: int | None = None
    accuracy: float | None = None
    reward: float | None = None
    vram_allocated: float | None = None  # GiB, peak (RECORD_VRAM=1)
    vram_reserved: float | None = None
    losses: list[tuple[float, float]] = field(default_factory=list)
    lrs: list[tuple[float, float]] = field(default_factory=list)
    eval_losses: list[tuple[float, float]] = field(default_factory=list)
    throughputs: list[tuple[float, float]] = field(default_factory=list)
    records: int = 0
    errors: list[str] = field(default_factory=list)
    updated: float | None = None
    ended: bool = False  # the run is over: all_results.json written, or its job ended

    @property
    def stopped_early(self) -> bool:
        """Ended before its last step (a SIGABRT stop exits 0 and says nothing about it)."""
        return self.ended and self.step is not None and bool(self.total) and self.step < (self.total or 0)

    @property
    def eta(self) -> float | None:
        """Seconds left while the run goes on; None once it ended (the last record keeps a stale remaining_time)."""
        if self.ended or self.remaining is None or (self.percentage or 0) >= 100:
            return None
        return self.remaining

    @property
    def phase(self) -> str:
        """Where the run stands, in words: loading the model, training, stopped at step N/M, finished."""
        if self.stopped_early:
            return f"stopped at step {self.step}/{self.total}"
        if self.ended:
            return "finished" if self.step is not None else "ended before the first step"
        if self.step is None:
            return "loading the model"
        return "training"

    @property
    def smoothed_losses(self) -> list[tuple[float, float]]:
        return list(zip([s for s, _ in self.losses], smooth([v for _, v in self.losses])))

    @property
    def loss_ema(self) -> float | None:
        sm = self.smoothed_losses
        return sm[-1][1] if sm else None

    @property
    def fraction(self) -> float | None:
        if self.percentage is not None:
            return max(0.0, min(1.0, self.percentage / 100))
        if self.step is not None and self.total:
            return self.step / self.total
        return None

    def as_progress(self) -> Progress:
        parts = []
        if self.stopped_early or self.step is None:
            parts.append(self.phase)
        else:
            parts.append(f"{self.step}/{self.total or '?'}")
            if self.percentage is not None:
                parts.append(f"{self.percentage:.0f}%")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.eta is not None:
            parts.append(f"ETA {format_duration(self.eta)}")
        return Progress(self.step, self.total, " ".join(parts))

    def to_dict(self) -> dict:
        return {
            "step": self.step, "total": self.total, "epoch": self.epoch, "percentage": self.percentage,
            "elapsed": self.elapsed, "remaining": self.remaining, "loss": self.loss, "loss_ema": self.loss_ema,
            "lr": self.lr, "eval_loss": self.eval_loss, "throughput": self.throughput,
            "total_tokens": self.total_tokens, "accuracy": self.accuracy, "reward": self.reward,
            "vram_allocated": self.vram_allocated, "vram_reserved": self.vram_reserved,
            "records": self.records, "errors": self.errors, "ended": self.ended, "eta": self.eta,
            "phase": self.phase, "stopped_early": self.stopped_early,
        }


class TrainerLog:
    """Incremental reader of trainer_log.jsonl: call poll() on a timer; it reads only the new bytes."""

    def __init__(self, path: str | Path):
        p = Path(path)
        self.path = p / TRAINER_LOG if p.is_dir() or p.suffix != ".jsonl" else p
        self._reader = IncrementalReader(self.path)
        self.progress = TrainProgress()

    def poll(self) -> list[dict]:
        """Read what was appended since the last call, update `progress`, and return the new records."""
        new = []
        start_no = self._reader.line_no
        for i, line in enumerate(self._reader.read_lines(), start_no + 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                self.progress.errors.append(f"{self.path}:{i}:{exc.colno}: bad JSON: {exc.msg}")
                continue
            if not isinstance(rec, dict):
                self.progress.errors.append(f"{self.path}:{i}: not a JSON object")
                continue
            self._apply(rec)
            new.append(rec)
        if new:
            self.progress.updated = time.time()
        return new

    def _apply_loss_from(self, lines: list[str]) -> None:
        for line in reversed(lines):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            loss = _num(rec.get("loss")) if isinstance(rec, dict) else None
            if loss is not None:
                self.progress.loss = loss
                return

    def _apply(self, rec: dict) -> None:
        p = self.progress
        p.records += 1
        step = _num(rec.get("current_steps"))
        if step is not None:
            p.step = int(step)
        total = _num(rec.get("total_steps"))
        if total is not None:
            p.total = int(total)
        for attr, key in (("epoch", "epoch"), ("percentage", "percentage")):
            v = _num(rec.get(key))
            if v is not None:
                setattr(p, attr, v)
        el, rem = parse_hms(rec.get("elapsed_time")), parse_hms(rec.get("remaining_time"))
        if el is not None:
            p.elapsed = el
        if rem is not None:
            p.remaining = rem
        x = float(p.step or 0)
        for attr, series, key in (("loss", p.losses, "loss"), ("lr", p.lrs, "lr"),
                                  ("eval_loss", p.eval_losses, "eval_loss"),
                                  ("throughput", p.throughputs, "throughput")):
            v = _num(rec.get(key))
            if key == "lr" and v is None:
                v = _num(rec.get("learning_rate"))  # the 2023 format
            if v is not None:
                setattr(p, attr, v)
                _append_point(series, x, v)
        tok = _num(rec.get("total_tokens"))
        if tok is not None:
            p.total_tokens = int(tok)
        for key in ("accuracy", "reward", "vram_allocated", "vram_reserved"):
            v = _num(rec.get(key))
            if v is not None:
                setattr(p, key, v)


def read_trainer_log(path: str | Path) -> TrainProgress:
    """The whole trainer_log.jsonl (or the one in an output dir) read at once."""
    log = TrainerLog(path)
    log.poll()
    return log.progress


def last_progress(output_dir: str | Path, *, ended: bool = False) -> Progress | None:
    """Progress from the last complete line of trainer_log.jsonl, read from the file's end (cheap for lists).

    *ended* says the run's job is over; a written all_results.json says so too. None before the first record.
    """
    d = Path(output_dir)
    path = d / TRAINER_LOG
    for line in reversed(tail_file(path, 3)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            log = TrainerLog(path)
            log._apply(rec)
            if log.progress.loss is None:
                log._apply_loss_from(tail_file(path, 3))
            log.progress.ended = ended or (d / "all_results.json").is_file()
            return log.progress.as_progress()
    return None


def parse_console_metrics(line: str) -> dict | None:
    """The HF Trainer's printed log dict (`{'loss': ..., 'grad_norm': ...}`), the only live grad_norm source."""
    s = line.strip()
    i = s.find("{'")
    if i < 0 or not s.endswith("}"):
        return None
    try:
        d = ast.literal_eval(s[i:])
    except (ValueError, SyntaxError):
        return None
    if not isinstance(d, dict):
        return None
    out = {}
    for k, v in d.items():
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[str(k)] = float(v)
    return out or None


# ---------------------------------------------------------------- output dir


@dataclass
class Checkpoint:
    """A checkpoint-N folder."""

    step: int
    path: Path
    mtime: float
    complete: bool


def find_checkpoints(output_dir: str | Path) -> list[Checkpoint]:
    """The checkpoint-N folders of an output dir, by step; complete once trainer_state.json is written."""
    out = []
    d = Path(output_dir)
    if not d.is_dir():
        return out
    for p in d.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and p.is_dir():
            out.append(Checkpoint(int(m.group(1)), p, p.stat().st_mtime, (p / "trainer_state.json").is_file()))
    return sorted(out, key=lambda c: c.step)


@dataclass
class TrainStatus:
    """A training output dir at a glance (works for runs started elsewhere)."""

    output_dir: Path
    progress: TrainProgress
    checkpoints: list[Checkpoint]
    finished: bool
    results: dict


def training_status(output_dir: str | Path, log: TrainerLog | None = None) -> TrainStatus:
    """Progress, checkpoints and final results of an output dir; pass *log* to read incrementally."""
    d = Path(output_dir)
    log = log or TrainerLog(d / TRAINER_LOG)
    log.poll()
    results = {}
    res_path = d / "all_results.json"
    if res_path.is_file():
        try:
            results = json.loads(res_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            results = {}
    log.progress.ended = log.progress.ended or res_path.is_file()
    return TrainStatus(d, log.progress, find_checkpoints(d), res_path.is_file(), results)
