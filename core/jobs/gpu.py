"""GPU state through NVML (nvidia-ml-py, imported lazily); a box without an NVIDIA GPU is a normal state."""

from __future__ import annotations

import importlib
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

NO_GPU = "no NVIDIA GPU"
_lock = threading.Lock()
_initialised: object | None = None  # the pynvml module once nvmlInit succeeded


@dataclass
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    used_memory: int | None  # bytes; None where NVML cannot tell (e.g. WDDM)
    name: str = ""
    kind: str = "compute"


@dataclass
class GpuInfo:
    """One GPU at one moment (memory in bytes, power in watts, temperature in °C)."""

    index: int
    name: str
    uuid: str = ""
    util: float | None = None
    mem_util: float | None = None
    mem_used: int | None = None
    mem_total: int | None = None
    temperature: float | None = None
    power: float | None = None
    power_limit: float | None = None
    fan: float | None = None
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def mem_fraction(self) -> float | None:
        if not self.mem_total or self.mem_used is None:
            return None
        return self.mem_used / self.mem_total


@dataclass
class GpuSnapshot:
    """Every GPU at one moment, or why there are none (`available` False and `reason`)."""

    time: float
    available: bool
    gpus: list[GpuInfo] = field(default_factory=list)
    driver: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        for g, gd in zip(self.gpus, d["gpus"]):
            gd["mem_fraction"] = g.mem_fraction
        return d


def _text(v) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _nvml():
    """The initialised pynvml module, or raise RuntimeError saying why there is no GPU to show."""
    global _initialised
    with _lock:
        if _initialised is not None:
            return _initialised
        try:
            nv = importlib.import_module("pynvml")
        except ImportError:
            raise RuntimeError(f"{NO_GPU} (nvidia-ml-py is not installed)") from None
        try:
            nv.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            raise RuntimeError(f"{NO_GPU} (NVML: {exc})") from None
        _initialised = nv
        return nv


def reset() -> None:
    """Forget the NVML session (shut it down); the next snapshot starts a new one."""
    global _initialised
    with _lock:
        nv, _initialised = _initialised, None
    if nv is not None:
        try:
            nv.nvmlShutdown()
        except Exception:
            pass


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception:  # NotSupported on one field must not hide the rest
        return None


