"""LLaMA-Factory training: YAML from templates with typed overrides, the launch, and the trainer_log.jsonl reader."""

from __future__ import annotations

import ast
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mathbench.core.jobs.registry import IncrementalReader, Job, Progress, format_duration, reserve_job, start_job
from mathbench.core.resources import TEMPLATES_DIR
from mathbench.core.workspace import Workspace


TRAINER_LOG = "trainer_log.jsonl"
RUNNING_LOG = "running_log.txt"
CONFIG_NAME = "train.yaml"
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^}]*))?\}\}")
WHOLE_VALUE_RE = re.compile(r"""^(\s*[A-Za-z_][\w.-]*\s*:\s*)(["']?)\{\{\s*([A-Za-z_]\w*)\s*(?:\|([^}]*))?\}\}\2(\s*(?:#.*)?)$""")
TOP_KEY_RE = re.compile(r"^([A-Za-z_][\w.-]*)\s*:(.*)$")
FLOAT_RE = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
INT_RE = re.compile(r"^[-+]?\d+$")

# Short names the TUI and CLI use, and the LLaMA-Factory key each placeholder fills.
PLACEHOLDER_KEYS = {
    "model_path": "model_name_or_path",
    "adapter_path": "adapter_name_or_path",
    "dataset": "dataset",
    "dataset_dir": "dataset_dir",
    "output_dir": "output_dir",
    "export_dir": "export_dir",
    "epochs": "num_train_epochs",
    "lr": "learning_rate",
    "batch": "per_device_train_batch_size",
    "cutoff": "cutoff_len",
    "infer_backend": "infer_backend",
}
ALIASES = {"model": "model_path", "adapter": "adapter_path"}
TEMPLATE_DESCRIPTIONS = {
    "lora_sft": "LoRA SFT of a Qwen model on the exported PoT dataset (template qwen)",
    "full_sft": "full-parameter SFT with DeepSpeed ZeRO-3",
    "lora_sft_ds3": "LoRA SFT on several GPUs / nodes with DeepSpeed ZeRO-3",
    "merge_lora": "merge a LoRA adapter into its base model (llamafactory-cli export)",
    "inference": "llamafactory-cli api server config",
}


class ConfigError(ValueError):
    """A template or override that cannot make a valid config; the message names FILE:LINE where it can."""


# ---------------------------------------------------------------- templates


@dataclass
class Placeholder:
    """One {{name|default}} slot of a template."""

    name: str
    key: str | None
    default: str | None
    line: int

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass
class TemplateInfo:
    """A shipped LLaMA-Factory YAML template."""

    name: str
    path: Path
    description: str
    placeholders: list[Placeholder]


def template_path(config: str | Path) -> Path:
    """A template name ("lora_sft") or a path to a YAML file, as a path that exists."""
    p = Path(config).expanduser()
    if p.is_file():
        return p
    for cand in (TEMPLATES_DIR / f"{config}.yaml", TEMPLATES_DIR / str(config)):
        if cand.is_file():
            return cand
    names = ", ".join(t.name for t in list_templates())
    raise ConfigError(f"{config}: no such file or template (templates: {names})")


def list_templates() -> list[TemplateInfo]:
    """The shipped templates in configs/llamafactory, with their placeholders."""
    out = []
    for p in sorted(TEMPLATES_DIR.glob("*.yaml")):
        out.append(TemplateInfo(p.stem, p, TEMPLATE_DESCRIPTIONS.get(p.stem, ""), placeholders(p)))
    return out


def placeholders(path: str | Path) -> list[Placeholder]:
    """Every placeholder in a template, in order (auto-filled ones such as config_dir included)."""
    out, seen = [], set()
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for m in PLACEHOLDER_RE.finditer(line):
            if m.group(1) in seen:
                continue
            seen.add(m.group(1))
            out.append(Placeholder(m.group(1), PLACEHOLDER_KEYS.get(m.group(1)), m.group(2), no))
    return out


