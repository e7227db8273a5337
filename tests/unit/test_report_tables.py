"""The report's numbers: accuracies, deltas, relative changes and pairing, on hand-made results."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from reports.comparison.build import build
from reports.comparison.loading import find_base, load_runs, load_training_runs

FIXTURES = Path(__file__).resolve().parents[1] / "helpers" / "fixtures_results"
BASE = {"base": "hf:tiny", "base_sha256": "aaa"}


def mmlu_case(subject: str, i: int, ok: bool, category: str | None = None) -> dict:
    props = {"subject": subject, "formulation": "letter", "answer": "A", "prediction": "A" if ok else "B"}
    if category:
        props["category"] = category
    return {
        "suite": "mmlu",
        "case_id": f"{subject}-test-{i:04d}-letter",
        "outcome": "passed" if ok else "failed",
        "props": props,
    }


def spider_case(case_id: str, ok: bool | None, hardness: str = "easy", set_match: bool | None = None) -> dict:
    if ok is None:
        return {
            "suite": "spider",
            "case_id": case_id,
            "outcome": "skipped",
            "props": {"hardness": hardness},
            "skip_reason": "missing database",
        }
    return {
        "suite": "spider",
        "case_id": case_id,
        "outcome": "passed" if ok else "failed",
        "props": {
            "db_id": case_id.split("-")[0],
            "hardness": hardness,
            "gold": "SELECT a FROM t",
            "prediction": "SELECT a FROM t",
            "failure": None if ok else "wrong_result",
            "set_match": ok if set_match is None else set_match,
        },
    }


def write_run(folder: Path, label: str, cases: list[dict], identity: dict | None = None, **extra) -> Path:
    path = folder / "results" / f"{label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"model": label, "identity": identity or dict(BASE), "settings": {}, "suites": {}, "cases": cases, **extra}
    path.write_text(json.dumps(data))
    return path


def adapter(sha: str = "fff", base: dict = BASE) -> dict:
    return {**base, "adapter_sha256": sha}


def test_deltas_and_relative_changes_on_fixture_table():
    report = build(FIXTURES, training_dir=FIXTURES / "training")
    assert [m.label for m in report.models] == ["base", "v1"] and not report.unpaired
    (comp,) = report.comparisons
    assert (comp.base.label, comp.new.label) == ("base", "v1")
    base_spider = comp.base.spider["overall"]["official"]
    assert (base_spider.successes, base_spider.n) == (2, 6)  # the skipped case is not scored
    sp = comp.spider["overall"]["official"]
    assert sp.base == pytest.approx(2 / 6) and sp.new == pytest.approx(3 / 6)
    assert sp.points == pytest.approx(100 / 6) and sp.relative == pytest.approx(50.0)
    assert (sp.paired.counts.only_base, sp.paired.counts.only_new, sp.paired.counts.n) == (1, 2, 6)
    assert sp.paired.p_value == pytest.approx(1.0)
    assert comp.spider["hard"]["official"].points == pytest.approx(-100.0)
    mm = comp.mmlu["letter"]["overall"]["micro"]
    assert (
        (mm.base, mm.new) == (0.5, 0.375) and mm.points == pytest.approx(-12.5) and mm.relative == pytest.approx(-25.0)
    )
    assert (mm.paired.counts.only_base, mm.paired.counts.only_new) == (3, 1)
    assert mm.paired.p_value == pytest.approx(0.625)
    assert comp.mmlu["letter"]["overall"]["macro"].paired is None  # McNemar is for questions, not subject means
    assert comp.mmlu["letter"]["social_sciences"]["micro"].relative == pytest.approx(-100 / 3)
    assert [s for s, _ in comp.subjects["letter"]] == [
        "abstract_algebra",
        "high_school_geography",
        "philosophy",
        "virology",
    ]
    assert report.formulation == "letter"
    # the fixture's base is 4-shot and v1 0-shot: a note flags that the prompts differ, another
    # that 4 questions per subject cannot make any per-subject test significant
    assert len(comp.notes) == 2
    assert any("spider_shots differs" in n and "base-0shot" in n for n in comp.notes)
    assert any("at most 4 paired questions per subject" in n and "exploratory" in n for n in comp.notes)
    assert report.training[0].label == "smollm2-135m/v1" and report.training[0].loss[-1] == (12.0, 1.12)


# Social Sciences, as the reference study reported it: 26.86 -> 23.50. Per subject (correct of total):
SOCIAL = {  # subject: (total, base correct, fine-tuned correct)
    "econometrics": (24, 8, 15),
    "high_school_geography": (700, 215, 177),
    "high_school_psychology": (800, 211, 192),
    "sociology": (800, 222, 182),
    "us_foreign_policy": (800, 183, 168),
}


def test_relative_change_is_not_a_mean_of_subject_ratios(tmp_path):
    """The reference study's pitfall: averaging per-subject relative changes turned a drop into '+6.92%'."""
    for label, which, ident in (("base", 1, BASE), ("v1", 2, adapter())):
        cases = [mmlu_case(s, i, i < row[which], "social_sciences") for s, row in SOCIAL.items() for i in range(row[0])]
        write_run(tmp_path, label, cases, ident)
    (comp,) = build(tmp_path, resamples=200).comparisons
    ch = comp.mmlu["letter"]["social_sciences"]["micro"]
    assert round(100 * ch.base, 2) == 26.86 and round(100 * ch.new, 2) == 23.50
    assert round(ch.points, 2) == -3.36
    assert round(ch.relative, 2) == -12.51
    subject_ratios = [c.relative for _, c in comp.subjects["letter"]]
    assert round(sum(subject_ratios) / len(subject_ratios), 2) == 6.92  # what the pitfall would report
    macro = comp.mmlu["letter"]["social_sciences"]["macro"]
    assert macro.relative == pytest.approx(100 * (macro.new - macro.base) / macro.base)
    # The macro average even rises (the 24-question subject weighs as much as an 800-question one):
    # why the report names micro and macro and never mixes them.
    assert macro.relative > 0


