"""`mathbench doctor`: one screenful on the sandbox, the tools, the GPU and the workspace; `--json` the same facts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mathbench.core.sandbox.pool import PROTECTIONS


def _doctor(workspace, *args, cwd):
    return subprocess.run([sys.executable, "-m", "mathbench.tui", "--workspace", str(workspace), "doctor", *args],
                          cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, COLUMNS="80"))


def test_doctor_fits_one_screen_and_names_every_protection(tmp_path):
    out = _doctor(tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.rstrip("\n").splitlines()
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
    text = out.stdout
    for name in PROTECTIONS:
        assert f" {name} " in text
    for tool in ("llamafactory-cli", "vllm", "bwrap", "nvidia-smi"):
        assert tool in text
    assert "GPU" in text and str(tmp_path)[:50] in text  # a long path is cut to the 80 columns


def test_doctor_json_reports_what_was_checked(tmp_path):
    from mathbench.core.workspace import open_workspace

    open_workspace(tmp_path / "ws", sample=True)
    out = _doctor(tmp_path / "ws", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    sandbox = rep["sandbox"]
    assert set(sandbox["active"]) | set(sandbox["missing"]) == set(PROTECTIONS)
    # Every protection reported active passed its check from inside a block; nothing else claims to hold.
    assert sandbox["verified"] == {name: name in sandbox["active"] for name in PROTECTIONS}
    assert set(rep["tools"]) == {"llamafactory-cli", "vllm", "bwrap", "nvidia-smi"}
    assert rep["gpu"]["available"] in (True, False) and (rep["gpu"]["available"] or rep["gpu"]["reason"])
    ws = rep["workspace"]
    assert ws["is_workspace"] and ws["benchmarks"] >= 1 and ws["writable"]
