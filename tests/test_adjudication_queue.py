"""The adjudication queue on a real run directory: decisions on disk, resume, skip, notes and undo."""

from __future__ import annotations

import json

import pytest

from mathbench.core.evaluation.adjudication import AdjudicationSession, first_unreviewed, needs_review, review_queue
from mathbench.core.evaluation.rundir import RunDir

VERDICTS = ["correct", "uncertain", "wrong", "uncertain", "uncertain", "correct", "wrong", "uncertain"]


@pytest.fixture
def run(tmp_path):
    r = RunDir(tmp_path / "run")
    r.write_manifest({"benchmark": "gsm8k", "model": "m"})
    with r.open_writer() as w:
        for i, v in enumerate(VERDICTS):
            w.append({"id": f"q{i}", "question": f"problem {i}", "verdict": v, "level": None, "error": None})
    return r


def on_disk(run):
    return [json.loads(x) for x in run.adjudications_path.read_text(encoding="utf-8").splitlines()]


def test_queue_holds_uncertain_and_optionally_wrong(run):
    records = run.load_results()
    assert [r["id"] for r in review_queue(records)] == ["q1", "q3", "q4", "q7"]
    assert [r["id"] for r in review_queue(records, include_wrong=True)] == ["q1", "q2", "q3", "q4", "q6", "q7"]
    assert needs_review({"verdict": "uncertain"}) and not needs_review({"verdict": "wrong"})
    queue = review_queue(records)
    assert first_unreviewed(queue, {"q1": {"verdict": "correct"}}) == 1
    assert first_unreviewed(queue, {"q1": {"verdict": None, "note": "x"}}) == 0  # a note alone is no review


def test_decision_is_on_disk_before_the_queue_moves(run):
    s = AdjudicationSession(run, reviewer="ann")
    assert s.current["id"] == "q1" and (s.reviewed, s.remaining, s.total) == (0, 4, 4)
    before = s.accuracy
    s.accept()
    [entry] = on_disk(run)
    assert entry["id"] == "q1" and entry["verdict"] == "correct" and entry["grader_verdict"] == "uncertain"
    assert entry["reviewer"] == "ann" and isinstance(entry["time"], float)
    assert s.current["id"] == "q3" and s.reviewed == 1 and s.remaining == 3
    assert s.accuracy == pytest.approx(before + 1 / len(VERDICTS))
    s.reject("off by one")
    assert on_disk(run)[-1] == {**on_disk(run)[-1], "id": "q3", "verdict": "wrong", "note": "off by one"}
    assert s.current["id"] == "q4"


def test_leaving_and_coming_back_resumes_at_first_unreviewed(run):
    s = AdjudicationSession(run)
    s.skip()                       # q1 stays unreviewed
    s.accept()                     # q3
    assert s.current["id"] == "q4"
    again = AdjudicationSession(run)
    assert again.current["id"] == "q1" and again.reviewed == 1
    again.accept()                 # q1
    assert again.current["id"] == "q4"  # q3 already reviewed, skipped over


def test_skip_wraps_and_done_when_all_reviewed(run):
    s = AdjudicationSession(run)
    for _ in range(4):
        s.skip()
    assert s.current["id"] == "q1"  # wrapped round
    for _ in range(4):
        s.accept()
    assert s.current is None and s.done and s.remaining == 0
    with pytest.raises(LookupError):
        s.accept()
    assert AdjudicationSession(run).current is None


def test_undo_is_unlimited_back_through_the_session(run):
    run.append_adjudication("q7", "wrong")  # an earlier session's verdict
    s = AdjudicationSession(run)
    s.accept()          # q1
    s.reject()          # q3
    s.accept()          # q4 -> next is none (q7 reviewed earlier)
    assert s.current is None
    s.go_to_id("q7")
    s.accept()          # q7 changed from wrong to correct
    assert run.load_adjudications()["q7"]["verdict"] == "correct"
    assert s.undo()["id"] == "q7"
    assert run.load_adjudications()["q7"]["verdict"] == "wrong"  # back to the earlier session's verdict
    assert s.undo()["id"] == "q4" and not s.adjudication()
    assert s.undo()["id"] == "q3"
    assert s.undo()["id"] == "q1"
    assert s.undo() is None and not s.can_undo  # nothing before the session start
    adjs = run.load_adjudications()
    assert set(adjs) == {"q7"} and adjs["q7"]["verdict"] == "wrong"
    assert len(on_disk(run)) == 9  # append-only: 1 old + 4 verdicts + 4 undos
    assert AdjudicationSession(run).current["id"] == "q1"


def test_note_is_saved_and_undoable(run):
    s = AdjudicationSession(run)
    s.note("check the units")
    assert s.current["id"] == "q1"  # a note does not move on
    assert s.adjudication()["note"] == "check the units" and s.adjudication()["verdict"] is None
    assert s.reviewed == 0
    s.accept()
    adj = run.load_adjudications()["q1"]
    assert adj["verdict"] == "correct" and adj["note"] == "check the units"
    s.undo()
    s.undo()
    assert "q1" not in run.load_adjudications()


def test_reload_picks_up_new_uncertain_items(run):
    s = AdjudicationSession(run)
    for _ in range(4):
        s.accept()
    assert s.current is None
    with run.open_writer() as w:
        w.append({"id": "q8", "question": "late", "verdict": "uncertain", "error": None})
    s.reload()
    assert s.total == 5 and s.remaining == 1
    assert s.current["id"] == "q8"
    s.skip()  # the only unreviewed item comes round again
    assert s.current["id"] == "q8"


def test_include_wrong_queue(run):
    s = AdjudicationSession(run, include_wrong=True)
    assert s.total == 6
    s.go_to(1)
    assert s.current["id"] == "q2"
    s.reject()
    assert s.current["id"] == "q3"
    with pytest.raises(IndexError):
        s.go_to(99)


def test_undo_replay_matches_a_stack_model(tmp_path):
    """Any sequence of verdicts and undos on disk folds to what a per-id stack would hold."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from mathbench.core.evaluation.rundir import AdjudicationState

    actions = st.lists(st.tuples(st.sampled_from(["x", "y"]), st.sampled_from(["correct", "wrong", None])),
                       max_size=30)
    counter = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(actions)
    def check(seq):
        run = RunDir(tmp_path / f"r{next(counter)}")
        model: dict[str, list[str]] = {"x": [], "y": []}
        for rid, verdict in seq:
            run.append_adjudication(rid, verdict)
            if verdict is None:
                if model[rid]:
                    model[rid].pop()
            else:
                model[rid].append(verdict)
        adjs = run.load_adjudications()
        assert adjs == AdjudicationState(run.adjudication_log()).as_dict()
        for rid, stack in model.items():
            assert (adjs[rid]["verdict"] if rid in adjs else None) == (stack[-1] if stack else None)

    check()
