"""What protects every block of one fork server: its cgroups, its zygote (view, PID namespaces), what the probe found.

Set up once when the server starts; the first block process tries every protection and what it achieves
is required of every later one, so the protections reported are the ones each block really has.
"""

from __future__ import annotations

import os
import socket
import tempfile

from . import zygote
from .cgroups import CgroupUnavailable, SlotGroups

PROTECTIONS = ("network", "filesystem", "tmp", "pid", "ipc", "memory", "processes", "uid", "no-new-privs")
# The ones a block process achieves itself, after the fork.
BLOCK_STEPS = ("network", "ipc", "tmp", "pid", "cgroup", "uid", "no-new-privs")
NOBODY = 65534
MB = 1024 * 1024


class Isolation:
    """The protections of one fork server and the means behind them."""

    def __init__(self, cfg: dict, userns: str | None):
        self.cfg = cfg
        self.size = int(cfg["size"])
        self.userns = userns  # "entered", a refusal, or None (root needs none)
        self.root = os.getuid() == 0 and userns != "entered"
        # Inside a user namespace we are PID 1 of our own PID namespace; the mounted /proc still tells our pid.
        self.pid = int(os.readlink("/proc/self")) if userns == "entered" else os.getpid()
        self.want = set(cfg["protections"] if "protections" in cfg else PROTECTIONS)
        self.refused: dict[str, str] = {}
        self.groups: SlotGroups | None = None
        self.view = False
        self.chan: socket.socket | None = None
        self.zygote_pid = 0
        self.require: list[str] = []
        self.active: list[str] = []

    def block_uid(self, slot: int) -> int | None:
        """One unprivileged uid per concurrent slot (from a range chosen by the server's pid), or a fixed one."""
        drop = self.cfg["drop_to"]
        if not self.root or drop is None or "uid" not in self.want:
            return None
        if drop == "auto":
            stride = max(256, self.size)
            return 1_000_000 + (self.pid % 100_000) * stride + slot
        return int(drop)

    def establish(self, lsock: socket.socket) -> None:
        """Make the cgroups, then start the zygote, which builds the view; note what was refused and why."""
        cfg = self.cfg
        for name in PROTECTIONS:
            if name not in self.want:
                self.refused[name] = "not requested"
        if {"memory", "processes"} & self.want:
            try:
                self.groups = SlotGroups.create(self.size, int(cfg["mem_mb"]) * MB if "memory" in self.want else None,
                                                int(cfg["nproc"]) if "processes" in self.want else None)
            except CgroupUnavailable as exc:
                self.refused.setdefault("memory", str(exc))
                self.refused.setdefault("processes", str(exc))
        if self.groups is None:
            self.refused.setdefault("cgroup", "no cgroup")
        elif not self.groups.caps_processes:
            self.refused.setdefault("processes", "no pids controller")
        if not self.root:
            self.refused.setdefault("uid", "not root: every block runs as the caller's user")
        elif cfg["drop_to"] is None:
            self.refused.setdefault("uid", "switched off (drop_to=None)")
        cfg["root"] = self.root
        self.chan, chan_z = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.zygote_pid = os.fork()
        if self.zygote_pid == 0:
            lsock.close()
            self.chan.close()
            zygote.run(cfg, chan_z, "filesystem" in self.want, "pid" in self.want)
        chan_z.close()
        msg, _ = zygote.receive(self.chan)
        if msg is None:
            raise RuntimeError("the zygote (which preloads the modules) died while starting")
        self.view = bool(msg.get("view"))
        if "filesystem" in self.want and not self.view:
            self.refused["filesystem"] = msg.get("view_error") or "no view"
        if msg.get("pid_error") and "pid" in self.want:
            self.refused["pid"] = msg["pid_error"]

    def prep(self, slot: int, probe: bool) -> dict:
        """What the slot's next block process must set up (the probe tries everything, later ones what it got)."""
        cfg = self.cfg
        uid = self.block_uid(slot)
        scratch = None
        if not self.view and ("tmp" not in self.require or probe):
            scratch = tempfile.mkdtemp(prefix=f"mb-sbx-{self.pid}-", dir=cfg["scratch_root"])
            if uid is not None:
                os.chown(scratch, uid, -1)
        want = [p for p in BLOCK_STEPS if p not in self.refused] if probe else list(self.require)
        if {"tmp", "pid"} & set(want):
            want.append("mounts")  # a mount namespace of its own, for its /tmp and its /proc
        return {
            "uid": uid, "gid": (uid if cfg["drop_to"] == "auto" else NOBODY) if uid is not None else None,
            "scratch": scratch or "/tmp", "pid_error": self.refused.get("pid"),
            "cgroup_fds": self.groups.join_fds(slot) if self.groups else [],
            "want": want, "require": [] if probe else self.require,
        }

    def settle(self, steps: dict) -> None:
        """From the first block process's report: what is required from now on and what is active."""
        for name in BLOCK_STEPS:
            if name in self.refused:
                continue
            ok = steps.get(name)
            if ok is True:
                self.require.append(name)
            else:
                self.refused[name] = str(ok or "not attempted")
        active = set(self.require) - {"cgroup"}
        if "cgroup" in self.require and self.groups is not None:
            for name, holds in (("memory", self.groups.limits_memory), ("processes", self.groups.caps_processes)):
                if holds:
                    active.add(name)
        else:
            for name in ("memory", "processes"):
                self.refused.setdefault(name, self.refused.get("cgroup", "no cgroup"))
        if self.view:
            active.add("filesystem")
        self.active = [p for p in PROTECTIONS if p in active]
        if "pid" not in self.active and self.chan is not None:
            zygote.send(self.chan, {"op": "subreaper"})  # escaped processes come back to it, to be killed

    def protections(self) -> dict:
        """What holds for every block of this server, and why the rest does not."""
        return {
            "active": self.active,
            "refused": {k: v for k, v in self.refused.items() if k in PROTECTIONS and k not in self.active},
            "cgroup": self.groups.description if self.groups and "cgroup" in self.require else None,
            "user_namespace": self.userns,
            "memory_mb": int(self.cfg["mem_mb"]),
            "nproc": int(self.cfg["nproc"]),
        }
