"""The numbers of the trade-off report, computed once and shared by the HTML, Markdown and plots.

Accuracies are recomputed from the per-case records (not copied from each run's summary). A
model's own table row uses every question it scored; every displayed *change* between two
models -- points, relative change, its interval and its test -- is computed on the questions
both scored, so the number and its p-value always describe the same pairs. Runs whose scored
sets differ are flagged. Families of tests (categories, subjects, hardness levels) carry
Holm-adjusted p-values, and significance is read off the adjusted value.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from metrics.hardness import REPORT_LEVELS
from metrics.spider_variants import VARIANT_PROPS
from reports.comparison.error_analysis import ErrorSummary, Flip, analyze, flips
from reports.comparison.forgetting import Signal, signals
from reports.comparison.loading import Run, TrainingRun, find_base, load_runs, load_training_runs
from tradeoff.statistics import (
    RESAMPLES,
    SEED,
    PairedCounts,
    absolute_change,
    bootstrap_macro_ci,
    holm,
    mcnemar_exact,
    min_mcnemar_p,
    newcombe_paired_diff_ci,
    relative_change,
    wilson_interval,
)

METHODS = (
    "Intervals: 95% Wilson score intervals for accuracies; 95% Newcombe hybrid score intervals "
    "(method 10) for paired changes; stratified bootstrap for macro averages. Tests: McNemar exact on "
    "the questions both models scored; within each family (hardness levels, categories, subjects) "
    "p-values are Holm-adjusted and a change is bold only when its adjusted p is below 0.05."
)

HARDNESS = REPORT_LEVELS
# Spider verdict variants, headline first (definitions: metrics/spider_variants.py).
SEMANTICS = {
    "official": "EX (official)",
    "strict": "EX (strict)",
    "set": "EX (set, reference study)",
}
AVERAGES = {"micro": "micro (correct / questions)", "macro": "macro (mean of subjects)"}
CATEGORY_ORDER = ("stem", "humanities", "social_sciences", "other")
FORMULATION_PREFERENCE = ("letter", "cloze")


@dataclass(frozen=True)
class Estimate:
    """An accuracy (fraction) with its 95% interval (Wilson; bootstrap for a macro average)."""

    value: float | None
    n: int
    successes: int | None = None
    ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Paired:
    """Both models on the same questions: McNemar's exact test and Newcombe's paired interval.

    `p_adjusted` is set for a test that belongs to a family (Holm); significance reads it.
    """

    counts: PairedCounts
    p_value: float
    diff_ci: tuple[float, float] | None  # fraction
    p_adjusted: float | None = None

    @property
    def p(self) -> float:
        """The p-value that decides significance: the adjusted one where there is one."""
        return self.p_value if self.p_adjusted is None else self.p_adjusted

    @property
    def significant(self) -> bool:
        return self.p < 0.05


@dataclass(frozen=True)
class Change:
    base: float | None
    new: float | None
    paired: Paired | None = None

    @property
    def points(self) -> float | None:
        return absolute_change(self.base, self.new)

    @property
    def relative(self) -> float | None:
        return relative_change(self.base, self.new)


@dataclass
class ModelStats:
    run: Run
    spider: dict[str, dict[str, Estimate]] = field(default_factory=dict)  # row -> semantics -> accuracy
    mmlu: dict[str, dict[str, dict[str, Estimate]]] = field(default_factory=dict)  # formulation -> group -> average
    subjects: dict[str, dict[str, Estimate]] = field(default_factory=dict)  # formulation -> subject
    errors: ErrorSummary = field(default_factory=ErrorSummary)

    @property
    def label(self) -> str:
        return self.run.label


@dataclass
class Comparison:
    """One fine-tuned model against the base-model results it was trained from."""

    base: ModelStats
    new: ModelStats
    spider: dict[str, dict[str, Change]] = field(default_factory=dict)
    mmlu: dict[str, dict[str, dict[str, Change]]] = field(default_factory=dict)
    subjects: dict[str, list[tuple[str, Change]]] = field(default_factory=dict)  # sorted, largest drop first
    fixed: list[Flip] = field(default_factory=list)
    broken: list[Flip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    forgetting: list[Signal] = field(default_factory=list)  # continuous, paired (forgetting.py)


@dataclass
class Report:
    models: list[ModelStats]
    comparisons: list[Comparison]
    unpaired: list[str]  # fine-tuned runs with no base results to compare against
    training: list[TrainingRun]
    formulation: str | None  # the MMLU formulation of the trade-off plot
    resamples: int
    seed: int
    generated_at: float = field(default_factory=time.time)


def _subject(case: dict[str, Any]) -> str:
    props = case.get("props") or {}
    return str(props.get("subject") or str(case.get("case_id", "")).split("-")[0])


def _category(case: dict[str, Any]) -> str:
    props = case.get("props") or {}
    if props.get("category"):
        return str(props["category"])
    from tradeoff.suites.mmlu.categories import SUBJECT_CATEGORY

    return SUBJECT_CATEGORY.get(_subject(case), "other")


def _passed(case: dict[str, Any]) -> bool:
    return case.get("outcome") == "passed"


def _prop_verdict(prop: str) -> Callable[[dict[str, Any]], bool]:
    return lambda case: bool((case.get("props") or {}).get(prop))


SPIDER_SCORE: dict[str, Callable[[dict[str, Any]], bool]] = {
    "official": _passed,
    **{variant: _prop_verdict(prop) for variant, prop in VARIANT_PROPS.items()},
}


def _recorded(variant: str, *runs: dict[str, dict[str, Any]]) -> bool:
    """Every (non-empty) run recorded the variant: results from before it existed show n/a, never 0."""
    prop = VARIANT_PROPS.get(variant)
    return prop is None or all(any(prop in (c.get("props") or {}) for c in run.values()) for run in runs if run)


class _Stats:
    """Bootstrap settings carried to every interval."""

    def __init__(self, resamples: int, seed: int) -> None:
        self.resamples, self.seed = resamples, seed

    def proportion(self, outcomes: list[bool]) -> Estimate:
        n, k = len(outcomes), sum(outcomes)
        return Estimate(k / n if n else None, n, k, wilson_interval(k, n) if n else None)

    def macro(self, cases: list[dict[str, Any]]) -> Estimate:
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in cases:
            per[_subject(c)][0] += _passed(c)
            per[_subject(c)][1] += 1
        if not per:
            return Estimate(None, 0)
        value = sum(k / n for k, n in per.values()) / len(per)
        ci = bootstrap_macro_ci([(k, n) for k, n in per.values()], resamples=self.resamples, seed=self.seed)
        return Estimate(value, len(cases), None, ci)

    def paired(self, base: list[bool], new: list[bool]) -> Paired | None:
        if not base:
            return None
        counts = PairedCounts.from_outcomes(base, new)
        return Paired(counts, mcnemar_exact(counts.only_base, counts.only_new), newcombe_paired_diff_ci(counts))

    def change(self, base: list[bool], new: list[bool]) -> Change:
        """A change on paired questions: both accuracies, the test and the interval from the same pairs."""
        if not base:
            return Change(None, None, None)
        return Change(sum(base) / len(base), sum(new) / len(new), self.paired(base, new))

    def macro_change(self, base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> Change:
        """Macro averages (mean of subjects) of both models over the questions both scored."""
        common = base.keys() & new.keys()
        if not common:
            return Change(None, None, None)
        a, b = self.macro([base[i] for i in common]), self.macro([new[i] for i in common])
        return Change(a.value, b.value, None)


Cases = dict[str, dict[str, Any]]  # scored cases by (canonical) case id


def _spider_rows(cases: Cases) -> dict[str, Cases]:
    rows: dict[str, Cases] = {"overall": cases}
    for h in HARDNESS:
        mine = {i: c for i, c in cases.items() if (c.get("props") or {}).get("hardness", "unknown") == h}
        if mine:
            rows[h] = mine
    return rows


def _mmlu_groups(cases: Cases) -> dict[str, Cases]:
    groups: dict[str, Cases] = {"overall": cases}
    found = {_category(c) for c in cases.values()}
    for name in [*CATEGORY_ORDER, *sorted(found - set(CATEGORY_ORDER))]:
        if name in found:
            groups[name] = {i: c for i, c in cases.items() if _category(c) == name}
    return groups


def model_stats(run: Run, st: _Stats) -> ModelStats:
    out = ModelStats(run)
    spider = run.scored("spider")
    if spider or run.cases("spider"):
        for row, cases in _spider_rows(spider).items():
            out.spider[row] = {
                sem: st.proportion([score(c) for c in cases.values()])
                if _recorded(sem, spider)
                else Estimate(None, len(cases))
                for sem, score in SPIDER_SCORE.items()
            }
    for formulation in _formulation_order(run.mmlu_formulations()):
        questions = run.scored("mmlu", formulation)
        out.mmlu[formulation] = {
            group: {
                "micro": st.proportion([_passed(c) for c in members.values()]),
                "macro": st.macro(list(members.values())),
            }
            for group, members in _mmlu_groups(questions).items()
        }
        by_subject: dict[str, list[bool]] = defaultdict(list)
        for c in questions.values():
            by_subject[_subject(c)].append(_passed(c))
        out.subjects[formulation] = {s: st.proportion(v) for s, v in sorted(by_subject.items())}
    out.errors = analyze(run)
    return out


def _pair(
    base: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]], score: Callable[[dict[str, Any]], bool]
) -> tuple[list[bool], list[bool]]:
    common = sorted(base.keys() & new.keys())
    return [score(base[i]) for i in common], [score(new[i]) for i in common]


def compare(base: ModelStats, new: ModelStats, st: _Stats) -> Comparison:
    out = Comparison(base, new)
    a, b = base.run.scored("spider"), new.run.scored("spider")
    if base.spider and new.spider:
        rows_a = _spider_rows(a)
        for row in [r for r in ["overall", *HARDNESS] if r in base.spider or r in new.spider]:
            # A question's hardness is a property of its gold SQL: take the base run's.
            sub_a = rows_a.get(row, {})
            out.spider[row] = {
                sem: st.change(*_pair(sub_a, b, score)) for sem, score in SPIDER_SCORE.items() if _recorded(sem, a, b)
            }
        _adjust(out.spider, [r for r in out.spider if r != "overall"])
        _note_coverage(out, "Spider", a, b)
        out.fixed, out.broken = flips(base.run, new.run, base.errors, new.errors)
    for formulation in _formulation_order(base.mmlu.keys() & new.mmlu.keys()):  # a set: its order varies by run
        ca, cb = base.run.scored("mmlu", formulation), new.run.scored("mmlu", formulation)
        groups_a = _mmlu_groups(ca)
        out.mmlu[formulation] = {}
        for group in [g for g in base.mmlu[formulation] if g in new.mmlu[formulation]]:
            sub_a = groups_a.get(group, {})
            out.mmlu[formulation][group] = {
                "micro": st.change(*_pair(sub_a, cb, _passed)),
                "macro": st.macro_change(sub_a, cb),
            }
        _adjust(out.mmlu[formulation], [g for g in out.mmlu[formulation] if g != "overall"], "micro")
        subjects = []
        for subject in sorted(base.subjects[formulation].keys() & new.subjects[formulation].keys()):
            sub_a = {i: c for i, c in ca.items() if _subject(c) == subject}
            subjects.append((subject, st.change(*_pair(sub_a, cb, _passed))))
        subjects = list(zip([s for s, _ in subjects], _holm_family([ch for _, ch in subjects]), strict=True))
        out.subjects[formulation] = sorted(subjects, key=lambda sc: (sc[1].points is None, sc[1].points or 0.0, sc[0]))
        _note_coverage(out, f"MMLU ({formulation})", ca, cb)
        pairs = max((ch.paired.counts.n for _, ch in subjects if ch.paired), default=0)
        if subjects and min_mcnemar_p(pairs) >= 0.05:
            out.notes.append(
                f"MMLU ({formulation}) per subject: at most {pairs} paired questions per subject, too few for "
                f"any test to reach p < 0.05 (the smallest possible p is {min_mcnemar_p(pairs):.3f}); "
                "per-subject changes are exploratory."
            )
    out.mmlu = {f: out.mmlu[f] for f in _formulation_order(out.mmlu)}
    out.forgetting = signals(base.run, new.run, st.resamples, st.seed)
    _note_settings(out)
    return out


def _holm_family(changes: list[Change]) -> list[Change]:
    """The same changes, those that carry a test with their Holm-adjusted p over the family."""
    tested = [(i, paired) for i, ch in enumerate(changes) if (paired := ch.paired) is not None]
    out = list(changes)
    for (i, paired), p in zip(tested, holm([paired.p_value for _, paired in tested]), strict=True):
        out[i] = replace(changes[i], paired=replace(paired, p_adjusted=p))
    return out


def _adjust(table: dict[str, dict[str, Change]], family: list[str], only: str | None = None) -> None:
    """Holm-adjust the tests of a family of rows, per column (variant or average), in place."""
    columns = {col for row in family for col in table[row] if only is None or col == only}
    for col in columns:
        rows = [r for r in family if col in table[r]]
        for r, ch in zip(rows, _holm_family([table[r][col] for r in rows]), strict=True):
            table[r][col] = ch


def _note_coverage(out: Comparison, suite: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    only_a, only_b = len(a.keys() - b.keys()), len(b.keys() - a.keys())
    if only_a or only_b:
        out.notes.append(
            f"{suite}: the runs scored different questions ({len(a.keys() & b.keys())} in both, {only_a} only in "
            f"{out.base.label}, {only_b} only in {out.new.label}); each model's own row uses its own questions, "
            f"every change and test only the {len(a.keys() & b.keys())} common ones."
        )


def _note_settings(out: Comparison) -> None:
    if out.base.run.base_key != out.new.run.base_key:
        out.notes.append(
            f"{out.base.label} was matched as the control by the base model's name only: its weights' "
            "identity (sha256, fingerprint or revision) differs from the one the adapter was applied to "
            "or is not recorded."
        )
    da, db = out.base.run.data, out.new.run.data
    for key in ("spider_sha256", "mmlu_sha256"):
        va, vb = (da.get("data") or {}).get(key), (db.get("data") or {}).get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            differ = [k for k in va.keys() & vb.keys() if va[k] != vb[k]]
        else:
            differ = [key] if va and vb and va != vb else []
        if differ:
            out.notes.append(
                f"data checksums differ ({', '.join(sorted(differ))}): the runs did not read the same data."
            )
    sa, sb = da.get("settings") or {}, db.get("settings") or {}
    for key in ("spider_shots", "mmlu_split", "mmlu_shots", "max_new_tokens", "limit", "mmlu_limit"):
        if key in sa and key in sb and sa[key] != sb[key]:
            why = (
                (
                    " The prompts differ, so the change is not the fine-tuning effect alone: add a base run with "
                    f"{sb[key]} shots (e.g. --model base-0shot) as the control."
                )
                if key == "spider_shots"
                else ""
            )
            out.notes.append(f"setting {key} differs: {out.base.label} {sa[key]!r}, {out.new.label} {sb[key]!r}.{why}")


def _formulation_order(formulations: Any) -> list[str]:
    found = set(formulations)
    return [f for f in FORMULATION_PREFERENCE if f in found] + sorted(found - set(FORMULATION_PREFERENCE))


def build(
    results_dir: Path,
    *,
    base_label: str = "base",
    training_dir: Path | None = None,
    formulation: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    against: str | None = None,
) -> Report:
    """Everything the report shows, from the results files under results_dir.

    `against` names a base run every fine-tuned run is compared with whatever its prompt (the
    reference study compared 0-shot adapters with its 4-shot base); by default each is compared
    with the base on its own prompt (`find_base`)."""
    runs = load_runs(results_dir)
    if not runs:
        raise FileNotFoundError(f"no results JSON under {Path(results_dir) / 'results'} (run the benchmark first)")
    fixed = None
    if against is not None:
        fixed = next((r for r in runs if r.label == against and r.is_base), None)
        if fixed is None:
            bases = ", ".join(r.label for r in runs if r.is_base) or "none"
            raise FileNotFoundError(f"--against {against}: no base-model results of that label (base runs: {bases})")
    st = _Stats(resamples, seed)
    stats = {r.label: model_stats(r, st) for r in runs}
    comparisons, unpaired = [], []
    for run in runs:
        if run.is_base:
            continue
        base = fixed if fixed is not None else find_base(run, runs, base_label)
        if base is None:
            unpaired.append(run.label)
        else:
            comparisons.append(compare(stats[base.label], stats[run.label], st))
    formulations = _formulation_order({f for m in stats.values() for f in m.mmlu})
    if formulation is None:
        formulation = formulations[0] if formulations else None
    return Report(
        list(stats.values()), comparisons, unpaired, load_training_runs(training_dir), formulation, resamples, seed
    )


DIAGNOSTIC_HEADERS = ["more than one statement", "cut at max_new_tokens", "vacuous matches"]


def spider_diagnostics(run: Run) -> list[str]:
    """Counts of a run's scored Spider cases with each diagnostic ('n/a' where not recorded)."""
    cases = list(run.scored("spider").values())
    out = []
    for prop in ("more_statements", "truncated", "vacuous"):
        recorded = [c for c in cases if prop in (c.get("props") or {})]
        if not recorded:
            out.append("n/a")
            continue
        hits = sum(bool(c["props"][prop]) and (prop != "vacuous" or c.get("outcome") == "passed") for c in recorded)
        out.append(f"{hits} / {len(recorded)}")
    return out


