"""Extracting one SQL query from raw model output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from metrics.sql_extract import extract, extract_sql

REPO = Path(__file__).resolve().parents[2]

CASES = [
    ("clean", "SELECT count(*) FROM singer", "SELECT count(*) FROM singer"),
    ("trailing semicolon", "SELECT count(*) FROM singer;  ", "SELECT count(*) FROM singer"),
    ("sql fence", "```sql\nSELECT name\nFROM singer;\n```", "SELECT name\nFROM singer"),
    ("SQL fence upper", "```SQL\nSELECT 1\n```", "SELECT 1"),
    ("first sql fence wins", "```sql\nSELECT 1\n```\nor\n```sql\nSELECT 2\n```", "SELECT 1"),
    ("generic fence", "Here is the query:\n```\nSELECT a FROM t\n```\nDone.", "SELECT a FROM t"),
    ("inline fence", "```SELECT a FROM t```", "SELECT a FROM t"),
    ("unclosed fence", "```sql\nSELECT a FROM t\n", "SELECT a FROM t"),
    ("fence after schema fence", "```\nCREATE TABLE t(a)\n```\n```sql\nSELECT a FROM t\n```", "SELECT a FROM t"),
    ("prose before, same line", "Here is the query: SELECT a FROM t", "SELECT a FROM t"),
    ("prose before, own line", "To answer, we count rows:\nSELECT count(*) FROM t", "SELECT count(*) FROM t"),
    ("intro that starts with select", "Select the names like this:\nSELECT name FROM t", "SELECT name FROM t"),
    ("SQL label", "SQL: SELECT a FROM t", "SELECT a FROM t"),
    ("SQLQuery label", "SQL Query: SELECT a FROM t;", "SELECT a FROM t"),
    ("explanation after", "SELECT a FROM t;\nExplanation: this selects a.", "SELECT a FROM t"),
    ("sentence after, no semicolon", "SELECT a\nFROM t\nThis query returns every a.", "SELECT a\nFROM t"),
    ("sentence on same line", "SELECT a FROM t WHERE b > 30. This returns a.", "SELECT a FROM t WHERE b > 30"),
    (
        "hallucinated next question",
        "SELECT count(*) FROM singer\n\nQuestion: How many concerts?\nSELECT count(*) FROM concert",
        "SELECT count(*) FROM singer",
    ),
    ("second answer after blank line", "SELECT 1\n\nSELECT 2", "SELECT 1"),
    ("clause after blank line", "SELECT a\n\nFROM t", "SELECT a\n\nFROM t"),
    ("chatml end token", "SELECT a FROM t<|im_end|>\n<|im_start|>user\nAnd SELECT b?", "SELECT a FROM t"),
    ("chatml start token", "<|im_start|>assistant\nSELECT a FROM t<|im_end|>", "SELECT a FROM t"),
    ("llama eos", "SELECT a FROM t</s>", "SELECT a FROM t"),
    ("llama3 eot", "SELECT a FROM t<|eot_id|>assistant", "SELECT a FROM t"),
    ("inline backticks", "The answer is `SELECT count(*) FROM t`.", "SELECT count(*) FROM t"),
    ("sql tags", "<sql>SELECT a FROM t</sql> done", "SELECT a FROM t"),
    ("lowercase", "select a from t where b = 'x'", "select a from t where b = 'x'"),
    ("cte", "WITH x AS (SELECT 1 AS a) SELECT a FROM x", "WITH x AS (SELECT 1 AS a) SELECT a FROM x"),
    ("prose with 'with'", "With this query:\nSELECT 1", "SELECT 1"),
    ("semicolon in string", "SELECT a FROM t WHERE b = 'x; y. Z'", "SELECT a FROM t WHERE b = 'x; y. Z'"),
    ("double-quoted literal", 'SELECT a FROM t WHERE b = "Q: x. Y"', 'SELECT a FROM t WHERE b = "Q: x. Y"'),
    ("escaped quote", "SELECT a FROM t WHERE b = 'it''s; fine'", "SELECT a FROM t WHERE b = 'it''s; fine'"),
    ("comment with semicolon", "SELECT a -- pick a; ok\nFROM t", "SELECT a -- pick a; ok\nFROM t"),
    ("qualified columns", "SELECT T1.a FROM t AS T1", "SELECT T1.a FROM t AS T1"),
    ("second statement cut", "SELECT a FROM t; DROP TABLE t", "SELECT a FROM t"),
    ("second statement after empty ones", "SELECT 1;;; DROP TABLE t", "SELECT 1"),
    ("second statement after a blank line", "SELECT 1;\n\nDELETE FROM t", "SELECT 1"),
    ("repeated answer", "SELECT name FROM singer; SELECT name FROM singer;", "SELECT name FROM singer"),
    ("column named like prose", "SELECT\n  name,\n  result\nFROM battle", "SELECT\n  name,\n  result\nFROM battle"),
    ("prose-word column after FROM", "SELECT a\nFROM\n  result", "SELECT a\nFROM\n  result"),
    (
        "lone IN line",
        "SELECT name FROM singer WHERE id\nIN\n(SELECT singer_id FROM concert)",
        "SELECT name FROM singer WHERE id\nIN\n(SELECT singer_id FROM concert)",
    ),
    (
        "lone NOT IN line",
        "SELECT name FROM singer WHERE id\nNOT IN\n(SELECT singer_id FROM concert)",
        "SELECT name FROM singer WHERE id\nNOT IN\n(SELECT singer_id FROM concert)",
    ),
    ("star then prose", "SELECT *\nFROM t\nThis query returns every row.", "SELECT *\nFROM t"),
    ("prose after a blank line still cut", "SELECT 1;\n\nThis returns one.", "SELECT 1"),
    ("hostile statement alone", "DROP TABLE t;", "DROP TABLE t"),
    ("nothing", "I cannot answer that question.", ""),
    ("empty", "", ""),
    ("whitespace", "  \n\t ", ""),
    ("only end tokens", "<|im_end|></s>", ""),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_extract_sql(text, expected):
    assert extract_sql(text) == expected


MORE = [
    ("one statement", "SELECT a FROM t;", False),
    ("prose after", "SELECT a FROM t;\nExplanation: this selects a.", False),
    ("repeated", "SELECT a FROM t; SELECT a FROM t;", True),
    ("hostile second", "SELECT 1;;\n\nDROP TABLE t", True),
    ("new answer after a blank line", "SELECT 1\n\nSELECT 2", True),
    ("semicolon in a string", "SELECT a FROM t WHERE b = 'x; SELECT 2'", False),
    ("inline code with two statements", "Run `SELECT count(*) FROM t; SELECT 1` now.", True),
    ("semicolon in a comment", "SELECT a -- x; SELECT 2\nFROM t", False),
]


@pytest.mark.parametrize(("text", "more"), [c[1:] for c in MORE], ids=[c[0] for c in MORE])
def test_more_statements_is_a_diagnostic(text, more):
    extracted = extract(text)
    assert extracted.more_statements is more
    assert ";" not in extracted.sql.replace("'x; SELECT 2'", "").replace("-- x; SELECT 2", "")


@pytest.mark.parametrize("text", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_idempotent(text):
    once = extract_sql(text)
    assert extract_sql(once) == once


def test_non_string_input():
    assert extract_sql(None) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000,
        "select " * 150_000 + ":",
        "SELECT " + "a" * 1_000_000,
        "Aaa bbb ccc " * 90_000,
        "```" * 300_000,
        "SELECT 'x' ||\n" * 70_000,
    ],
    ids=["letters", "intro-select", "long-sql", "prose", "fences", "many-lines"],
)
def test_megabyte_inputs_are_linear(text):
    start = time.perf_counter()
    extract_sql(text)
    assert time.perf_counter() - start < 5.0  # quadratic behaviour would take minutes


def _spider_dir() -> Path:
    return (REPO / os.environ.get("SPIDER_DIR", "../shared/data/spider")).resolve()


def test_real_spider_queries_pass_through_unchanged():
    dev = _spider_dir() / "dev.json"
    if not dev.is_file():
        pytest.skip(f"Spider data not found at {dev.parent} (set SPIDER_DIR)")
    queries = [ex["query"] for ex in json.loads(dev.read_text())]
    changed = [q for q in queries if extract_sql(q) != q.strip().rstrip(";").rstrip()]
    assert changed == []
    fenced = [
        q for q in queries if extract_sql(f"```sql\n{q}\n```\nThis answers it.") != q.strip().rstrip(";").rstrip()
    ]
    assert fenced == []
