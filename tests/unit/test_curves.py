"""The trade-off curves built from synthetic results: points, their positions on the curves,
the Pareto front, the headline, the figure and the tables."""

import json
import re

import pytest

from reports.compare import build_report
from reports.comparison.build import build
from reports.comparison.curves import CurvePoint, curve_points, curves, headline, pareto_front

BASE = {"base": "x", "base_sha256": "aaa"}


def write(folder, label, spider_right: int, loss_shift: float, identity: dict, gold_drop: float | None = None) -> None:
    cases = []
    if gold_drop is not None:  # the gold SQL suite: loss per answer token falls by gold_drop
        cases += [
            {
                "suite": "gold_sql",
                "case_id": f"db-{i:04d}",
                "outcome": "passed",
                "props": {"category": "easy", "loglikelihood": -30.0 - i % 5 + 10 * gold_drop, "tokens": 10},
            }
            for i in range(60)
        ]
    for i in range(60):
        cases.append(
            {
                "suite": "spider",
                "case_id": f"db-{i:04d}",
                "outcome": "passed" if i < spider_right else "failed",
                "props": {"hardness": "easy", "db_id": "db"},
            }
        )
        cases.append(
            {
                "suite": "perplexity",
                "case_id": f"anatomy-val-{i:04d}-text",
                "outcome": "passed",
                "props": {
                    "category": "stem" if i % 2 else "other",
                    "loglikelihood": -50.0 - i % 7 - 20 * loss_shift,
                    "tokens": 20,
                },
            }
        )
    data = {
        "model": label,
        "identity": identity,
        "settings": {"spider_shots": 0},
        "suites": {},
        "cases": cases,
    }
    (folder / "results").mkdir(exist_ok=True)
    (folder / "results" / f"{label.replace('@', '_').replace('=', '_')}.json").write_text(json.dumps(data))


def adapter(experiment: str, sha: str, **extra) -> dict:
    meta = {"experiment": experiment, **extra.pop("meta", {})}
    return {**BASE, "adapter_sha256": sha, "adapter_meta": meta, **extra}


@pytest.fixture
def results(tmp_path):
    write(tmp_path, "base", 10, 0.0, dict(BASE))
    write(tmp_path, "v1@step=5", 20, 0.02, adapter("v1", "s5", meta={"snapshot": True, "fraction": 0.5}))
    write(tmp_path, "v1@scale=0.5", 25, 0.01, adapter("v1", "f1", adapter_scale=0.5))
    write(tmp_path, "v1", 40, 0.10, adapter("v1", "f1"))
    write(tmp_path, "v2", 30, 0.30, adapter("v2", "f2"))  # dominated by v1: less learning, more forgetting
    return tmp_path


def test_points_sit_on_their_experiments_curves(results):
    report = build(results, resamples=200)
    points = {p.label: p for p in curve_points(report)}
    assert set(points) == {"v1_step_5", "v1_scale_0.5", "v1", "v2"}  # labels are the results files'
    assert (points["v1_step_5"].kind, points["v1_step_5"].t) == ("snapshot", 0.5)
    assert (points["v1_scale_0.5"].kind, points["v1_scale_0.5"].t) == ("scale", 0.5)
    assert points["v1"].kind == "final" and points["v1"].learning == pytest.approx(50.0)  # 10/60 -> 40/60
    assert points["v1"].forgetting == pytest.approx(20 * 0.10 / 20)  # loss per token rises by 0.1 nats
    assert points["v1"].forgetting_ci[0] <= points["v1"].forgetting <= points["v1"].forgetting_ci[1]
    lines = curves(list(points.values()))
    assert {cat for cat, _, _ in points["v1"].categories} == {"stem", "other"}
    assert lines_ok(points)
    assert lines[("v1", "snapshots")][0] == (0.0, 0.0)  # from the base model at the origin
    assert lines[("v1", "snapshots")][-1] == (points["v1"].learning, points["v1"].forgetting)  # to the final adapter
    assert ("v1", "λ") in lines and ("v2", "snapshots") not in lines