def shots_label(m: ModelStats) -> str:
    """A model's label with its Spider prompt, e.g. "base (4-shot)"."""
    shots = m.run.spider_shots
    return m.label if shots is None else f"{m.label} ({shots}-shot)"


def spider_measured(models: list[ModelStats]) -> dict[str, str]:
    """What each run's Spider headline is, in its own summary's words (runs that say nothing left out)."""
    said = {m.label: str(((m.run.data.get("suites") or {}).get("spider") or {}).get("measured") or "") for m in models}
    return {label: text for label, text in said.items() if text}


def table_iii(report: Report, formulation: str) -> list[tuple[str, Comparison, Change]]:
    """The reference study's Table III layout: per MMLU category (in order), every fine-tuned
    model's micro change against its control, as (category, comparison, change)."""
    comps = [c for c in report.comparisons if formulation in c.mmlu]
    groups = list(dict.fromkeys(g for c in comps for g in c.mmlu[formulation]))
    return [
        (g, c, ch) for g in groups for c in comps if (ch := c.mmlu[formulation].get(g, {}).get("micro")) is not None
    ]


def _short(value: Any, n: int = 12) -> str:
    return str(value)[:n] if value else "-"


def _duration(seconds: Any) -> str:
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "-"
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _counts(run: Run, suite: str) -> str:
    cases = run.cases(suite)
    if not cases:
        return "-"
    outcomes = [c.get("outcome") for c in cases]
    scored = sum(o in ("passed", "failed") for o in outcomes)
    return f"{scored} scored / {outcomes.count('skipped')} skipped / {outcomes.count('error')} errors"


