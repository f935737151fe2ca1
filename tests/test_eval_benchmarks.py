"""Benchmark loading: stable ids, filters, seeded shuffle, clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from mathbench.core.evaluation.benchmarks import BenchmarkError, load_benchmark


def test_gsm8k_and_math_from_shared_data(shared_data):
    g = load_benchmark("gsm8k")
    assert len(g) == 1319 and g[42].id == "gsm8k-test-00042" and "####" in g[42].gold
    m = load_benchmark("math", levels=["Level 5"], subjects=["geometry"])
    assert m and all(p.level == 5 and p.subject == "Geometry" for p in m)
    assert len({p.id for p in load_benchmark("math")}) == 5000


def test_limit_and_seeded_shuffle_are_stable(shared_data):
    a = load_benchmark("gsm8k", shuffle_seed=7, limit=20)
    b = load_benchmark("gsm8k", shuffle_seed=7, limit=20)
    c = load_benchmark("gsm8k", shuffle_seed=8, limit=20)
    assert [p.id for p in a] == [p.id for p in b] != [p.id for p in c]
    assert [p.id for p in load_benchmark("gsm8k", limit=3)] == [f"gsm8k-test-0000{i}" for i in range(3)]


def test_custom_jsonl_json_ids_and_hash_ids(tmp_path):
    rows = [{"problem": "1+1?", "answer": "2", "level": 1, "subject": "Arith", "source": "x"},
            {"id": "mine-7", "question": "2+2?", "solution": "\\boxed{4}"}]
    jl = tmp_path / "my_set.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ps = load_benchmark(str(jl))
    assert [p.id for p in ps] == ["my-set-00000", "mine-7"] and ps[0].meta["source"] == "x"
    js = tmp_path / "other.json"
    js.write_text(json.dumps({"data": rows}, indent=2))
    assert [p.gold for p in load_benchmark(str(js))] == ["2", "\\boxed{4}"]
    h = load_benchmark(str(jl), id_mode="hash")
    assert h[0].id.startswith("my-set-") and len(h[0].id) == len("my-set-") + 12


def test_bad_files_name_the_place(tmp_path):
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"question": "a", "answer": "1"}\n{"question": "b", "answer": \n')
    with pytest.raises(BenchmarkError, match=r"bad\.jsonl:2:\d+"):
        load_benchmark(str(jl))
    js = tmp_path / "bad.json"
    js.write_text('[\n {"question": "a",\n  "answer": }\n]')
    with pytest.raises(BenchmarkError, match=r"bad\.json:3:\d+"):
        load_benchmark(str(js))
    nofield = tmp_path / "nofield.jsonl"
    nofield.write_text('{"text": "a"}\n')
    with pytest.raises(BenchmarkError, match=r"nofield\.jsonl:1: no question field"):
        load_benchmark(str(nofield))
    with pytest.raises(BenchmarkError, match="not found"):
        load_benchmark("no-such-benchmark")


def test_hf_spec_without_datasets_is_a_clear_error():
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(BenchmarkError, match="datasets"):
            load_benchmark("hf:openai/gsm8k:main:test")
    else:
        pytest.skip("datasets is installed; loading would need the network")


def test_parquet_is_read_or_clearly_refused(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "set.parquet"
    try:
        pd.DataFrame([{"question": "1+1?", "answer": "2"}]).to_parquet(path)
    except ImportError:
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(BenchmarkError, match="parquet"):
            load_benchmark(str(path))
    else:
        assert [p.gold for p in load_benchmark(str(path))] == ["2"]