def lines_ok(points) -> bool:
    from reports.comparison.curves import category_points

    stem = {p.label: p for p in category_points(list(points.values()), "stem")}
    return stem["v1"].forgetting == pytest.approx(0.1)  # every text's loss rose by the same 0.1


def test_pareto_front_and_headline(results):
    report = build(results, resamples=200)
    points = curve_points(report)
    front = pareto_front(points)
    assert front == {"v1", "v1_scale_0.5"}  # v2 and the snapshot are dominated (less learning, more forgetting)
    text = headline(points)
    assert text.startswith("Best trade-off: v1 ")
    assert "significant" in text
    full = headline(points, report)  # with the paired tests against every other point
    assert "vs v2: Spider EX +16.67 points" in full  # 40/60 vs 30/60 on the same cases
    low, high = map(float, re.search(r"vs v2: Spider EX \+16\.67 points \[([-+][\d.]+), ([-+][\d.]+)\]", full).groups())
    assert 0 < low < 16.67 < high  # Newcombe's paired interval: v1 right on every case v2 got, and 10 more
    assert "forgetting -0.2000 nats" in full  # v1's loss per token rose 0.1, v2's 0.3
    assert "gold SQL" not in full  # no gold SQL suite in these results


def test_against_another_adapter_the_gold_sql_change_is_tested_too(tmp_path):
    write(tmp_path, "base", 10, 0.0, dict(BASE), gold_drop=0.0)
    write(tmp_path, "v1", 20, 0.05, adapter("v1", "f1"), gold_drop=0.5)
    write(tmp_path, "v2", 20, 0.10, adapter("v2", "f2"), gold_drop=0.8)  # more learning, more forgetting
    report = build(tmp_path, resamples=200)
    full = headline(curve_points(report), report)
    assert full.startswith("Best trade-off: v2 ")  # the learning axis is the gold SQL loss, where v2 learned more
    assert "vs v1: Spider EX +0.00 points" in full  # the same 20 cases right
    assert "gold SQL loss -0.3000 nats (Holm p <0.001)" in full  # each case 0.3 nats per token lower
    assert "forgetting +0.0500 nats" in full


def test_pareto_front_ignores_points_worse_than_the_base():
    worse = CurvePoint("bad", "e", "final", 1.0, -5.0, None, None, 0.2, (0.1, 0.3), 0.01, "s")
    assert pareto_front([worse]) == set()
    assert "base model is the whole front" in headline([worse])


def test_the_report_draws_the_curves(results):
    index = build_report(results, resamples=200)
    page = index.read_text()
    assert "Trade-off curves" in page and "Learning-forgetting plane" in page
    assert "The learning-forgetting plane per category" in page  # the per-category panels
    assert page.count("data:image/png;base64,") >= 1  # the curve figure (no MMLU here: no accuracy plane)
    assert "## Trade-off curves" in (index.parent / "summary.md").read_text()


def test_the_gold_sql_loss_is_the_learning_axis_when_every_point_has_it(tmp_path):
    """EX of a small model barely moves; the gold SQL's loss does, so it becomes the x axis."""
    write(tmp_path, "base", 10, 0.0, dict(BASE), gold_drop=0.0)
    write(tmp_path, "v1", 10, 0.05, adapter("v1", "f1"), gold_drop=0.2)
    write(tmp_path, "v1@scale=0.5", 10, 0.02, adapter("v1", "f1", adapter_scale=0.5), gold_drop=0.1)
    points = {p.label: p for p in curve_points(build(tmp_path, resamples=200))}
    assert points["v1"].learning_axis.startswith("learning: Spider gold SQL loss")
    assert points["v1"].learning == pytest.approx(0.2) and points["v1"].ex_points == pytest.approx(0.0)
    assert points["v1_scale_0.5"].learning == pytest.approx(0.1)
    assert pareto_front(list(points.values())) == {"v1", "v1_scale_0.5"}  # more learning costs more forgetting