def test_paired_tests_use_only_questions_scored_in_both(tmp_path):
    write_run(
        tmp_path,
        "base",
        [
            spider_case("db-0001", True),
            spider_case("db-0002", False),
            spider_case("db-0003", True),
            spider_case("db-0004", None),
        ],
    )
    write_run(
        tmp_path,
        "v1",
        [
            spider_case("db-0001", True),
            spider_case("db-0002", True),
            spider_case("db-0004", True),
            spider_case("db-0005", False),
        ],
        adapter(),
    )
    (comp,) = build(tmp_path, resamples=200).comparisons
    ch = comp.spider["overall"]["official"]
    # each model's own row: its own scored questions
    assert comp.base.spider["overall"]["official"].value == pytest.approx(2 / 3)
    assert comp.new.spider["overall"]["official"].value == pytest.approx(3 / 4)
    # the change, its test and its interval: db-0001 and db-0002, the questions both scored
    assert ch.base == pytest.approx(1 / 2) and ch.new == pytest.approx(1.0) and ch.points == pytest.approx(50.0)
    assert ch.paired.counts.n == 2 and ch.paired.counts.only_new == 1
    assert any("2 in both, 1 only in base, 2 only in v1" in n for n in comp.notes)


def test_displayed_change_is_the_paired_change(tmp_path):
    """The issue's example: base scored on 100 questions (50 right), v1 only on the 50 both get
    right. The old report printed "+50.00 points, +100%" beside "p 1.000, paired n 50"."""
    write_run(tmp_path, "base", [spider_case(f"db-{i:04d}", i < 50) for i in range(100)])
    write_run(tmp_path, "v1", [spider_case(f"db-{i:04d}", True) for i in range(50)], adapter())
    (comp,) = build(tmp_path, resamples=200).comparisons
    ch = comp.spider["overall"]["official"]
    assert (ch.base, ch.new, ch.points, ch.relative) == (1.0, 1.0, 0.0, 0.0)
    assert ch.paired.counts.n == 50 and ch.paired.p_value == 1.0
    lo, hi = ch.paired.diff_ci
    assert lo < 0.0 < hi  # an interval, not the collapsed [0, 0] of a bootstrap at n/n
    assert any("50 in both, 50 only in base, 0 only in v1" in n for n in comp.notes)


def test_set_semantics_missing_in_older_results(tmp_path):
    case = spider_case("db-0001", True)
    del case["props"]["set_match"]
    write_run(tmp_path, "base", [case])
    (model,) = build(tmp_path, resamples=100).models
    assert model.spider["overall"]["official"].value == 1.0
    assert model.spider["overall"]["set"].value is None