def _generators(made: Any) -> str:
    """One line per process that computed the run's predictions: versions, device, dtype, batch, commit."""
    if not isinstance(made, list) or not made:
        return "-"
    lines = []
    for entry in made:
        proc = entry.get("process") if isinstance(entry, dict) else None
        cases = ", ".join(f"{n} {suite}" for suite, n in ((entry or {}).get("cases") or {}).items())
        if not isinstance(proc, dict):
            lines.append(f"unrecorded (cache rows from before provenance): {cases}")
            continue
        versions = " ".join(f"{k} {v}" for k, v in (proc.get("versions") or {}).items())
        git = proc.get("git") or {}
        commit = f"{_short(git.get('commit'))}{' dirty' if git.get('dirty') else ''}" if git.get("commit") else "-"
        lines.append(
            f"{proc.get('device')} {proc.get('dtype')} batch {proc.get('batch_size')}, {versions}, "
            f"commit {commit}: {cases}"
        )
    return "; ".join(lines)


def metadata_rows(run: Run) -> list[tuple[str, str]]:
    """What a reader needs to know which model, data and settings a column comes from."""
    d = run.data
    ident, settings, data = run.identity, d.get("settings") or {}, d.get("data") or {}
    spider_sums = data.get("spider_sha256")
    if isinstance(spider_sums, dict):
        dbs = sum(k.startswith("database/") for k in spider_sums)
        spider_sum = f"dev.json {_short(spider_sums.get('dev.json'))}, {dbs} database{'s' if dbs != 1 else ''}"
    else:
        spider_sum = _short(spider_sums)
    started = d.get("started")
    started_s = (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(started))) if isinstance(started, (int, float)) else "-"
    )
    adapter_meta = ident.get("adapter_meta") or {}
    hardware = d.get("hardware") or {}
    project = d.get("project") or {}
    commit = (
        f"{_short(project.get('commit'))}{' (dirty tree)' if project.get('dirty') else ''}"
        if project.get("commit")
        else "-"
    )
    return [
        ("model", str(d.get("model", run.label))),
        ("base model", f"{d.get('base_model', '-')} ({ident.get('base') or d.get('base_source', '-')})"),
        ("base sha256", _short(ident.get("base_sha256"))),
        ("adapter sha256", _short(ident.get("adapter_sha256")) if ident.get("adapter_sha256") else "none (base model)"),
        ("experiment", str(adapter_meta.get("experiment") or ("-" if run.is_base else d.get("model", "-")))),
        # λ of partial adaptation: the LoRA contribution times λ (1 = the adapter as trained)
        ("adapter scale λ", "-" if run.is_base else f"{float(ident.get('adapter_scale', 1.0)):g}"),
        (
            "Spider",
            f"{settings.get('spider_split', 'dev')} split, {settings.get('spider_shots', '-')}-shot, max {settings.get('max_new_tokens', '-')} new tokens, "
            f"limit {settings.get('limit') if settings.get('limit') is not None else 'none'}",
        ),
        ("Spider cases", _counts(run, "spider")),
        ("Spider data sha256", spider_sum),
        (
            "MMLU",
            f"{settings.get('mmlu_split', '-')} split, {settings.get('mmlu_shots', '-')}-shot, "
            f"formulations {', '.join(settings.get('mmlu_formulations') or run.mmlu_formulations()) or '-'}, "
            f"limit {settings.get('mmlu_limit') if settings.get('mmlu_limit') is not None else 'none'}",
        ),
        ("MMLU cases", _counts(run, "mmlu")),
        ("MMLU data sha256", _short(data.get("mmlu_sha256"))),
        ("published anchors (measured here)", anchors_text(d)),
        ("project commit (scoring)", commit),
        ("generated by", _generators(d.get("generated_by"))),
        ("scoring versions", ", ".join(f"{k} {v}" for k, v in (d.get("versions") or {}).items()) or "-"),
        (
            "hardware",
            f"{hardware.get('machine', '-')}, {hardware.get('cpus', '-')} CPUs, {hardware.get('platform', '-')}"
            + (f", {hardware['cpu']} ({hardware.get('vector_isa', '-')})" if hardware.get("cpu") else "")
            + (f", {hardware['accelerator']}" if hardware.get("accelerator") else ""),
        ),
        ("started", started_s),
        ("duration", _duration(d.get("duration_s"))),
        ("results file", run.path.name),
    ]


