"""A sampled run's results as one row per problem, its samples folded under it until opened."""

from __future__ import annotations

from typing import Any

from mathbench.tui.widgets.run_data import RunSnapshot


def fold_samples(snapshot: RunSnapshot, visible: list[int], rows: list[tuple[str, ...]], verdicts: list[str],
                 expanded: set[Any]) -> tuple[list[int], list[tuple[str, ...]], dict[int, list[int]]]:
    """Rows for the *visible* records grouped by problem, in the order each problem first shows.

    Returns the record index of each table row (a problem row stands for its first shown sample), the
    rows, and each problem row's position with the record indices of its shown samples.
    """
    groups: dict[Any, list[int]] = {}
    for index in visible:
        groups.setdefault(snapshot.records[index].get("id"), []).append(index)
    shown: list[int] = []
    table: list[tuple[str, ...]] = []
    headers: dict[int, list[int]] = {}
    for number, (pid, members) in enumerate(groups.items(), 1):
        headers[len(table)] = members
        shown.append(members[0])
        table.append(_problem_row(number, pid, members, rows, verdicts, opened=pid in expanded))
        if pid in expanded:
            for index in members:
                shown.append(index)
                row = list(rows[index])
                row[0], row[1] = "", f" └ sample {snapshot.records[index].get('sample')}"
                table.append(tuple(row))
    return shown, table, headers


def _problem_row(number: int, pid: Any, members: list[int], rows: list[tuple[str, ...]], verdicts: list[str],
                 *, opened: bool) -> tuple[str, ...]:
    """The problem's row: how many of its shown samples are correct, and a marker for fold state."""
    first = list(rows[members[0]])
    correct = sum(1 for i in members if verdicts[i] == "correct")
    first[0] = str(number)
    first[1] = f"{'▾' if opened else '▸'} {pid}"
    first[2] = f"{correct}/{len(members)} ok"
    first[6] = "…" if len(members) > 1 else first[6]  # answers differ per sample: open to see them
    first[7] = f"{len(members)} samples"
    first[8] = ""
    return tuple(first)
