"""LLaMA-Factory YAML: the shipped templates, their {{placeholders}}, typed key=value overrides, rendering."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mathbench.core.resources import TEMPLATES_DIR

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
# Keys whose values are words such as "no" or "steps": `eval_strategy=no` must not become false
# (transformers then stops with "False is not a valid IntervalStrategy").
STRING_KEYS = frozenset({"eval_strategy", "evaluation_strategy", "save_strategy", "logging_strategy",
                         "hub_strategy", "lr_scheduler_type", "report_to", "template", "finetuning_type",
                         "lora_target", "stage", "infer_backend", "optim"})
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
        out[key] = value.strip().strip("\"'") if key in STRING_KEYS else parse_value(value)
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

