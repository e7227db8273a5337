"""Reading what benchmark runs and training runs left on disk, and pairing models with bases.

Tolerant by design: the report runs after every benchmark run, so a half-written, foreign or
older-format file is skipped with a warning instead of stopping the report.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCORED = ("passed", "failed")


@dataclass(frozen=True)
class Run:
    """One model's results JSON (`<results>/results/<label>.json`)."""

    label: str
    path: Path
    data: dict[str, Any]

    @property
    def identity(self) -> dict[str, Any]:
        return self.data.get("identity") or {}

    @property
    def adapter_sha256(self) -> str | None:
        return self.identity.get("adapter_sha256")

    @property
    def is_base(self) -> bool:
        """A run without an adapter evaluates the base model itself."""
        return not self.adapter_sha256

    @property
    def base_key(self) -> tuple[Any, ...]:
        """What must agree for a base run to be this run's reference: the same base weights
        (the file's sha256, a checkpoint folder's content fingerprint, a hub id's revision)."""
        ident = self.identity
        return (
            ident.get("base") or self.data.get("base_source"),
            ident.get("base_sha256"),
            ident.get("base_fingerprint"),
            ident.get("revision"),
        )

    @property
    def suites(self) -> set[str]:
        return {str(c.get("suite")) for c in self.data.get("cases", []) if c.get("outcome") in SCORED}

    def cases(self, suite: str) -> list[dict[str, Any]]:
        return [c for c in self.data.get("cases", []) if c.get("suite") == suite]

    @property
    def spider_shots(self) -> int | None:
        shots = (self.data.get("settings") or {}).get("spider_shots")
        return shots if isinstance(shots, int) else None

    def scored(self, suite: str, formulation: str | None = None) -> dict[str, dict[str, Any]]:
        """Scored cases by case id (skips and errors are not measurements).

        MMLU ids always end in their formulation (`astronomy-test-0009-cloze`): results written
        before that rule named a question without it when a run used one formulation only."""
        out = {}
        for c in self.cases(suite):
            if c.get("outcome") not in SCORED:
                continue
            form = (c.get("props") or {}).get("formulation", "letter")
            if formulation is not None and form != formulation:
                continue
            case_id = str(c.get("case_id"))
            if suite == "mmlu" and not case_id.endswith(f"-{form}"):
                case_id = f"{case_id}-{form}"
            out[case_id] = c
        return out

    def mmlu_formulations(self) -> list[str]:
        found = {(c.get("props") or {}).get("formulation", "letter") for c in self.cases("mmlu")}
        return sorted(found)


def results_files(results_dir: Path) -> list[Path]:
    """`<dir>/results/*.json` (the benchmark's layout), or `<dir>/*.json` when given that folder."""
    results_dir = Path(results_dir)
    folder = results_dir / "results" if (results_dir / "results").is_dir() else results_dir
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def load_runs(results_dir: Path) -> list[Run]:
    runs = []
    for path in results_files(results_dir):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            warnings.warn(f"skipping unreadable results file {path}: {exc}", stacklevel=2)
            continue
        if not isinstance(data, dict) or "suites" not in data:
            warnings.warn(f"skipping {path}: not a benchmark results file", stacklevel=2)
            continue
        runs.append(Run(path.stem, path, data))
    # Bases first, then fine-tuned models, each alphabetically: the order of every table.
    return sorted(runs, key=lambda r: (not r.is_base, r.label))


def find_base(run: Run, runs: list[Run], base_label: str = "base") -> Run | None:
    """The base-model results a fine-tuned run is compared against: the same base weights and,
    where such a run exists, the same prompt (Spider shots) -- the fine-tuning effect is adapter
    vs base on the adapter's own prompt. Among equals, the run labelled `base_label` wins; a
    shots difference that remains is flagged in the comparison's notes.
    """
    if run.is_base:
        return None
    candidates = [r for r in runs if r.is_base and r.base_key == run.base_key]
    if not candidates:
        # Older files may lack base_sha256: fall back to the base name alone.
        candidates = [r for r in runs if r.is_base and r.base_key[0] == run.base_key[0]]
    # a control must have measured what the run measured (a Spider-only base-0shot is no MMLU control)
    covering = [r for r in candidates if run.suites <= r.suites] or candidates
    same_prompt = [r for r in covering if r.spider_shots == run.spider_shots]
    pool = same_prompt or covering
    preferred = [r for r in pool if r.label == base_label]
    chosen = preferred or pool
    return chosen[0] if chosen else None


@dataclass(frozen=True)
class TrainingRun:
    """One training run's record and loss curve (`models/<base>/<experiment>/`)."""

    label: str
    path: Path
    record: dict[str, Any] = field(default_factory=dict)
    loss: list[tuple[float, float]] = field(default_factory=list)  # (step, loss)


def _loss_points(raw: Any) -> list[tuple[float, float]]:
    """(step, loss) from the shapes a trainer may write: [{step, loss}], {"points": [...]},
    {"step": [...], "loss": [...]}, or a bare list of losses."""
    if isinstance(raw, dict):
        if isinstance(raw.get("points"), list):
            return _loss_points(raw["points"])
        if isinstance(raw.get("step"), list) and isinstance(raw.get("loss"), list):
            return _loss_points([{"step": s, "loss": v} for s, v in zip(raw["step"], raw["loss"])])
        if isinstance(raw.get("loss"), list):
            return _loss_points(raw["loss"])
        return []
    if not isinstance(raw, list):
        return []
    points = []
    for i, entry in enumerate(raw):
        try:
            if isinstance(entry, dict):
                if entry.get("loss") is None:
                    continue
                points.append((float(entry.get("step", i + 1)), float(entry["loss"])))
            elif isinstance(entry, (int, float)):
                points.append((float(i + 1), float(entry)))
            elif isinstance(entry, (list, tuple)) and len(entry) == 2:
                points.append((float(entry[0]), float(entry[1])))
        except (TypeError, ValueError):
            continue
    return points


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run_dirs(training_dir: Path) -> Iterator[Path]:
    seen = set()
    for marker in ("run.json", "loss.json"):
        for path in sorted(training_dir.rglob(marker)):
            if path.parent not in seen and not any(
                part.startswith(".") for part in path.parent.relative_to(training_dir).parts
            ):
                seen.add(path.parent)
                yield path.parent


def load_training_runs(training_dir: Path | None) -> list[TrainingRun]:
    """Every run under the training dir that left a run.json or loss.json; missing is fine."""
    if training_dir is None or not Path(training_dir).is_dir():
        return []
    training_dir = Path(training_dir)
    runs = []
    for run_dir in _run_dirs(training_dir):
        record = _read_json(run_dir / "run.json")
        record = record if isinstance(record, dict) else {}
        loss = _loss_points(_read_json(run_dir / "loss.json")) if (run_dir / "loss.json").is_file() else []
        if not loss:
            loss = _loss_points(record.get("loss_curve") or record.get("loss_history") or record.get("loss"))
        label = "/".join(run_dir.relative_to(training_dir).parts) or run_dir.name
        runs.append(TrainingRun(label, run_dir, record, loss))
    return sorted(runs, key=lambda r: r.label)