def measured_for(data: dict[str, Any], metric: str) -> tuple[float, int] | None:
    """(percent, questions) this run measured for an anchor's metric, if it ran that suite."""
    suites = data.get("suites") or {}
    if metric.startswith("mmlu-"):
        block = (suites.get("mmlu") or {}).get(metric.removeprefix("mmlu-"), {}).get("overall") or {}
        value, n = block.get("micro"), block.get("scored")
    else:
        block = (suites.get("spider") or {}).get("overall") or {}
        value, n = block.get("pass_rate"), block.get("scored")
    return None if value is None or not n else (100 * float(value), int(n))


def anchors_text(data: dict[str, Any]) -> str:
    """Each published figure beside what this run measured (a sanity check, not a comparison:
    the selection, prompt and split may differ, and say so)."""
    parts = []
    for a in data.get("anchors") or []:
        found = measured_for(data, str(a.get("metric")))
        here = f"{found[0]:.1f} on {found[1]} questions" if found else "not measured"
        parts.append(f"{a.get('metric')}: published {a.get('value')} ({a.get('source')}); here {here}")
    return "; ".join(parts) or "-"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.{digits}f}"


def fmt_points(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def fmt_ci(ci: tuple[float, float] | None, scale: float = 100.0, signed: bool = False) -> str:
    if ci is None:
        return ""
    spec = "+.1f" if signed else ".1f"
    return f"[{scale * ci[0]:{spec}}, {scale * ci[1]:{spec}}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
