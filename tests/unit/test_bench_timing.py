"""The benches' timing harness: contenders interleaved, medians and ranges, figures as JSON."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.timing import Timing, interleaved, machine, ratio, write_figures  # noqa: E402


def test_contenders_alternate_every_round_and_the_last_results_are_kept():
    calls = []

    def contender(name):
        def run():
            calls.append(name)
            return f"{name}{len(calls)}"

        return run

    timings, results = interleaved({"a": contender("a"), "b": contender("b")}, rounds=3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert results == {"a": "a5", "b": "b6"}
    assert all(len(t.seconds) == 3 for t in timings.values())
    with pytest.raises(ValueError):
        interleaved({"a": contender("a")}, rounds=0)


def test_medians_ratios_and_json(tmp_path):
    slow, fast = Timing("slow", [4.0, 9.0, 5.0]), Timing("fast", [1.0, 2.0, 50.0])  # one outlier each
    assert slow.median == 5.0 and fast.median == 2.0 and fast.spread == (1.0, 50.0)
    assert ratio(slow, fast) == pytest.approx(2.5)  # medians: the outlier does not move it
    out = tmp_path / "figures.json"
    write_figures(out, {"questions": 10}, {"slow": slow, "fast": fast})
    data = json.loads(out.read_text())
    assert (
        data["questions"] == 10 and data["timings"]["fast"]["median"] == 2.0 and data["timings"]["fast"]["max"] == 50.0
    )
    assert data["machine"] == machine()  # every figure file says what it was measured on
