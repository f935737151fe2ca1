"""Run directories on real files: append + fsync, torn lines, the writer lock, resume, tailing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mathbench.core.evaluation import DuplicateResult, RunDir, RunFileError, RunLocked, effective_verdict, list_runs
from mathbench.core.evaluation import rundir as runs
from mathbench.core.storage import JsonlTail


def rec(i, verdict="correct", **extra):
    base = {"id": f"p{i}", "question": f"q{i}", "verdict": verdict, "error": None,
            "messages": [{"role": "user", "content": f"题目：{i}"}, {"role": "assistant", "content": "\\boxed{1}"}]}
    base.update(extra)
    return base


def test_append_writes_one_line_per_record_and_reloads(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.open_writer() as w:
        for i in range(3):
            w.append(rec(i))
    lines = run.results_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["p0", "p1", "p2"]
    assert [r["id"] for r in run.load_results()] == ["p0", "p1", "p2"]
    assert run.load_results()[0]["messages"][0]["content"] == "题目：0"


def test_each_append_is_fsynced(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "r")
    synced = []
    real = os.fsync
    with run.open_writer() as w:
        monkeypatch.setattr(runs.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
        fd = w._out._fd
        for i in range(4):
            before = len(synced)
            w.append(rec(i))
            assert synced[before:] == [fd], "record not fsynced exactly once before append returned"


def test_torn_last_line_is_dropped_and_repaired_on_resume(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.open_writer() as w:
        w.append(rec(0))
        w.append(rec(1))
    with open(run.results_path, "ab") as fh:
        fh.write(b'{"id": "p2", "question": "half a rec')
    problems: list[str] = []
    assert [r["id"] for r in run.load_results(problems=problems)] == ["p0", "p1"]
    assert problems and "results.jsonl:3" in problems[0] and "torn" in problems[0]
    assert run.torn_tail().startswith(b'{"id": "p2"')
    with run.open_writer() as w:
        assert w.repaired > 0
        assert w.done_ids() == {"p0", "p1"}
        w.append(rec(2))
    assert [r["id"] for r in run.load_results()] == ["p0", "p1", "p2"]
    assert run.torn_tail() == b""
    # the cut-off bytes are kept beside the run, not thrown away
    assert b"half a rec" in (run.path / "results.jsonl.torn").read_bytes()


def test_complete_last_record_without_newline_is_kept(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.results_path.write_text(json.dumps(rec(0)) + "\n" + json.dumps(rec(1)), encoding="utf-8")
    assert [r["id"] for r in run.load_results()] == ["p0", "p1"]
    with run.open_writer() as w:
        w.append(rec(2))
    lines = run.results_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["p0", "p1", "p2"]


def test_malformed_middle_line_names_file_line_and_col(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.results_path.write_text(
        json.dumps(rec(0)) + "\n" + '{"id": "p1", "x": tru}\n' + json.dumps(rec(2)) + "\n", encoding="utf-8")
    with pytest.raises(RunFileError) as info:
        run.load_results()
    assert info.value.line == 2 and info.value.col is not None
    assert str(info.value).startswith(f"{run.results_path}:2:")
    problems: list[str] = []
    assert [r["id"] for r in run.load_results(strict=False, problems=problems)] == ["p0", "p2"]
    assert problems[0].startswith(f"{run.results_path}:2:")
    # a writer refuses to resume on top of a damaged file rather than lose anything
    with pytest.raises(RunFileError):
        run.open_writer()
    assert not run.is_running()


def test_record_without_id_is_an_error(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.results_path.write_text('{"question": "no id"}\n', encoding="utf-8")
    with pytest.raises(RunFileError, match=r"results.jsonl:1: .*id"):
        run.load_results()
    w = RunDir(tmp_path / "w").open_writer()
    with pytest.raises(RunFileError):
        w.append({"question": "no id"})
    w.close()


def test_second_writer_in_same_process_is_refused(tmp_path):
    run = RunDir(tmp_path / "r")
    w = run.open_writer()
    try:
        with pytest.raises(RunLocked) as info:
            RunDir(tmp_path / "r").open_writer()
        assert info.value.pid == os.getpid()
        assert run.writer_pid() == os.getpid() and run.is_running()
    finally:
        w.close()
    assert run.writer_pid() is None
    run.open_writer().close()  # free again once released


HOLDER = textwrap.dedent("""
    import sys, time
    from mathbench.core.evaluation.rundir import RunDir
    w = RunDir(sys.argv[1]).open_writer()
    w.append({"id": "from-child", "verdict": "correct"})
    print("locked", flush=True)
    time.sleep(60)
