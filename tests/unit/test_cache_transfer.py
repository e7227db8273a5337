"""`tradeoff cache export|import`: an unfinished run's cache rows carried to another machine."""

import gzip
import json

import pytest

from tradeoff.cli import main as cli
from tradeoff.errors import UserError
from tradeoff.inference.cache import PredictionCache, prediction_key
from tradeoff.inference.cache_transfer import export, import_files, load, parse_since

PROVENANCE = {"code": 5, "device": "cpu", "git": {"commit": "abc", "dirty": False}}


def _filled(path, rows, provenance=PROVENANCE):
    cache = PredictionCache(path)
    cache.put_many("model-key", rows, provenance)
    cache.close()


def _rows(n, prefix="case"):
    return [
        (prediction_key("model-key", f"prompt {prefix} {i}", {}), f"{prefix}-{i}", {"text": f"SELECT {i}"})
        for i in range(n)
    ]


def test_exported_rows_read_back_equal_with_their_provenance(tmp_path):
    rows = _rows(3)
    _filled(tmp_path / "a.sqlite", rows)
    assert export(tmp_path / "rows.jsonl.gz", 0.0, tmp_path / "a.sqlite") == 3
    assert import_files([tmp_path / "rows.jsonl.gz"], tmp_path / "b.sqlite") == 3
    b = PredictionCache(tmp_path / "b.sqlite")
    keys = [k for k, _, _ in rows]
    assert b.get_many(keys) == {k: v for k, _, v in rows}
    ids = b.provenance_ids(keys)
    assert all(ids.values())
    assert list(b.records(ids.values()).values()) == [PROVENANCE]
    b.close()
    # importing again adds nothing and changes nothing
    assert import_files([tmp_path / "rows.jsonl.gz"], tmp_path / "b.sqlite") == 0


def test_export_is_deterministic_and_filters_by_time(tmp_path):
    _filled(tmp_path / "a.sqlite", _rows(2, "old"))
    cache = PredictionCache(tmp_path / "a.sqlite")
    cutoff = max(r[4] for r in cache.rows_since(0.0)[0]) + 1e-3
    cache.close()
    import time

    while time.time() <= cutoff:
        time.sleep(0.01)
    _filled(tmp_path / "a.sqlite", _rows(2, "new"))
    export(tmp_path / "x.gz", cutoff, tmp_path / "a.sqlite")
    export(tmp_path / "y.gz", cutoff, tmp_path / "a.sqlite")
    assert (tmp_path / "x.gz").read_bytes() == (tmp_path / "y.gz").read_bytes()
    rows, _ = load(tmp_path / "x.gz")
    assert sorted(r[2] for r in rows) == ["new-0", "new-1"]


def _write(path, lines):
    path.write_bytes(gzip.compress(("\n".join(json.dumps(x) for x in lines) + "\n").encode()))


def _header(records, rows):
    return {"format": "tradeoff-prediction-cache", "version": 1, "records": records, "rows": rows}


GOOD_ROW = ["a" * 64, "m", "case-1", json.dumps("SELECT 1"), 1.0, None]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([_header(0, 2), {"row": GOOD_ROW}], "header says"),
        ([{"format": "other"}], "not a tradeoff-prediction-cache file"),
        ([_header(0, 1), {"row": ["xyz", *GOOD_ROW[1:]]}], "not a sha256"),
        ([_header(0, 1), {"row": [*GOOD_ROW[:3], "{not json", *GOOD_ROW[4:]]}], "not JSON"),
        ([_header(0, 1), {"row": [*GOOD_ROW[:5], "unknown-id"]}], "does not hold"),
        ([_header(0, 1), {"something": 1}], "neither a record nor a row"),
    ],
)
def test_a_bad_file_is_refused_whole(tmp_path, lines, message):
    good, bad = tmp_path / "good.gz", tmp_path / "bad.gz"
    _write(good, [_header(0, 1), {"row": GOOD_ROW}])
    _write(bad, lines)
    with pytest.raises(UserError, match=message):
        import_files([good, bad], tmp_path / "c.sqlite")
    cache = PredictionCache(tmp_path / "c.sqlite")
    assert cache.get_many([GOOD_ROW[0]]) == {}  # the good file was not imported either
    cache.close()


def test_the_command_line_reports_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "plain.txt").write_text("not gzip")
    assert cli(["cache", "--cache", str(tmp_path / "c.sqlite"), "import", str(tmp_path / "plain.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not a gzip'd export" in err and "\n" not in err
    with pytest.raises(UserError, match="time zone"):
        parse_since("2026-12-03T15:55:00")
    assert parse_since("2026-12-03T15:55:00Z") == parse_since("1796313300")