def test_fine_tuned_runs_pair_with_the_base_of_the_same_weights(tmp_path):
    other = {"base": "hf:other", "base_sha256": "bbb"}
    write_run(tmp_path, "base", [spider_case("db-0001", True)])
    write_run(tmp_path, "base-rerun", [spider_case("db-0001", True)])
    write_run(tmp_path, "mistral-base", [spider_case("db-0001", True)], other)
    write_run(tmp_path, "v1", [spider_case("db-0001", False)], adapter())
    write_run(tmp_path, "m1", [spider_case("db-0001", False)], adapter("eee", other))
    write_run(
        tmp_path, "orphan", [spider_case("db-0001", False)], adapter("ddd", {"base": "hf:gone", "base_sha256": "ccc"})
    )
    runs = {r.label: r for r in load_runs(tmp_path)}
    assert find_base(runs["v1"], list(runs.values())).label == "base"
    assert find_base(runs["v1"], list(runs.values()), base_label="base-rerun").label == "base-rerun"
    assert find_base(runs["m1"], list(runs.values())).label == "mistral-base"
    assert find_base(runs["base"], list(runs.values())) is None
    report = build(tmp_path, resamples=100)
    assert {(c.base.label, c.new.label) for c in report.comparisons} == {("base", "v1"), ("mistral-base", "m1")}
    assert report.unpaired == ["orphan"]
    assert [m.label for m in report.models][:3] == ["base", "base-rerun", "mistral-base"]  # bases first


def test_against_compares_every_fine_tuned_run_with_the_named_base_whatever_its_prompt(tmp_path):
    """By default a 0-shot adapter is compared with the 0-shot base (the fine-tuning effect);
    --against base gives the reference study's comparison with its 4-shot base, flagged."""
    four, zero = {"settings": {"spider_shots": 4}}, {"settings": {"spider_shots": 0}}
    write_run(tmp_path, "base", [spider_case("db-0001", False), spider_case("db-0002", False)], **four)
    write_run(tmp_path, "base-0shot", [spider_case("db-0001", True), spider_case("db-0002", False)], **zero)
    write_run(tmp_path, "v1", [spider_case("db-0001", True), spider_case("db-0002", True)], adapter(), **zero)
    (default,) = build(tmp_path, resamples=100).comparisons
    assert default.base.label == "base-0shot" and default.spider["overall"]["official"].points == pytest.approx(50)
    (reference,) = build(tmp_path, resamples=100, against="base").comparisons
    assert reference.base.label == "base" and reference.spider["overall"]["official"].points == pytest.approx(100)
    assert any("spider_shots differs" in n for n in reference.notes)
    with pytest.raises(FileNotFoundError, match="base runs: base, base-0shot"):
        build(tmp_path, resamples=100, against="v1")  # not a base run


def test_unreadable_and_foreign_files_are_skipped(tmp_path):
    write_run(tmp_path, "base", [spider_case("db-0001", True)])
    (tmp_path / "results" / "broken.json").write_text("{not json")
    (tmp_path / "results" / "other.json").write_text('{"hello": 1}')
    (tmp_path / "results" / ".base.json.tmp").write_text("{}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = load_runs(tmp_path)
        assert [r.label for r in runs] == ["base"] and len(caught) == 2
        assert [r.label for r in load_runs(tmp_path / "results")] == ["base"]  # the results folder itself works too
    with pytest.raises(FileNotFoundError):
        build(tmp_path / "empty")


def test_training_runs_in_any_loss_format(tmp_path):
    def run(name: str, record: dict | None = None, loss=None) -> None:
        folder = tmp_path / "smollm2-135m" / name
        folder.mkdir(parents=True)
        if record is not None:
            (folder / "run.json").write_text(json.dumps(record))
        if loss is not None:
            (folder / "loss.json").write_text(loss if isinstance(loss, str) else json.dumps(loss))

    run("a", {"experiment": "a"}, [{"step": 1, "loss": 2.0}, {"step": 2, "eval_loss": 9.0}, {"step": 3, "loss": 1.5}])
    run("b", None, {"step": [10, 20], "loss": [3.0, 2.5]})
    run("c", {"experiment": "c", "loss_history": [4.0, 3.0, 2.0]})
    run("d", {"experiment": "d"}, "{truncated")
    (tmp_path / "smollm2-135m" / "a" / ".adapter.tmp-1").mkdir()
    (tmp_path / "smollm2-135m" / "a" / ".adapter.tmp-1" / "run.json").write_text("{}")
    runs = {r.label: r for r in load_training_runs(tmp_path)}
    assert sorted(runs) == ["smollm2-135m/a", "smollm2-135m/b", "smollm2-135m/c", "smollm2-135m/d"]
    assert runs["smollm2-135m/a"].loss == [(1.0, 2.0), (3.0, 1.5)]
    assert runs["smollm2-135m/b"].loss == [(10.0, 3.0), (20.0, 2.5)]
    assert runs["smollm2-135m/c"].loss == [(1.0, 4.0), (2.0, 3.0), (3.0, 2.0)]
    assert runs["smollm2-135m/d"].loss == [] and runs["smollm2-135m/d"].record["experiment"] == "d"
    assert load_training_runs(tmp_path / "nowhere") == [] and load_training_runs(None) == []
