"""A built wheel works from a fresh venv in another folder: one namespace, prompts, templates, sample workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, repo_root) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(repo_root)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{build.stdout}\n{build.stderr}")
    (whl,) = out.glob("mathbench-*.whl")
    return whl


def test_wheel_has_one_namespace_and_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"mathbench"}, f"top-level names besides mathbench would collide: {sorted(tops)}"
    for needed in ("mathbench/configs/prompts/zh.yaml", "mathbench/configs/prompts/en.yaml",
                   "mathbench/configs/llamafactory/lora_sft.yaml", "mathbench/tui/styles/app.tcss",
                   "mathbench/data/sample_workspace/benchmarks/sample.jsonl",
                   "mathbench/core/sandbox/worker.py", "mathbench/core/jobs/runner.py"):
        assert needed in names, f"{needed} missing from the wheel"


def test_fresh_venv_opens_a_workspace_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with zipfile.ZipFile(wheel) as zf:  # what pip does for a pure wheel, without reaching any index
        zf.extractall(site)
    # Dependencies come from the test's own environment; its editable mathbench is not on this path
    # (editable installs hook in through .pth files, which PYTHONPATH entries never run).
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"], PYTHONNOUSERSITE="1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import json, mathbench.core, mathbench.tui\n"
        "from mathbench.core.evaluation.pot import load_prompt\n"
        "from mathbench.core.jobs.training import list_templates\n"
        "from mathbench.core.workspace import open_workspace\n"
        "ws = open_workspace('ws')\n"
        "print(json.dumps({'core': mathbench.core.__file__, 'prompt': load_prompt('zh').name,\n"
        "  'templates': len(list_templates()), 'benchmarks': sorted(p.name for p in ws.benchmarks_dir.iterdir())}))\n"
    )
    out = subprocess.run([str(py), "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["core"].startswith(site), f"imported mathbench from {info['core']}, not the installed wheel"
    assert info["prompt"] == "zh"
    assert info["templates"] >= 4
    assert "sample.jsonl" in info["benchmarks"]
    cli = subprocess.run([str(py), "-m", "mathbench.tui", "--workspace", "ws", "runs", "--json"], cwd=elsewhere,
                         env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert len(json.loads(cli.stdout)) >= 1  # the sample workspace's runs