def parse_value(text: str) -> Any:
    """A command-line value typed the way YAML users expect: bool, null, int, float (1e-4 too), list, or str."""
    s = text.strip()
    low = s.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "none", "~"):
        return None
    if INT_RE.match(s):
        return int(s)
    if FLOAT_RE.match(s):
        return float(s)
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    if s[:1] in "[{":
        import yaml

        try:
            return yaml.safe_load(s)
        except yaml.YAMLError:
            return s
    return s


def parse_overrides(items: Iterable[str] | dict | None) -> dict[str, Any]:
    """`key=value` strings (or a dict) as typed overrides; a malformed item raises ConfigError."""
    if not items:
        return {}
    if isinstance(items, dict):
        return dict(items)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not re.match(r"^[A-Za-z_][\w.-]*$", key):
            raise ConfigError(f"override {item!r}: expected key=value")
        out[key] = parse_value(value)
    return out


def yaml_scalar(value: Any) -> str:
    """*value* as a YAML flow scalar that PyYAML and OmegaConf read back with the same type."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        if "e" in text:
            mant, exp = text.split("e")
            if "." not in mant:
                mant += ".0"
            if exp[0] not in "+-":
                exp = "+" + exp
            text = f"{mant}e{exp}"
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


def render_config(
    template: str | Path, values: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
) -> str:
    """The template's text with placeholders filled from *values* and top-level keys set from *overrides*.

    Comments and key order are kept; a key absent from the template is appended; an unfilled
    placeholder without a default raises ConfigError naming FILE:LINE.
    """
    path = template_path(template)
    values = {ALIASES.get(k, k): v for k, v in (values or {}).items()}
    values.setdefault("config_dir", str(path.resolve().parent))
    overrides = dict(overrides or {})
    # An override named after a placeholder (epochs=2, lr=1e-5) fills that placeholder.
    for name in list(overrides):
        canon = ALIASES.get(name, name)
        if canon in PLACEHOLDER_KEYS or canon == "config_dir":
            values[canon] = overrides.pop(name)
    out_lines: list[str] = []
    set_keys: set[str] = set()
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        km = TOP_KEY_RE.match(line)
        key = km.group(1) if km else None
        if key in overrides:
            out_lines.append(f"{key}: {yaml_scalar(overrides[key])}")
            set_keys.add(key)
            continue
        if line.lstrip().startswith("#"):
            out_lines.append(line)
            continue
        m = WHOLE_VALUE_RE.match(line)
        if m:
            prefix, _q, name, default, tail = m.groups()
            if name in values:
                value = values[name]
            elif default is not None:
                value = parse_value(default) if default.strip() else ""
            else:
                raise ConfigError(f"{path}:{no}: placeholder {{{{{name}}}}} has no value (pass {name}=...)")
            if value == "":
                continue  # an optional key left empty is left out
            out_lines.append(f"{prefix}{yaml_scalar(value)}{tail}")
            continue

        def fill(mm: re.Match) -> str:
            name, default = mm.group(1), mm.group(2)
            if name in values:
                return str(values[name])
            if default is not None:
                return default
            raise ConfigError(f"{path}:{no}: placeholder {{{{{name}}}}} has no value (pass {name}=...)")

        out_lines.append(PLACEHOLDER_RE.sub(fill, line))
    extra = [k for k in overrides if k not in set_keys]
    if extra:
        out_lines.append("")
        out_lines.append("### set on the command line")
        out_lines.extend(f"{k}: {yaml_scalar(overrides[k])}" for k in extra)
    text = "\n".join(out_lines) + "\n"
    load_config_text(text, str(path))
    return text


def load_config_text(text: str, name: str = "<config>") -> dict:
    """Parse rendered YAML into a dict; errors name FILE:LINE:COL."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ConfigError(f"{where}: bad YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: a LLaMA-Factory config must be a mapping of keys")
    return data


def load_config(path: str | Path) -> dict:
    """Read a LLaMA-Factory YAML file."""
    p = Path(path)
    return load_config_text(p.read_text(encoding="utf-8"), str(p))


