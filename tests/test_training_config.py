"""LLaMA-Factory YAML templates, typed overrides, and the launch environment (checked through the stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mathbench.core import jobs
from mathbench.core.jobs import training
from mathbench.core.jobs.training import ConfigError, parse_overrides, prepare_training, render_config, start_training
from tests.standins import mathbench, standins, ws  # noqa: F401  (fixtures)

@pytest.fixture(autouse=True)
def eight_gpus(monkeypatch):
    """These tests describe a GPU box (the launch on a machine without one is tested apart)."""
    monkeypatch.setenv("MATHBENCH_GPUS", "8")


FILLED = {"model_path": "/models/Qwen1.5-32B-Chat", "dataset_dir": "/data/lf", "output_dir": "/out/run1",
          "adapter_path": "/out/run1", "export_dir": "/out/merged"}


@pytest.mark.parametrize("name", ["lora_sft", "full_sft", "lora_sft_ds3", "merge_lora", "inference"])
def test_every_template_renders_to_valid_llamafactory_yaml(name):
    cfg = yaml.safe_load(render_config(name, FILLED))
    assert cfg["model_name_or_path"] == "/models/Qwen1.5-32B-Chat"
    assert cfg["template"] == "qwen"
    if "stage" in cfg:
        assert cfg["stage"] == "sft" and cfg["do_train"] is True
        assert cfg["dataset"] == "mathbench_pot" and cfg["dataset_dir"] == "/data/lf"
        assert isinstance(cfg["learning_rate"], float) and isinstance(cfg["num_train_epochs"], float)
        assert isinstance(cfg["cutoff_len"], int) and isinstance(cfg["per_device_train_batch_size"], int)
        assert cfg["include_num_input_tokens_seen"] is True
    if "deepspeed" in cfg:
        ds = json.loads(Path(cfg["deepspeed"]).read_text())
        assert ds["zero_optimization"]["stage"] == 3


def test_template_kinds_match_the_seed_recipe():
    lora = yaml.safe_load(render_config("lora_sft", FILLED))
    full = yaml.safe_load(render_config("full_sft", FILLED))
    ds3 = yaml.safe_load(render_config("lora_sft_ds3", FILLED))
    merge = yaml.safe_load(render_config("merge_lora", FILLED))
    assert (lora["finetuning_type"], full["finetuning_type"], ds3["finetuning_type"]) == ("lora", "full", "lora")
    assert "deepspeed" not in lora and ds3["deepspeed"].endswith("ds_z3_config.json")
    assert merge["adapter_name_or_path"] == "/out/run1" and merge["export_dir"] == "/out/merged"
    assert "quantization_bit" not in merge


def test_overrides_are_typed_and_keep_comments():
    ov = parse_overrides(["lr=1e-5", "epochs=2", "batch=4", "bf16=false", "lora_target=q_proj,v_proj",
                          "max_samples=1000", "resume_from_checkpoint=null", "val_size='0.1'"])
    text = render_config("lora_sft", FILLED, ov)
    cfg = yaml.safe_load(text)
    assert cfg["learning_rate"] == pytest.approx(1e-5) and isinstance(cfg["learning_rate"], float)
    assert cfg["num_train_epochs"] == 2 and cfg["per_device_train_batch_size"] == 4
    assert cfg["bf16"] is False and cfg["lora_target"] == "q_proj,v_proj"
    assert cfg["max_samples"] == 1000 and cfg["resume_from_checkpoint"] is None
    assert cfg["val_size"] == "0.1"
    assert "# Puts throughput and total_tokens into trainer_log.jsonl." in text
    # Placeholder defaults apply when nothing is given.
    assert yaml.safe_load(render_config("lora_sft", FILLED))["learning_rate"] == pytest.approx(1e-4)


@pytest.mark.parametrize("value,expected", [
    ("1e-4", 1e-4), ("3", 3), ("3.0", 3.0), ("True", True), ("off", False), ("~", None), ("[1, 2]", [1, 2]),
    ("qwen", "qwen"), ("'007'", "007"), ("a=b", "a=b"),
])
def test_parse_value(value, expected):
    got = training.parse_value(value)
    assert got == expected and type(got) is type(expected)


def test_strategy_words_stay_words():
    """`eval_strategy=no` is the string "no" (the real LLaMA-Factory stopped on a bool false here)."""
    ov = parse_overrides(["eval_strategy=no", "save_strategy='no'", "bf16=off", "report_to=none"])
    assert ov == {"eval_strategy": "no", "save_strategy": "no", "bf16": False, "report_to": "none"}
    cfg = yaml.safe_load(render_config("lora_sft", FILLED, ov))
    assert cfg["eval_strategy"] == "no" and cfg["bf16"] is False


@pytest.mark.parametrize("value", [1e-5, 2.5e-7, 1e20, 0.1, 3.0, -4e-3])
def test_yaml_scalar_floats_read_back_as_floats(value):
    assert yaml.safe_load(f"x: {training.yaml_scalar(value)}")["x"] == value


def test_missing_placeholder_and_bad_override_name_file_and_line():
    with pytest.raises(ConfigError, match=r"lora_sft\.yaml:5: placeholder \{\{model_path\}\}"):
        render_config("lora_sft", {})
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["learning_rate"])
    with pytest.raises(ConfigError, match="no such file or template"):
        render_config("no_such_template", FILLED)


def test_own_yaml_with_bad_syntax_names_line(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("model_name_or_path: /m\nstage: sft\n  bad: [\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml:3:\d+: bad YAML"):
        render_config(bad, {})


def test_prepare_training_env_single_multi_gpu_and_multi_node(ws):
    one = prepare_training(ws, "lora_sft", ["model=/m"], gpus="0")
    assert one.env["CUDA_VISIBLE_DEVICES"] == "0" and "FORCE_TORCHRUN" not in one.env
    assert one.argv == ["llamafactory-cli", "train", str(one.config_path)]
    assert one.output_dir == ws.train_dir / one.job_id
    assert yaml.safe_load(one.config_path.read_text())["dataset_dir"] == str(ws.exports_dir)
    assert one.env["LLAMABOARD_ENABLED"] == "1" and one.stop_signal == "SIGABRT"
    two = prepare_training(ws, "lora_sft", ["model=/m"], gpus="0,1")
    assert two.env["FORCE_TORCHRUN"] == "1" and two.env["CUDA_VISIBLE_DEVICES"] == "0,1"
    with pytest.raises(ConfigError, match="same path on every node"):
        prepare_training(ws, "lora_sft_ds3", ["model=/m"], nnodes=2, node_rank=1, master_addr="10.0.0.1")
    nodes = prepare_training(ws, "lora_sft_ds3", ["model=/m", "output_dir=/shared/run1"], gpus="0,1,2,3", nnodes=2,
                             node_rank=1, master_addr="10.0.0.1", llamaboard=False)
    assert nodes.output_dir == Path("/shared/run1")
    assert {k: nodes.env[k] for k in ("NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "FORCE_TORCHRUN")} == {
        "NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "FORCE_TORCHRUN": "1"}
    assert "LLAMABOARD_ENABLED" not in nodes.env and nodes.stop_signal == "SIGTERM"
    ds = prepare_training(ws, "full_sft", ["model=/m"])
    assert ds.env["FORCE_TORCHRUN"] == "1"  # a DeepSpeed config needs torchrun even on one GPU
    merge = prepare_training(ws, "merge_lora", ["model=/m", "adapter_path=/a"])
    assert merge.subcommand == "export" and merge.argv[1] == "export" and "FORCE_TORCHRUN" not in merge.env
    with pytest.raises(ConfigError, match="master-addr"):
        prepare_training(ws, "lora_sft", ["model=/m"], nnodes=2)
    with pytest.raises(ConfigError, match="not a GPU index"):
        prepare_training(ws, "lora_sft", ["model=/m"], gpus="0;rm")


def test_relative_paths_are_pinned_to_the_workspace(ws):
    launch = prepare_training(ws, "lora_sft", ["model=/m", "output_dir=train/mine", "dataset_dir=exports"])
    cfg = yaml.safe_load(launch.config_path.read_text())
    assert cfg["output_dir"] == str(ws.root / "train" / "mine")
    assert cfg["dataset_dir"] == str(ws.root / "exports")


def test_launch_reaches_llamafactory_with_env_and_config(ws, standins, monkeypatch, tmp_path):
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    monkeypatch.setenv("STANDIN_STEPS", "4")
    out = mathbench("-w", str(ws.root), "train", "lora_sft_ds3", "model_path=/m/q", f"output_dir={tmp_path / 'run'}",
                    "--gpus", "2,3",
                    "--nnodes", "2", "--node-rank", "0", "--master-addr", "192.168.0.1", "--master-port", "29555")
    assert out.returncode == 0, out.stderr
    job = jobs.wait_job(ws, out.stdout.strip(), timeout=30)
    assert job.state == "succeeded", jobs.tail_log(job)
    seen = json.loads(record.read_text().splitlines()[0])
    assert seen["argv"][1:] == ["train", str(job.dir / "train.yaml")]
    assert seen["env"]["CUDA_VISIBLE_DEVICES"] == "2,3" and seen["env"]["FORCE_TORCHRUN"] == "1"
    assert (seen["env"]["NNODES"], seen["env"]["NODE_RANK"]) == ("2", "0")
    assert (seen["env"]["MASTER_ADDR"], seen["env"]["MASTER_PORT"]) == ("192.168.0.1", "29555")
    assert seen["env"]["MATHBENCH_JOB_DIR"] == str(job.dir)
    assert "Initializing 2 distributed tasks at: 192.168.0.1:29555" in "\n".join(jobs.tail_log(job, 50))


def test_merge_export_job_runs_llamafactory_export(ws, standins):
    job = start_training(ws, "merge_lora", ["model=/m/base", "adapter_path=/m/lora"])
    job = jobs.wait_job(ws, job.id, timeout=30)
    assert job.state == "succeeded" and job.meta["subcommand"] == "export"
    assert (Path(job.output_dir) / "config.json").is_file()
    assert job.command[1] == "export"


def test_cli_dry_run_prints_config_and_starts_nothing(ws):
    out = mathbench("-w", str(ws.root), "train", "lora_sft", "model=/m/q", "lr=3e-5", "--dry-run", "--gpus", "0,1")
    assert out.returncode == 0, out.stderr
    assert "learning_rate: 3.0e-05" in out.stdout
    assert "CUDA_VISIBLE_DEVICES=0,1" in out.stdout and "FORCE_TORCHRUN=1" in out.stdout
    assert jobs.list_jobs(ws) == []
    bad = mathbench("-w", str(ws.root), "train", "lora_sft")
    assert bad.returncode == 2 and "model_path" in bad.stderr


def test_without_a_gpu_training_gets_use_cpu_and_never_torchrun(ws, standins, monkeypatch):
    monkeypatch.setenv("MATHBENCH_GPUS", "0")
    launch = prepare_training(ws, "lora_sft", ["model=/m"], gpus="0,1")
    assert launch.config["use_cpu"] is True and "use_cpu: true" in launch.config_path.read_text()
    assert "FORCE_TORCHRUN" not in launch.env
    assert launch.preflight.ok and any("use_cpu" in n for n in launch.preflight.notes)
    forced = prepare_training(ws, "lora_sft", ["model=/m"], force_torchrun=True)
    assert "FORCE_TORCHRUN" not in forced.env and "nproc_per_node 0" in forced.preflight.problems[0].what
    ds = prepare_training(ws, "full_sft", ["model=/m"])
    assert "DeepSpeed needs GPUs" in ds.preflight.problems[0].what and "deepspeed=null" in ds.preflight.problems[0].fix
    with pytest.raises(jobs.preflight.PreflightError, match="deepspeed=null"):
        start_training(ws, "full_sft", ["model=/m"])
    merge = prepare_training(ws, "merge_lora", ["model=/m", "adapter=/a"])
    assert "use_cpu" not in merge.config  # export takes export_device, not use_cpu


def test_missing_llamafactory_is_named_with_how_to_get_it(ws, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    launch = jobs.training.preview_training(ws, "lora_sft", ["model=/m"])
    assert launch.preflight.problems[0].text() == (
        "llamafactory-cli not found on PATH: pip install 'mathbench[train]' (or activate the venv that has it)")
    assert not (ws.jobs_dir / launch.job_id).exists()  # a preview writes nothing
    out = mathbench("-w", str(ws.root), "train", "lora_sft", "model=/m", env={"PATH": str(tmp_path / "empty")})
    assert out.returncode == 2 and "pip install 'mathbench[train]'" in out.stderr
    assert not list(ws.jobs_dir.iterdir())
