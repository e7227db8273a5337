"""MMLU cache keys hold everything a score depends on: one key per distinct (context, continuations).

Before the fix, cloze keys were built from the context only; cloze contexts hold the stem but not
the options, so 58 test questions with a repeated stem inherited another question's scores.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from tradeoff.inference.cache import PredictionCache  # noqa: E402
from tradeoff.inference.once_per_device import compute_once  # noqa: E402
from tradeoff.suites.mmlu.categories import SUBJECTS  # noqa: E402
from tradeoff.suites.mmlu.data import MMLUQuestion, load_split  # noqa: E402
from tradeoff.suites.mmlu.jobs import mmlu_jobs, mmlu_scorer  # noqa: E402
from tradeoff.suites.mmlu.prompts import continuations, question_text  # noqa: E402

from tiny_models import mistral_tokenizer, rig_output_bias, tiny_mistral  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MMLU = Path(os.environ.get("MMLU_DIR", REPO.parent / "shared" / "data" / "mmlu"))


@pytest.mark.skipif(not (MMLU / "test").is_dir(), reason=f"no MMLU data at {MMLU}")
def test_one_key_per_distinct_context_and_continuations_over_the_full_test_split():
    cases = [(q, f) for s in SUBJECTS for q in load_split(MMLU, s, "test") for f in ("letter", "cloze")]
    assert len(cases) == 2 * 14042
    jobs, prefixes = mmlu_jobs(MMLU, cases, "model", 5)
    by_key: dict[str, set[tuple[str, tuple[str, ...]]]] = defaultdict(set)
    for job in jobs:
        question, formulation = job.payload
        context = prefixes[(question.subject, formulation)]
        by_key[job.key].add((context + question_text(question, formulation), continuations(question, formulation)))
    assert all(len(v) == 1 for v in by_key.values())  # no key is shared by different inputs
    distinct = {next(iter(v)) for v in by_key.values()}
    assert len(distinct) == len(by_key)  # and equal inputs share their key
    # the case the old key got wrong: same cloze stem, different options
    astronomy = {j.case_id: j.key for j in jobs if j.case_id.startswith("astronomy-test-")}
    assert astronomy["astronomy-test-0009-cloze"] != astronomy["astronomy-test-0116-cloze"]


def _question(index: int, choices: tuple[str, str, str, str], answer: int) -> MMLUQuestion:
    return MMLUQuestion("astronomy", "test", index, "Which of these is a planet?", choices, answer)


def test_same_stem_cloze_questions_are_scored_on_their_own_options(tmp_path):
    tokenizer = mistral_tokenizer()
    planet = tokenizer.encode(" Mars", add_special_tokens=False)[0]
    model = rig_output_bias(tiny_mistral(), {planet: 8.0})
    a = _question(1, ("Mars", "Sirius", "Vega", "Rigel"), 0)
    b = _question(2, ("Sirius", "Vega", "Mars", "Rigel"), 2)
    jobs, prefixes = mmlu_jobs(MMLU if (MMLU / "dev").is_dir() else tmp_path, [(a, "cloze"), (b, "cloze")], "m", 0)
    assert jobs[0].key != jobs[1].key

    class Loaded:
        pass

    loaded = Loaded()
    loaded.model, loaded.tokenizer = model, tokenizer
    cache = PredictionCache(tmp_path / "c.sqlite")
    values = compute_once(cache, "m", jobs, tmp_path / "locks", 0, 1, mmlu_scorer(lambda: loaded, prefixes, 2, "t"))
    first, second = values[jobs[0].key], values[jobs[1].key]
    assert first["norm_predicted"] == 0 and second["norm_predicted"] == 2  # " Mars" wins wherever it is
    assert first["loglikelihoods"][0] == pytest.approx(second["loglikelihoods"][2])
