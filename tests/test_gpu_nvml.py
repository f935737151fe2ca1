"""GPU snapshot through NVML: absent library, failing driver, and a small fake of pynvml's calls."""

from __future__ import annotations

import json
import sys
import textwrap
import types

import pytest

from mathbench.core.jobs import gpu
from tests.standins import mathbench

# A small stand-in for nvidia-ml-py's pynvml: the calls core.gpu makes, two GPUs, one without a fan sensor.
FAKE_PYNVML = textwrap.dedent('''
    from types import SimpleNamespace as NS

    NVML_TEMPERATURE_GPU = 0
    NVML_VALUE_NOT_AVAILABLE = 2**64 - 1
    calls = {"init": 0, "shutdown": 0}
    FAIL_INIT = None


    class NVMLError(Exception):
        pass


    class NVMLError_NotSupported(NVMLError):
        pass


    GPUS = [
        dict(name="NVIDIA H100 80GB HBM3", uuid="GPU-1111", util=NS(gpu=87, memory=40),
             mem=NS(total=80 * 2**30, used=61 * 2**30, free=19 * 2**30), temp=71, power=312500, limit=700000,
             fan=None, procs=[NS(pid=4242, usedGpuMemory=60 * 2**30), NS(pid=4243, usedGpuMemory=NVML_VALUE_NOT_AVAILABLE)]),
        dict(name=b"NVIDIA A10", uuid=b"GPU-2222", util=NS(gpu=0, memory=0),
             mem=NS(total=24 * 2**30, used=2**29, free=23 * 2**30), temp=35, power=15000, limit=150000,
             fan=30, procs=[]),
    ]


    def nvmlInit():
        if FAIL_INIT:
            raise NVMLError(FAIL_INIT)
        calls["init"] += 1


    def nvmlShutdown():
        calls["shutdown"] += 1


    def nvmlSystemGetDriverVersion():
        return "550.54.15"


    def nvmlDeviceGetCount():
        return len(GPUS)


    def nvmlDeviceGetHandleByIndex(i):
        return GPUS[i]


    def nvmlDeviceGetName(h):
        return h["name"]


    def nvmlDeviceGetUUID(h):
        return h["uuid"]


    def nvmlDeviceGetUtilizationRates(h):
        return h["util"]


    def nvmlDeviceGetMemoryInfo(h):
        return h["mem"]


    def nvmlDeviceGetTemperature(h, sensor):
        assert sensor == NVML_TEMPERATURE_GPU
        return h["temp"]


    def nvmlDeviceGetPowerUsage(h):
        return h["power"]


    def nvmlDeviceGetEnforcedPowerLimit(h):
        return h["limit"]


    def nvmlDeviceGetFanSpeed(h):
        if h["fan"] is None:
            raise NVMLError_NotSupported("Not Supported")
        return h["fan"]


    def nvmlDeviceGetComputeRunningProcesses(h):
        return h["procs"]


    def nvmlDeviceGetGraphicsRunningProcesses(h):
        return []
''')


@pytest.fixture
def fake_nvml(monkeypatch):
    mod = types.ModuleType("pynvml")
    exec(compile(FAKE_PYNVML, "fake_pynvml.py", "exec"), mod.__dict__)
    gpu.reset()
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    yield mod
    gpu.reset()


@pytest.fixture
def no_nvml(monkeypatch):
    gpu.reset()
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    yield
    gpu.reset()


def test_absent_library_is_a_normal_no_gpu_state(no_nvml):
    snap = gpu.snapshot()
    assert not snap.available and snap.gpus == []
    assert snap.reason == "no NVIDIA GPU (nvidia-ml-py is not installed)"
    assert gpu.status_line(snap) == "no NVIDIA GPU"
    assert gpu.table_lines(snap) == [snap.reason]
    assert json.loads(json.dumps(snap.to_dict()))["available"] is False


def test_driver_failure_is_no_gpu_with_the_reason(fake_nvml):
    fake_nvml.FAIL_INIT = "Driver Not Loaded"
    snap = gpu.snapshot()
    assert not snap.available and snap.reason == "no NVIDIA GPU (NVML: Driver Not Loaded)"


def test_fake_nvml_snapshot_units_and_processes(fake_nvml):
    snap = gpu.snapshot()
    assert snap.available and snap.driver == "550.54.15" and len(snap.gpus) == 2
    h100, a10 = snap.gpus
    assert (h100.index, h100.name, h100.uuid) == (0, "NVIDIA H100 80GB HBM3", "GPU-1111")
    assert (h100.util, h100.mem_util, h100.temperature) == (87.0, 40.0, 71.0)
    assert (h100.power, h100.power_limit) == (312.5, 700.0)  # milliwatts -> watts
    assert h100.mem_used == 61 * 2**30 and h100.mem_fraction == pytest.approx(61 / 80)
    assert h100.fan is None  # NotSupported on this one field only
    assert [(p.pid, p.used_memory) for p in h100.processes] == [(4242, 60 * 2**30), (4243, None)]
    assert (a10.name, a10.uuid, a10.fan) == ("NVIDIA A10", "GPU-2222", 30.0)  # bytes decoded
    assert gpu.status_line(snap) == "GPU0 87% 61/80G 71C 312W | GPU1 0% 0/24G 35C 15W"
    table = "\n".join(gpu.table_lines(snap))
    assert "NVIDIA H100 80GB HBM3" in table and "pid 4242" in table and "61440 MiB" in table
    d = snap.to_dict()
    assert d["gpus"][0]["mem_fraction"] == pytest.approx(61 / 80) and d["gpus"][0]["power"] == 312.5
    gpu.snapshot()
    assert fake_nvml.calls["init"] == 1  # one NVML session, not one per poll


def test_monitor_keeps_a_short_history(fake_nvml):
    mon = gpu.GpuMonitor(history=3)
    for util in (10, 20, 30, 40):
        fake_nvml.GPUS[0]["util"].gpu = util
        mon.sample()
    assert mon.series(0, "util") == [20.0, 30.0, 40.0]
    assert mon.series(1, "power") == [15.0, 15.0, 15.0]
    assert mon.series(7, "util") == [] and len(mon.times) == 3


def test_cli_gpu_once_and_json(tmp_path):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "pynvml.py").write_text(FAKE_PYNVML)
    out = mathbench("gpu", "--once", env={"PYTHONPATH": f"{tmp_path / 'fake'}"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "GPU0 87% 61/80G 71C 312W | GPU1 0% 0/24G 35C 15W"
    data = json.loads(mathbench("gpu", "--json", env={"PYTHONPATH": f"{tmp_path / 'fake'}"}).stdout)
    assert data["available"] and [g["name"] for g in data["gpus"]] == ["NVIDIA H100 80GB HBM3", "NVIDIA A10"]


def test_cli_gpu_without_nvml(tmp_path):
    (tmp_path / "nonvml").mkdir()
    (tmp_path / "nonvml" / "pynvml.py").write_text("raise ImportError('no nvidia-ml-py here')\n")
    env = {"PYTHONPATH": str(tmp_path / "nonvml")}
    once = mathbench("gpu", "--once", env=env)
    assert (once.returncode, once.stdout.strip()) == (0, "no NVIDIA GPU")
    table = mathbench("gpu", env=env)
    assert table.returncode == 0 and "no NVIDIA GPU" in table.stdout
