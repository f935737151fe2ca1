"""`mathbench doctor`: one screenful on the sandbox's protections, the tools found, the GPU and the workspace."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `doctor` command."""
    p = subparsers.add_parser(
        "doctor", help="what this machine offers: sandbox protections, tools, GPU, workspace",
        description="Start the sandbox as an eval would, check each of its protections from inside a block, "
        "and list the tools (llamafactory-cli, vllm, bwrap, nvidia-smi), the GPU and the workspace.",
    )
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")
    p.add_argument("--no-verify", action="store_true", help="report the protections without checking them")
    p.set_defaults(func=cmd_doctor)


def report_lines(rep: dict) -> list[str]:
    """The report as at most 24 lines of at most 80 columns ("ok" holds, "--" is missing and why, "!!" failed its check)."""
    from mathbench.core.sandbox.protections import ALWAYS, DESCRIPTIONS

    sb = rep["sandbox"]
    lines = [f"mathbench {rep['mathbench']} · Python {rep['python']} · Linux {rep['kernel']} · user {rep['user']}"]
    if sb.get("error"):
        lines.append(f"Sandbox: DID NOT START: {sb['error']}"[:80])
    else:
        n = len(sb["active"])
        state = "all active" if sb["complete"] else f"{n} of {n + len(sb['missing'])} active"
        userns = " (in a user namespace)" if sb.get("user_namespace") == "entered" else ""
        lines.append(f"Sandbox (model code): protections {state}{userns}")
    verified = sb.get("verified") or {}
    for name, what in DESCRIPTIONS.items():
        if name in sb.get("active", ()):
            detail = what
            if name == "memory" and sb.get("memory_mb"):
                detail = f"{sb['memory_mb']} MB for all its processes ({sb.get('cgroup')})"
            elif name == "processes" and sb.get("nproc"):
                detail = f"{sb['nproc']} processes for all of them ({sb.get('cgroup')})"
            mark = "ok" if verified.get(name, True) else "!!"
            if verified and not verified.get(name):
                detail += " — FAILED ITS CHECK"
        else:
            mark, detail = "--", str(sb.get("missing", {}).get(name, "?"))
        lines.append(f"  {mark} {name:<13}{detail}"[:80])
    lines.append(f"  {ALWAYS}"[:80])
    lines.append("Tools")
    for name, path in rep["tools"].items():
        lines.append(f"  {name:<17}{path or 'not found'}"[:80])
    gpu = rep["gpu"]
    if gpu["available"]:
        names = ", ".join(f"{g['index']}: {g['name']} {g['mem_total_gib'] or '?'} GiB" for g in gpu["gpus"])
        lines.append(f"GPU  {names} (driver {gpu['driver'] or '?'})"[:80])
    else:
        lines.append(f"GPU  {gpu['reason'] or 'none'}"[:80])
    ws = rep["workspace"]
    if ws["is_workspace"]:
        counts = f"{ws['runs']} runs, {ws['datasets']} datasets, {ws['benchmarks']} benchmarks, {ws['jobs']} jobs"
    else:
        counts = "not a workspace yet (opening it creates one)"
    lines.append(f"Workspace  {ws['path']}"[:80])
    free = "?" if ws["free_gib"] is None else f"{ws['free_gib']} GiB free"
    lines.append(f"  {counts}; {free}" + ("" if ws["writable"] else "; NOT WRITABLE"))
    return [ln[:80] for ln in lines]


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print the doctor's report; exit 1 when the sandbox cannot start or a protection fails its check."""
    from pathlib import Path

    from mathbench.core.jobs.doctor import doctor_report

    rep = doctor_report(Path(args.workspace or Path.cwd()), verify=not args.no_verify)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        print("\n".join(report_lines(rep)))
    sb = rep["sandbox"]
    failed = [p for p in sb.get("active", ()) if not (sb.get("verified") or {}).get(p, True)]
    return 1 if sb.get("error") or failed else 0