# ---------------------------------------------------------------- launch


@dataclass
class TrainLaunch:
    """Everything `llamafactory-cli train` gets: its argv, environment, config file and output dir."""

    job_id: str
    argv: list[str]
    env: dict[str, str]
    config_path: Path
    output_dir: Path
    config: dict
    subcommand: str
    stop_signal: str


def _gpu_list(gpus: str | Iterable[int] | None) -> list[str]:
    if gpus is None or gpus == "":
        return []
    if isinstance(gpus, str):
        parts = [g.strip() for g in gpus.split(",") if g.strip()]
    else:
        parts = [str(g) for g in gpus]
    for g in parts:
        if not re.match(r"^(\d+|GPU-[0-9a-fA-F-]+|MIG-[\w/-]+)$", g):
            raise ConfigError(f"--gpus: {g!r} is not a GPU index or UUID")
    return parts


def prepare_training(
    workspace: Workspace,
    config: str | Path,
    overrides: Iterable[str] | dict | None = None,
    *,
    gpus: str | Iterable[int] | None = None,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
    nproc_per_node: int | None = None,
    llamaboard: bool = True,
    force_torchrun: bool | None = None,
    executable: str = "llamafactory-cli",
) -> TrainLaunch:
    """Render the config into a new job folder and build the launch command and environment.

    Placeholders not given default to: dataset_dir = the workspace's exports folder,
    output_dir = <workspace>/train/<job id>. LlamaBoard mode (running_log.txt, SIGABRT = clean stop)
    is on unless llamaboard=False.
    """
    ov = parse_overrides(overrides)
    gpu_ids = _gpu_list(gpus)
    if nnodes < 1 or not (0 <= node_rank < nnodes):
        raise ConfigError(f"--nnodes {nnodes} --node-rank {node_rank}: the rank must be in 0..nnodes-1")
    if nnodes > 1 and not master_addr:
        raise ConfigError("--master-addr is needed when --nnodes > 1 (the address of the rank-0 node)")
    tpath = template_path(config)
    if nnodes > 1 and "output_dir" not in {ALIASES.get(k, k) for k in ov} and "output_dir" in {
            p.name for p in placeholders(tpath)}:
        # Every rank writes its shards under output_dir: all nodes must name the same folder.
        raise ConfigError("with --nnodes > 1 give output_dir=... (the same path on every node)")
    job_id = reserve_job(workspace, "train")
    jdir = workspace.jobs_dir / job_id
    values: dict[str, Any] = {}
    names = {p.name for p in placeholders(tpath)}
    given = {ALIASES.get(k, k) for k in ov}
    if "dataset_dir" in names and "dataset_dir" not in given:
        values["dataset_dir"] = str(workspace.exports_dir)
    if "output_dir" in names and "output_dir" not in given:
        values["output_dir"] = str(workspace.train_dir / job_id)
    if "export_dir" in names and "export_dir" not in given:
        values["export_dir"] = str(workspace.exports_dir / "merged" / job_id)
    try:
        text = render_config(tpath, values, ov)
    except ConfigError:
        jdir.rmdir()
        raise
    cfg = load_config_text(text, str(tpath))
    for key in ("output_dir", "dataset_dir", "export_dir", "deepspeed"):
        v = cfg.get(key)
        if not isinstance(v, str) or not v or Path(v).is_absolute() or v.startswith(("ONLINE", "REMOTE:")):
            continue
        # LLaMA-Factory resolves relative paths against its cwd; pin them to the workspace.
        cfg[key] = str((workspace.root / v).resolve())
        text = _set_top_key(text, key, cfg[key])
    subcommand = "export" if "export_dir" in cfg and not cfg.get("stage") else "train"
    out_key = "export_dir" if subcommand == "export" else "output_dir"
    if not cfg.get(out_key):
        raise ConfigError(f"{tpath}: the config has no {out_key}")
    output_dir = Path(cfg[out_key])
    cfg_path = jdir / CONFIG_NAME
    cfg_path.write_text(text, encoding="utf-8")

    env: dict[str, str] = {"DISABLE_VERSION_CHECK": "1"}
    if gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpu_ids)
    multi = len(gpu_ids) > 1 or nnodes > 1 or bool(cfg.get("deepspeed"))
    if force_torchrun or (force_torchrun is None and multi and subcommand == "train"):
        env["FORCE_TORCHRUN"] = "1"
    if nnodes > 1:
        env.update(NNODES=str(nnodes), NODE_RANK=str(node_rank), MASTER_ADDR=str(master_addr),
                   MASTER_PORT=str(master_port or 29500))
    elif master_port:
        env["MASTER_PORT"] = str(master_port)
    if master_addr and nnodes == 1:
        env["MASTER_ADDR"] = str(master_addr)
    if nproc_per_node:
        env["NPROC_PER_NODE"] = str(nproc_per_node)
    stop_signal = "SIGTERM"
    if llamaboard and subcommand == "train":
        env["LLAMABOARD_ENABLED"] = "1"
        env["LLAMABOARD_WORKDIR"] = str(output_dir)
        stop_signal = "SIGABRT"
    argv = [executable, subcommand, str(cfg_path)]
    return TrainLaunch(job_id, argv, env, cfg_path, output_dir, cfg, subcommand, stop_signal)