def _proc_name(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0") if p]
    if not parts:
        return ""
    return " ".join([Path(parts[0]).name, *parts[1:3]])[:80]


def snapshot() -> GpuSnapshot:
    """Read every GPU now; never raises for a missing library, driver or GPU."""
    now = time.time()
    try:
        nv = _nvml()
    except RuntimeError as exc:
        return GpuSnapshot(now, False, reason=str(exc))
    try:
        count = nv.nvmlDeviceGetCount()
    except Exception as exc:
        return GpuSnapshot(now, False, reason=f"{NO_GPU} (NVML: {exc})")
    driver = _try(nv.nvmlSystemGetDriverVersion)
    gpus = []
    for i in range(count):
        try:
            h = nv.nvmlDeviceGetHandleByIndex(i)
        except Exception:
            continue
        info = GpuInfo(index=i, name=_text(_try(nv.nvmlDeviceGetName, h) or f"GPU {i}"),
                       uuid=_text(_try(nv.nvmlDeviceGetUUID, h) or ""))
        u = _try(nv.nvmlDeviceGetUtilizationRates, h)
        if u is not None:
            info.util, info.mem_util = float(u.gpu), float(u.memory)
        m = _try(nv.nvmlDeviceGetMemoryInfo, h)
        if m is not None:
            info.mem_used, info.mem_total = int(m.used), int(m.total)
        t = _try(nv.nvmlDeviceGetTemperature, h, getattr(nv, "NVML_TEMPERATURE_GPU", 0))
        info.temperature = None if t is None else float(t)
        p = _try(nv.nvmlDeviceGetPowerUsage, h)
        info.power = None if p is None else p / 1000.0
        pl = _try(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        info.power_limit = None if pl is None else pl / 1000.0
        f = _try(nv.nvmlDeviceGetFanSpeed, h)
        info.fan = None if f is None else float(f)
        seen = set()
        for kind, fn_name in (("compute", "nvmlDeviceGetComputeRunningProcesses"),
                              ("graphics", "nvmlDeviceGetGraphicsRunningProcesses")):
            fn = getattr(nv, fn_name, None)
            for proc in (_try(fn, h) or []) if fn else []:
                pid = int(proc.pid)
                if pid in seen:
                    continue
                seen.add(pid)
                used = getattr(proc, "usedGpuMemory", None)
                # NVML_VALUE_NOT_AVAILABLE is the all-ones unsigned long long.
                if used is not None and (used < 0 or used >= 2**64 - 1):
                    used = None
                info.processes.append(GpuProcess(pid, used, _proc_name(pid), kind))
        gpus.append(info)
    if not gpus:
        return GpuSnapshot(now, False, driver=_text(driver) if driver else None, reason=NO_GPU)
    return GpuSnapshot(now, True, gpus, _text(driver) if driver else None)


class GpuMonitor:
    """Samples snapshots and keeps a short per-GPU history of utilisation, memory, temperature and power."""

    FIELDS = ("util", "mem_fraction", "temperature", "power")

    def __init__(self, history: int = 120):
        self.maxlen = history
        self.history: dict[int, dict[str, deque]] = {}
        self.times: deque[float] = deque(maxlen=history)
        self.last: GpuSnapshot | None = None

    def sample(self) -> GpuSnapshot:
        """Take a snapshot and append it to the history."""
        snap = snapshot()
        self.add(snap)
        return snap

    def add(self, snap: GpuSnapshot) -> None:
        self.last = snap
        if not snap.available:
            return
        self.times.append(snap.time)
        for g in snap.gpus:
            h = self.history.setdefault(g.index, {f: deque(maxlen=self.maxlen) for f in self.FIELDS})
            for f in self.FIELDS:
                h[f].append(getattr(g, f))

    def series(self, index: int, name: str) -> list[float | None]:
        """One GPU's recent values of *name* (util, mem_fraction, temperature, power), oldest first."""
        return list(self.history.get(index, {}).get(name, ()))


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.0f}"


def status_line(snap: GpuSnapshot | None = None) -> str:
    """One line for a tmux status bar: `GPU0 87% 61/80G 71C 312W | GPU1 ...`, or `no NVIDIA GPU`."""
    snap = snap or snapshot()
    if not snap.available:
        return NO_GPU
    parts = []
    for g in snap.gpus:
        bits = [f"GPU{g.index}", "?%" if g.util is None else f"{g.util:.0f}%",
                f"{_gib(g.mem_used)}/{_gib(g.mem_total)}G"]
        if g.temperature is not None:
            bits.append(f"{g.temperature:.0f}C")
        if g.power is not None:
            bits.append(f"{g.power:.0f}W")
        parts.append(" ".join(bits))
    return " | ".join(parts)


def table_lines(snap: GpuSnapshot) -> list[str]:
    """A plain-text table of the snapshot (one row per GPU, then its processes)."""
    if not snap.available:
        return [snap.reason or NO_GPU]
    rows = [f"driver {snap.driver or '?'}"]
    rows.append(f"{'GPU':>3}  {'name':<24} {'util':>5} {'mem used/total GiB':>19} {'temp':>5} {'power W':>11}")
    for g in snap.gpus:
        util = "?" if g.util is None else f"{g.util:.0f}%"
        mem = f"{'?' if g.mem_used is None else f'{g.mem_used / 2**30:.1f}'}/{'?' if g.mem_total is None else f'{g.mem_total / 2**30:.1f}'}"
        temp = "?" if g.temperature is None else f"{g.temperature:.0f}C"
        power = "?" if g.power is None else f"{g.power:.0f}" + ("" if g.power_limit is None else f"/{g.power_limit:.0f}")
        rows.append(f"{g.index:>3}  {g.name[:24]:<24} {util:>5} {mem:>19} {temp:>5} {power:>11}")
        for p in g.processes:
            used = "?" if p.used_memory is None else f"{p.used_memory / 2**20:.0f} MiB"
            rows.append(f"       pid {p.pid:<8} {used:>10}  {p.name}")
    return rows
