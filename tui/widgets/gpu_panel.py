"""Per-GPU utilisation, memory, temperature, power and processes with a short history, drawn as text."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], top: float | None = None, width: int = 30) -> str:
    """The last *width* values as block characters scaled to *top* (or their maximum)."""
    recent = [v for v in values[-width:]]
    known = [v for v in recent if v is not None]
    if not known:
        return ""
    ceiling = top or max(known) or 1.0
    out = []
    for v in recent:
        if v is None:
            out.append(" ")
        else:
            out.append(BLOCKS[max(0, min(len(BLOCKS) - 1, int(v / ceiling * (len(BLOCKS) - 1) + 0.5)))])
    return "".join(out)


def _bar(fraction: float | None, width: int = 20) -> Text:
    if fraction is None:
        return Text("?".ljust(width), style="dim")
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    style = "green" if fraction < 0.7 else "yellow" if fraction < 0.9 else "red"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


class GpuPanel(Static):
    """Shows a core.gpu snapshot and the history a GpuMonitor keeps; says so plainly when there is no GPU."""

    DEFAULT_CSS = "GpuPanel { height: auto; }"

    def show(self, snapshot, monitor=None, *, history_width: int = 30) -> None:
        """Draw *snapshot* (a core.gpu.GpuSnapshot) with sparklines from *monitor* (a core.gpu.GpuMonitor)."""
        if snapshot is None:
            self.update(Text("reading GPUs …", style="dim"))
            return
        if not snapshot.available:
            self.update(Text(snapshot.reason or "no NVIDIA GPU", style="bold yellow"))
            return
        parts = []
        header = f"driver {snapshot.driver or '?'} · {len(snapshot.gpus)} GPU(s)"
        parts.append(Text(header, style="dim"))
        for gpu in snapshot.gpus:
            table = Table.grid(padding=(0, 1))
            table.add_column(style="bold", no_wrap=True, width=6)
            table.add_column(no_wrap=True)
            table.add_column(no_wrap=True)
            table.add_column(no_wrap=True, style="cyan")
            history = (lambda name: monitor.series(gpu.index, name)) if monitor else (lambda name: [])
            util = None if gpu.util is None else gpu.util / 100
            table.add_row("util", _bar(util), "?" if gpu.util is None else f"{gpu.util:.0f}%",
                          sparkline(history("util"), 100, history_width))
            mem_text = "?"
            if gpu.mem_total:
                mem_text = f"{(gpu.mem_used or 0) / 2**30:.1f}/{gpu.mem_total / 2**30:.1f} GiB"
            table.add_row("memory", _bar(gpu.mem_fraction), mem_text,
                          sparkline(history("mem_fraction"), 1.0, history_width))
            temp = "?" if gpu.temperature is None else f"{gpu.temperature:.0f}°C"
            table.add_row("temp", _bar(None if gpu.temperature is None else gpu.temperature / 100), temp,
                          sparkline(history("temperature"), 100, history_width))
            power = "?"
            power_fraction = None
            if gpu.power is not None:
                power = f"{gpu.power:.0f} W" + (f" / {gpu.power_limit:.0f}" if gpu.power_limit else "")
                power_fraction = gpu.power / gpu.power_limit if gpu.power_limit else None
            table.add_row("power", _bar(power_fraction), power,
                          sparkline(history("power"), gpu.power_limit, history_width))
            parts.append(Text(f"GPU {gpu.index}  {gpu.name}", style="bold"))
            parts.append(table)
            if gpu.processes:
                procs = Table(box=None, padding=(0, 1), show_header=True, header_style="dim")
                procs.add_column("pid", justify="right")
                procs.add_column("memory", justify="right")
                procs.add_column("process")
                for proc in gpu.processes:
                    used = "?" if proc.used_memory is None else f"{proc.used_memory / 2**20:,.0f} MiB"
                    procs.add_row(str(proc.pid), used, proc.name or proc.kind)
                parts.append(procs)
            else:
                parts.append(Text("  no processes", style="dim"))
        self.update(Group(*parts))
