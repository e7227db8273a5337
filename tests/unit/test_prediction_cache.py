import multiprocessing as mp
import sqlite3

import pytest

from tradeoff.errors import UserError
from tradeoff.inference.cache import PredictionCache, prediction_key
from tradeoff.inference.once_per_device import Job, compute_once


def test_key_depends_on_model_prompt_and_settings():
    base = prediction_key("m", "p", {"n": 1})
    assert base == prediction_key("m", "p", {"n": 1})
    assert (
        len(
            {
                base,
                prediction_key("m2", "p", {"n": 1}),
                prediction_key("m", "p2", {"n": 1}),
                prediction_key("m", "p", {"n": 2}),
            }
        )
        == 4
    )


def test_roundtrip_and_persistence(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")
    cache.put_many("m", [("k1", "case-1", "SELECT 1"), ("k2", "case-2", {"ll": [1.5, -2.0]})])
    cache.close()
    again = PredictionCache(tmp_path / "c.sqlite")
    assert again.get_many(["k1", "k2", "k3"]) == {"k1": "SELECT 1", "k2": {"ll": [1.5, -2.0]}}


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="prediction cache"):
        PredictionCache(blocker / "c.sqlite")


def jobs(n):
    return [Job(f"key{i}", f"case{i}", i) for i in range(n)]


def test_computes_only_what_is_missing(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")
    calls = []

    def compute(todo, write):
        calls.append([j.case_id for j in todo])
        write([(j, j.payload * 10) for j in todo])

    got = compute_once(cache, "m", jobs(5), tmp_path / "locks", 0, 1, compute)
    assert got == {f"key{i}": i * 10 for i in range(5)}
    compute_once(cache, "m", jobs(7), tmp_path / "locks", 0, 1, compute)
    assert calls == [[f"case{i}" for i in range(5)], ["case5", "case6"]]
    compute_once(cache, "m", jobs(7), tmp_path / "locks", 0, 1, compute)
    assert len(calls) == 2  # a rerun reuses the cache entirely


def test_interrupted_batch_keeps_finished_batches(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")

    def crash_after_first_batch(todo, write):
        write([(j, "done") for j in todo[:2]])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute_once(cache, "m", jobs(4), tmp_path / "locks", 0, 1, crash_after_first_batch)
    resumed = []
    compute_once(
        cache,
        "m",
        jobs(4),
        tmp_path / "locks",
        0,
        1,
        lambda todo, write: (resumed.extend(j.case_id for j in todo), write([(j, "late") for j in todo])),
    )
    assert resumed == ["case2", "case3"]


def test_a_single_worker_fills_every_device_share(tmp_path):
    cache = PredictionCache(tmp_path / "c.sqlite")
    got = compute_once(cache, "m", jobs(5), tmp_path / "locks", 1, 2, lambda todo, write: write([(j, 0) for j in todo]))
    assert len(got) == 5


def _worker(path, locks, log, worker):
    cache = PredictionCache(path)

    def compute(todo, write):
        with open(log, "a") as handle:
            handle.write(f"{worker}:{len(todo)}\n")
        for j in todo:
            write([(j, j.payload)])

    compute_once(cache, "m", jobs(40), locks, 0, 1, compute)


def test_concurrent_workers_compute_once_and_agree(tmp_path):
    """Two processes on one device: exactly one computes, the other reads; the cache stays valid."""
    log = tmp_path / "log"
    procs = [
        mp.get_context("spawn").Process(target=_worker, args=(tmp_path / "c.sqlite", tmp_path / "locks", log, w))
        for w in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(log.read_text().splitlines()) == 1
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM predictions").fetchone()[0] == 40


def test_a_locked_cache_is_retried_not_reported(monkeypatch):
    from tradeoff.inference import cache as prediction_cache

    monkeypatch.setattr(prediction_cache.time, "sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert prediction_cache._retrying(flaky) == "done" and len(calls) == 3
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        prediction_cache._retrying(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database or disk is full")))
