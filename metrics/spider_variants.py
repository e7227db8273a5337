"""The Spider verdict variants and the name of what is measured: one home for both, read by the
metric, the summaries and the reports (light: no deepeval, no sqlite)."""

from __future__ import annotations

__all__ = ["VARIANTS", "HEADLINE", "VARIANT_LABELS", "VARIANT_PROPS", "measured"]

HEADLINE = "official"
VARIANTS: dict[str, str] = {
    "official": "the official test-suite evaluator's default verdict: DISTINCT removed and its text fixes applied "
    "to both queries, results equal as multisets up to column order, row order only when the gold text "
    "contains 'order by', on every database of the case's folder",
    "strict": "both queries run as written (DISTINCT kept): results equal as multisets up to column order, row "
    "order only when the outermost gold query has ORDER BY, on every database of the case's folder",
    "set": "the reference study's variant: both queries as written, results equal as sets of rows (duplicates "
    "and row order ignored, no column permutation), on the case's original database",
}
# The case property that records each variant's verdict (the headline is the case's outcome).
VARIANT_PROPS = {"strict": "strict_match", "set": "set_match"}
VARIANT_LABELS = {"official": "EX (official)", "strict": "EX (strict)", "set": "EX (set, reference study)"}


def measured(databases: int, scored: int, questions: int) -> str:
    """What the headline number is, in words (databases: the most database files of any case)."""
    where = (
        "the original databases"
        if databases <= 1
        else f"the test-suite distilled databases (up to {databases} per question)"
    )
    return (
        f"execution accuracy under the test-suite rules on {where}, "
        f"over the scorable questions ({scored} of {questions})"
    )
