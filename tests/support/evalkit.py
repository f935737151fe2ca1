"""Helpers for the eval and synthesis tests: real GSM8K problems, a demo server that knows them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from mathbench.core.evaluation.benchmarks import Problem, answer_key, load_benchmark
from mathbench.core.demo.server import DemoServer, PotScript


def gsm8k(n: int, offset: int = 0) -> list[Problem]:
    """The first n GSM8K test problems after offset (real data from ../shared/data; the test skips without it)."""
    import pytest

    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "benchmarks").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return load_benchmark("gsm8k", limit=offset + n)[offset:]


def server_for(problems: list[Problem], **kwargs) -> DemoServer:
    """A DemoServer whose script knows the answers of *problems* (not started)."""
    script_kw = {k: kwargs.pop(k) for k in ("accuracy", "buggy_rate") if k in kwargs}
    return DemoServer(script=PotScript(answer_key=answer_key(problems), **script_kw), **kwargs)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def closed_port_url() -> str:
    """A loopback base URL where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"