""")


def test_second_writer_from_another_process_is_refused(tmp_path, repo_root):
    run = RunDir(tmp_path / "r")
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(run.path)], cwd=repo_root,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked) as info:
            run.open_writer()
        assert info.value.pid == child.pid
        assert str(child.pid) in str(info.value)
        assert run.writer_pid() == child.pid
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    # the kernel drops a dead holder's flock: no stale lock after kill -9
    with run.open_writer() as w:
        assert w.done_ids() == {"from-child"}


KILLED_WRITER = textwrap.dedent("""
    import sys
    from mathbench.core.evaluation.rundir import RunDir
    w = RunDir(sys.argv[1]).open_writer()
    done = w.done_ids()
    for i in range(100000):
        if f"p{i}" in done:
            continue
        w.append({"id": f"p{i}", "verdict": "correct", "pad": "x" * 2000})
        print(i, flush=True)
""")


def test_kill_9_mid_run_then_resume_without_duplicates(tmp_path, repo_root):
    run = RunDir(tmp_path / "r")
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(run.path)], cwd=repo_root,
                             stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    for _ in range(50):
        acknowledged = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    ids = [r["id"] for r in run.load_results()]
    assert len(ids) >= acknowledged + 1  # every acknowledged record survived
    with run.open_writer() as w:
        done = w.done_ids()
        assert done == set(ids)
        for i in range(len(ids) + 5):
            if f"p{i}" not in done:
                w.append({"id": f"p{i}", "verdict": "wrong"})
    raw = [json.loads(x)["id"] for x in run.results_path.read_text().splitlines()]
    assert len(raw) == len(set(raw)), "resume wrote a duplicate"
    assert len(raw) == len(ids) + 5


def test_duplicate_id_refused_unless_retrying_an_error(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.open_writer() as w:
        w.append(rec(0))
        w.append(rec(1, verdict=None, error="ReadTimeout"))
        with pytest.raises(DuplicateResult):
            w.append(rec(0, verdict="wrong"))
        assert w.error_ids() == {"p1"}
        assert w.done_ids(include_errors=False) == {"p0"}
        w.append(rec(1, verdict="correct"))  # --retry-errors re-ran it
        w.append(rec(0, verdict="wrong"), replace=True)
        assert w.error_ids() == set()
    loaded = run.load_results()
    assert [(r["id"], r["verdict"]) for r in loaded] == [("p0", "wrong"), ("p1", "correct")]
    assert len(list(run.iter_results())) == 4


def test_done_ids_and_error_ids_on_disk(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.open_writer() as w:
        w.append(rec(0))
        w.append(rec(1, error="boom"))
    assert run.done_ids() == {"p0", "p1"}
    assert run.done_ids(include_errors=False) == {"p0"}
    assert run.error_ids() == {"p1"}


def test_manifest_is_written_atomically(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.manifest == {}
    run.write_manifest({"benchmark": "gsm8k", "model": "m", "created": 1.0})
    run.update_manifest(finished=2.0)
    assert run.manifest == {"benchmark": "gsm8k", "model": "m", "created": 1.0, "finished": 2.0}
    assert [p.name for p in run.path.iterdir()] == ["manifest.json"]  # no temp files left
    run.manifest_path.write_text('{"model": "m",\n  "x": }', encoding="utf-8")
    with pytest.raises(RunFileError, match=r"manifest.json:2:"):
        run.manifest


def test_tail_reads_only_new_complete_lines(tmp_path):
    run = RunDir(tmp_path / "r")
    tail = run.tail()
    assert tail.read_new() == []
    with run.open_writer() as w:
        w.append(rec(0))
        w.append(rec(1))
        assert [r["id"] for r in tail.read_new()] == ["p0", "p1"]
        assert tail.read_new() == []
        with open(run.results_path, "ab") as fh:
            fh.write(json.dumps(rec(2)).encode()[:10])  # a line being written
        assert tail.read_new() == []
        with open(run.results_path, "ab") as fh:
            fh.write(json.dumps(rec(2)).encode()[10:] + b"\n" + b"not json\n")
        assert [r["id"] for r in tail.read_new()] == ["p2"]
        assert tail.problems and tail.problems[0].startswith(f"{run.results_path}:4:")
    assert tail.offset == run.results_path.stat().st_size


def test_tail_restarts_when_file_shrinks(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(rec(0)) + "\n" + json.dumps(rec(1)) + "\n")
    tail = JsonlTail(path)
    assert len(tail.read_new()) == 2
    path.write_text(json.dumps(rec(5)) + "\n")
    assert [r["id"] for r in tail.read_new()] == ["p5"] and tail.resets == 1


def test_adjudication_undo_pops_back_to_previous_verdict(tmp_path):
    run = RunDir(tmp_path / "r")
    run.append_adjudication("p0", "correct", grader_verdict="uncertain", reviewer="ann")
    run.append_adjudication("p0", "wrong", "second look", grader_verdict="uncertain", reviewer="ann")
    run.append_adjudication("p1", "correct", grader_verdict="uncertain")
    assert run.load_adjudications()["p0"]["verdict"] == "wrong"
    assert run.load_adjudications()["p0"]["note"] == "second look"
    run.append_adjudication("p0", None, reviewer="ann")  # undo
    adjs = run.load_adjudications()
    assert adjs["p0"]["verdict"] == "correct" and adjs["p0"]["reviewer"] == "ann"
    run.undo_adjudication("p0", reviewer="ann")
    adjs = run.load_adjudications()
    assert "p0" not in adjs and adjs["p1"]["verdict"] == "correct"
    run.undo_adjudication("p0", reviewer="ann")  # undo with nothing left is harmless
    assert "p0" not in run.load_adjudications()
    log = run.adjudication_log()
    assert len(log) == 6 and set(log[0]) >= {"id", "verdict", "note", "grader_verdict", "time", "reviewer"}


def test_undo_takes_back_only_the_reviewers_own_verdict(tmp_path):
    run = RunDir(tmp_path / "r")
    run.append_adjudication("p0", "correct", reviewer="alice")
    run.append_adjudication("p0", "wrong", "units missing", reviewer="bob")
    run.undo_adjudication("p0", reviewer="alice")  # Alice takes back her verdict, not Bob's later one
    adj = run.load_adjudications()["p0"]
    assert (adj["verdict"], adj["reviewer"], adj["history"]) == ("wrong", "bob", 1)
    run.undo_adjudication("p0", reviewer="alice")  # nothing of Alice's is left: Bob's stands
    assert run.load_adjudications()["p0"]["verdict"] == "wrong"
    run.undo_adjudication("p0", reviewer="bob")
    assert "p0" not in run.load_adjudications()
    # the same through two reviewers' sessions on the review queue
    with run.open_writer() as w:
        w.append(rec(5, verdict="uncertain"))
    from mathbench.core.evaluation import AdjudicationSession

    alice = AdjudicationSession(run, reviewer="alice")
    bob = AdjudicationSession(run, reviewer="bob")
    alice.go_to_id("p5")
    alice.accept()
    bob.reload()
    bob.go_to_id("p5")
    bob.reject()
    alice.undo()
    assert run.load_adjudications()["p5"]["verdict"] == "wrong"


def test_note_keeps_verdict_and_is_undoable(tmp_path):
    run = RunDir(tmp_path / "r")
    run.append_adjudication("p0", "wrong")
    run.append_note("p0", "units missing")
    adj = run.load_adjudications()["p0"]
    assert adj["verdict"] == "wrong" and adj["note"] == "units missing"
    run.undo_adjudication("p0")
    adj = run.load_adjudications()["p0"]
    assert adj["verdict"] == "wrong" and adj["note"] is None
    with pytest.raises(ValueError):
        run.append_adjudication("p0", "uncertain")


def test_adjudication_append_is_fsynced(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "r")
    calls = []
    real = os.fsync
    monkeypatch.setattr(runs.os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    run.append_adjudication("p0", "correct")
    assert calls


def test_effective_verdict_prefers_standing_human_verdict():
    r = {"id": "a", "verdict": "uncertain"}
    assert effective_verdict(r) == "uncertain"
    assert effective_verdict(r, {"a": {"verdict": "correct"}}) == "correct"
    assert effective_verdict(r, {"a": {"verdict": None, "note": "n"}}) == "uncertain"
    assert effective_verdict({"id": "b", "verdict": None, "error": "x"}, {}) is None


def test_list_runs_summarises_workspace(tmp_path):
    ws = tmp_path / "ws"
    a = RunDir(ws / "runs" / "a")
    a.write_manifest({"benchmark": "gsm8k", "model": "m1", "created": 100.0})
    with a.open_writer() as w:
        w.append(rec(0, verdict="correct"))
        w.append(rec(1, verdict="uncertain"))
    a.append_adjudication("p1", "correct")
    b = RunDir(ws / "runs" / "b")
    b.write_manifest({"benchmark": {"name": "math"}, "model": "m2"})
    (ws / "runs" / "not-a-run").mkdir()
    infos = {i.name: i for i in list_runs(ws)}
    assert set(infos) == {"a", "b"}
    assert infos["a"].total == 2 and infos["a"].accuracy == 1.0 and infos["a"].benchmark == "gsm8k"
    assert infos["a"].created == 100.0 and not infos["a"].running
    assert infos["b"].total == 0 and infos["b"].accuracy is None and infos["b"].benchmark == "math"
    assert json.loads(json.dumps(infos["a"].to_dict()))["model"] == "m1"


def test_list_runs_sees_new_records_and_verdicts(tmp_path):
    run = RunDir(tmp_path / "ws" / "runs" / "a")
    run.write_manifest({"benchmark": "gsm8k", "model": "m"})
    with run.open_writer() as w:
        w.append(rec(0, verdict="uncertain"))
        [info] = list_runs(tmp_path / "ws")
        assert (info.total, info.correct, info.running) == (1, 0, True)
        w.append(rec(1, verdict="correct"))
    run.append_adjudication("p0", "correct")
    [info] = list_runs(tmp_path / "ws")
    assert (info.total, info.correct, info.running) == (2, 2, False)