def _set_top_key(text: str, key: str, value: Any) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = TOP_KEY_RE.match(line)
        if m and m.group(1) == key:
            lines[i] = f"{key}: {yaml_scalar(value)}"
    return "\n".join(lines) + "\n"


def start_training(workspace: Workspace, config: str | Path, overrides=None, **kwargs) -> Job:
    """Render the config and start `llamafactory-cli train` (or `export`) as a detached job."""
    launch = prepare_training(workspace, config, overrides, **kwargs)
    launch.output_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "config": str(launch.config_path),
        "template": str(template_path(config)),
        "stop_signal": launch.stop_signal,
        "subcommand": launch.subcommand,
        "model": launch.config.get("model_name_or_path"),
        "dataset": launch.config.get("dataset"),
        "title": f"{launch.subcommand} {Path(str(launch.config.get('model_name_or_path', ''))).name}".strip(),
    }
    return start_job(
        workspace, "train", launch.argv, env=launch.env, cwd=workspace.root, meta=meta,
        output_dir=launch.output_dir, job_id=launch.job_id,
    )


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
        if self.step is not None:
            parts.append(f"{self.step}/{self.total or '?'}")
        if self.percentage is not None:
            parts.append(f"{self.percentage:.0f}%")
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4g}")
        if self.remaining is not None and (self.percentage or 0) < 100:
            parts.append(f"ETA {format_duration(self.remaining)}")
        return Progress(self.step, self.total, " ".join(parts))

    def to_dict(self) -> dict:
        return {
            "step": self.step, "total": self.total, "epoch": self.epoch, "percentage": self.percentage,
            "elapsed": self.elapsed, "remaining": self.remaining, "loss": self.loss, "loss_ema": self.loss_ema,
            "lr": self.lr, "eval_loss": self.eval_loss, "throughput": self.throughput,
            "total_tokens": self.total_tokens, "accuracy": self.accuracy, "reward": self.reward,
            "vram_allocated": self.vram_allocated, "vram_reserved": self.vram_reserved,
            "records": self.records, "errors": self.errors,
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


def last_progress(output_dir: str | Path) -> Progress | None:
    """Progress from the last complete line of trainer_log.jsonl, read from the file's end (cheap for lists)."""
    from mathbench.core.jobs.registry import tail_file

    path = Path(output_dir) / TRAINER_LOG
    for line in reversed(tail_file(path, 3)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            log = TrainerLog(path)
            log._apply(rec)
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
    return TrainStatus(d, log.progress, find_checkpoints(d), res_path.is_file(), results)
