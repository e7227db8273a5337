"""ExecutionAccuracy: scoring semantics, hostile predictions, real Spider golds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from deepeval.metrics.utils import copy_metrics
from deepeval.test_case import LLMTestCase

import metrics.execution_accuracy as ea
from metrics import ExecutionAccuracy, GoldQueryError, QueryLimits
from metrics.sandbox import HARD_GRACE_S

REPO = Path(__file__).resolve().parents[2]
# A row cap far below the default keeps "too many rows" cases well inside the time limit on a
# loaded 2-core machine (fetching 100,000 rows can take longer than 0.5 s there).
FAST = QueryLimits(timeout_s=0.5, max_rows=10_000)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spider") / "concert.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE singer(id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER, nick TEXT);
        INSERT INTO singer VALUES
          (1, 'Joe', 'US', 52, NULL), (2, 'Timbaland', 'US', 32, 'Tim'),
          (3, 'Justin', 'FR', 29, NULL), (4, 'Rose', 'NL', 41, 'R'),
          (5, 'John', 'FR', 43, NULL);
        CREATE TABLE concert(id INTEGER PRIMARY KEY, singer_id INTEGER, year INTEGER);
        INSERT INTO concert VALUES (1, 1, 2014), (2, 1, 2015), (3, 2, 2014), (4, 4, 2015);
        """
    )
    conn.commit()
    conn.close()
    return path


def case(pred: str, gold: str, db_path: Path | None = None) -> LLMTestCase:
    meta = {"db_path": str(db_path)} if db_path else None
    return LLMTestCase(input="question", actual_output=pred, expected_output=gold, metadata=meta)


def score(db: Path, pred: str, gold: str, limits: QueryLimits = FAST) -> ExecutionAccuracy:
    metric = ExecutionAccuracy(db_path=db, limits=limits)
    metric.measure(case(pred, gold))
    return metric


# (name, gold, prediction, score, set_match); official and strict verdicts agree on these
SEMANTICS = [
    ("identical", "SELECT name FROM singer", "SELECT name FROM singer", 1.0, True),
    ("same duplicates", "SELECT country FROM singer", "SELECT country FROM singer ORDER BY country", 1.0, True),
    (
        "order ignored without gold ORDER BY",
        "SELECT name FROM singer",
        "SELECT name FROM singer ORDER BY age DESC",
        1.0,
        True,
    ),
    (
        "order enforced by gold ORDER BY",
        "SELECT name FROM singer ORDER BY age",
        "SELECT name FROM singer ORDER BY age DESC",
        0.0,
        True,
    ),
    ("columns permuted", "SELECT name, age FROM singer", "SELECT age, name FROM singer", 1.0, False),
    (
        "columns permuted with order",
        "SELECT name, age FROM singer ORDER BY age",
        "SELECT age, name FROM singer ORDER BY age",
        1.0,
        False,
    ),
    ("extra column", "SELECT name FROM singer", "SELECT name, age FROM singer", 0.0, False),
    ("NULLs equal", "SELECT nick FROM singer", "SELECT nick FROM singer ORDER BY id DESC", 1.0, True),
    ("NULL is not empty text", "SELECT nick FROM singer", "SELECT coalesce(nick, '') FROM singer", 0.0, False),
    ("int equals float", "SELECT count(*) FROM singer", "SELECT count(*) * 1.0 FROM singer", 1.0, True),
    ("integer division differs", "SELECT avg(age) FROM singer", "SELECT sum(age) / count(*) FROM singer", 0.0, False),
    ("text is not number", "SELECT count(*) FROM singer", "SELECT '5'", 0.0, False),
    (
        "join equivalent",
        "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.singer_id",
        "SELECT name FROM singer WHERE id IN (SELECT singer_id FROM concert) UNION ALL SELECT 'Joe'",
        1.0,
        True,
    ),
    (
        "equivalent filter",
        "SELECT name FROM singer WHERE age > 40",
        "SELECT name FROM singer WHERE age >= 41",
        1.0,
        True,
    ),
    ("wrong rows", "SELECT name FROM singer WHERE age > 40", "SELECT name FROM singer WHERE age > 30", 0.0, False),
]


@pytest.mark.parametrize(
    ("gold", "pred", "expected", "expected_set"), [s[1:] for s in SEMANTICS], ids=[s[0] for s in SEMANTICS]
)
def test_semantics(db, gold, pred, expected, expected_set):
    metric = score(db, pred, gold)
    assert metric.score == expected, metric.reason
    assert metric.success is (expected == 1.0)
    assert metric.strict_match is (expected == 1.0)
    assert metric.set_match is expected_set
    assert metric.reason
    assert metric.failure == (None if expected == 1.0 else "wrong_result")
    assert not metric.vacuous


# Hand-made pairs where the official evaluator's conventions and the queries-as-written verdict
# differ: (name, gold, prediction, official, strict, set).
OFFICIAL_VS_STRICT = [
    (
        "issue example: DISTINCT in prediction only",
        "SELECT country FROM singer WHERE age > 20",
        "SELECT DISTINCT country FROM singer WHERE age > 20",
        1,
        0,
        1,
    ),
    ("DISTINCT in gold only", "SELECT DISTINCT country FROM singer", "SELECT country FROM singer", 1, 0, 1),
    (
        "DISTINCT inside an aggregate (gold)",
        "SELECT count(DISTINCT country) FROM singer",
        "SELECT count(country) FROM singer",
        1,
        0,
        0,
    ),
    (
        "DISTINCT inside an aggregate (prediction)",
        "SELECT count(country) FROM singer",
        "SELECT count(DISTINCT country) FROM singer",
        1,
        0,
        0,
    ),
    (
        "DISTINCT over GROUP BY counts",
        "SELECT DISTINCT count(*) FROM singer GROUP BY country",
        "SELECT count(*) FROM singer GROUP BY country",
        1,
        0,
        1,
    ),
    (
        "DISTINCT with GROUP BY changes nothing",
        "SELECT country, count(*) FROM singer GROUP BY country",
        "SELECT DISTINCT country, count(*) FROM singer GROUP BY country",
        1,
        1,
        1,
    ),
    (
        "lowercase distinct in both",
        "select distinct country from singer",
        "select distinct country from singer",
        1,
        1,
        1,
    ),
    (
        "'distinct' inside a string is kept",
        "SELECT name FROM singer WHERE country = 'US'",
        "SELECT name FROM singer WHERE country = 'US' OR name = 'distinct'",
        1,
        1,
        1,
    ),
    (
        "split operator fixed",
        "SELECT name FROM singer WHERE age >= 41",
        "SELECT name FROM singer WHERE age > = 41",
        1,
        0,
        0,
    ),
    (
        "value placeholder",
        "SELECT name FROM singer WHERE id = 1",
        "SELECT name FROM singer WHERE id = value LIMIT 5",
        1,
        0,
        0,
    ),
    (
        "ORDER BY only in a gold subquery",
        "SELECT name FROM (SELECT name FROM singer ORDER BY age)",
        "SELECT name FROM singer ORDER BY age DESC",
        0,
        1,
        1,
    ),
]


@pytest.mark.parametrize(
    ("gold", "pred", "official", "strict", "set_"),
    [c[1:] for c in OFFICIAL_VS_STRICT],
    ids=[c[0] for c in OFFICIAL_VS_STRICT],
)
def test_official_and_strict_verdicts(db, gold, pred, official, strict, set_):
    metric = score(db, pred, gold)
    assert metric.verdicts == {"official": bool(official), "strict": bool(strict), "set": bool(set_)}, metric.reason
    assert metric.score == official and metric.success is bool(official)


def _two_databases(folder: Path, second_ages: tuple[int, ...]) -> Path:
    folder.mkdir()
    for name, ages in (("shop.sqlite", (20, 30, 40)), ("shop_2.sqlite", second_ages)):
        conn = sqlite3.connect(folder / name)
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, age INTEGER)")
        conn.executemany("INSERT INTO t(age) VALUES (?)", [(a,) for a in ages])
        conn.commit()
        conn.close()
    return folder / "shop.sqlite"


def test_a_case_must_match_on_every_database_of_its_folder(tmp_path):
    db = _two_databases(tmp_path / "shop", (20, 35, 40))
    gold, pred = "SELECT count(*) FROM t WHERE age > 30", "SELECT count(*) FROM t WHERE age >= 40"
    single = tmp_path / "single"
    single.mkdir()
    (single / "shop.sqlite").write_bytes(db.read_bytes())
    assert score(single / "shop.sqlite", pred, gold).score == 1.0  # right on the original database
    metric = score(db, pred, gold)
    assert metric.databases == 2
    assert metric.score == 0.0 and not metric.strict_match  # wrong on the second one
    assert metric.set_match  # the reference study's variant looks at the original database only
    assert "on shop_2.sqlite" in metric.reason
    both = score(db, "SELECT count(*) FROM t WHERE age > 30", gold)
    assert both.score == 1.0 and both.reason == "match (1 row, on all 2 databases)"


def test_only_the_first_statement_is_scored(db):
    repeated = score(db, "SELECT name FROM singer; SELECT name FROM singer;", "SELECT name FROM singer")
    assert repeated.score == 1.0 and repeated.more_statements
    assert repeated.predicted_sql == "SELECT name FROM singer"
    hostile = score(db, "SELECT name FROM singer; DROP TABLE singer", "SELECT name FROM singer")
    assert hostile.score == 1.0 and hostile.more_statements  # DROP never reaches SQLite
    assert score(db, "SELECT count(*) FROM singer", "SELECT count(*) FROM singer").more_statements is False


def test_empty_results_are_a_vacuous_match(db):
    metric = score(db, "SELECT name FROM singer WHERE age < 0", "SELECT name FROM singer WHERE age > 100")
    assert metric.score == 1.0 and metric.vacuous and metric.set_match
    assert metric.reason == "vacuous match: both results empty"
    non_empty = score(db, "SELECT name FROM singer WHERE age > 50", "SELECT name FROM singer WHERE age > 100")
    assert non_empty.score == 0.0 and not non_empty.vacuous


def test_wrong_result_reason_has_a_diff(db):
    metric = score(db, "SELECT name FROM singer WHERE age > 42", "SELECT name FROM singer WHERE age > 40")
    assert metric.reason.startswith("wrong result")
    assert "gold 3 rows x 1 cols, pred 2 rows x 1 cols" in metric.reason
    assert "('Rose',)" in metric.reason
    ordered = score(db, "SELECT name FROM singer ORDER BY age DESC", "SELECT name FROM singer ORDER BY age")
    assert "row order matters" in ordered.reason


def test_order_matters_attribute(db):
    assert score(db, "SELECT 1", "SELECT name FROM singer ORDER BY age").order_matters
    assert not score(db, "SELECT 1", "SELECT name FROM singer").order_matters


def test_extracts_sql_from_raw_output(db):
    raw = "Here is the query:\n```sql\nSELECT count(*) FROM singer;\n```\nIt counts singers.<|im_end|>"
    metric = score(db, raw, "SELECT count(*) FROM singer")
    assert metric.score == 1.0
    assert metric.predicted_sql == "SELECT count(*) FROM singer"


def test_db_path_from_metadata_and_async(db):
    test_case = case("SELECT count(*) FROM concert", "SELECT count(*) FROM concert", db_path=db)
    assert ExecutionAccuracy().measure(test_case) == 1.0
    metric = ExecutionAccuracy()
    assert asyncio.run(metric.a_measure(test_case)) == 1.0
    assert metric.is_successful() and metric.reason == "match (1 row)"
    assert metric.__name__ == "Execution Accuracy"


def test_accepts_deepeval_indicator_kwargs(db):
    metric = ExecutionAccuracy(db_path=db)
    assert metric.measure(case("SELECT 1", "SELECT 1"), _show_indicator=False, _in_component=False) == 1.0


def test_deepeval_copy_keeps_configuration(db):
    original = ExecutionAccuracy(db_path=db, threshold=0.5, limits=FAST)
    (copy,) = copy_metrics([original])
    assert isinstance(copy, ExecutionAccuracy) and copy is not original
    assert (copy.db_path, copy.threshold, copy.limits) == (db, 0.5, FAST)


def test_instance_reuse_resets_attributes(db):
    metric = ExecutionAccuracy(db_path=db, limits=FAST)
    metric.measure(case("SELECT name FROM singer WHERE 0", "SELECT name FROM singer WHERE 0"))
    assert metric.vacuous
    metric.measure(case("DROP TABLE singer", "SELECT name FROM singer"))
    assert not metric.vacuous and not metric.set_match and metric.failure == "denied"


def test_gold_failures_raise(db, tmp_path):
    with pytest.raises(GoldQueryError, match="gold query failed"):
        score(db, "SELECT 1", "SELECT no_such_column FROM singer")
    with pytest.raises(GoldQueryError, match="no database"):
        ExecutionAccuracy().measure(case("SELECT 1", "SELECT 1"))
    with pytest.raises(GoldQueryError, match="cannot open database"):
        ExecutionAccuracy(db_path=tmp_path / "missing.sqlite").measure(case("SELECT 1", "SELECT 1"))
    with pytest.raises(GoldQueryError, match="expected_output"):
        ExecutionAccuracy(db_path=db).measure(case("SELECT 1", ""))


def test_gold_results_are_cached(db, monkeypatch):
    ran: list[str] = []
    real = ea.sandbox_for

    class Spy:
        def __init__(self, box):
            self.box = box

        def run(self, sql):
            ran.append(sql)
            return self.box.run(sql)

    monkeypatch.setattr(ea, "sandbox_for", lambda path, limits: Spy(real(path, limits)))
    gold = "SELECT name FROM singer WHERE country = 'FR' /* cache test */"
    for _ in range(3):
        assert score(db, "SELECT name FROM singer WHERE country = 'FR'", gold).score == 1.0
    assert ran.count(gold) == 1
    assert len(ran) == 4  # one gold run, three predictions


# (raw model output, expected failure). Every one must score 0.
HOSTILE = [
    ("DROP TABLE singer", "denied"),
    ("DELETE FROM singer", "denied"),
    ("INSERT INTO singer VALUES (9, 'x', 'x', 1, NULL)", "denied"),
    ("UPDATE singer SET age = 0", "denied"),
    ("REPLACE INTO singer VALUES (1, 'x', 'x', 1, NULL)", "denied"),
    ("CREATE TABLE t(a)", "denied"),
    ("CREATE TEMP VIEW v AS SELECT 1", "denied"),
    ("CREATE INDEX i ON singer(age)", "denied"),
    ("ALTER TABLE singer ADD COLUMN z", "denied"),
    ("ATTACH DATABASE '{dir}/evil.sqlite' AS evil", "denied"),
    ("DETACH DATABASE main", "denied"),
    ("PRAGMA journal_mode=WAL", "denied"),
    ("PRAGMA writable_schema=1", "denied"),
    ("PRAGMA query_only=0", "denied"),
    ("VACUUM INTO '{dir}/copy.sqlite'", "denied"),
    ("VACUUM", "denied"),
    ("BEGIN; DELETE FROM singer; COMMIT", "denied"),
    ("SAVEPOINT s", "denied"),
    ("ANALYZE", "denied"),
    ("REINDEX", "denied"),
    ("WITH x AS (SELECT 1) DELETE FROM singer", "denied"),
    ("WITH x AS (SELECT 1) UPDATE singer SET age = 1", "denied"),
    ("SELECT load_extension('/tmp/evil.so')", "denied"),
    ("SELECT fts3_tokenizer('simple')", "denied"),
    ("SELECT * FROM singer; DROP TABLE singer", "wrong_result"),  # scored on its first statement
    ("SELECT 1; PRAGMA writable_schema=ON", "wrong_result"),
    ("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r", "timeout"),
    # Unbounded results: the row cap or the clock stops them first, depending on the machine's load.
    ("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT x FROM r", "too_many_rows|timeout"),
    (
        "SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e, singer f, singer g, singer h, singer i, singer j, singer k, singer l",
        "timeout",
    ),
    ("SELECT randomblob(2000000000)", "runtime_error"),
    ("SELECT zeroblob(2000000000)", "runtime_error"),
    ("SELECT length(randomblob(9000000) || randomblob(9000000))", "runtime_error"),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r LIMIT 20) SELECT zeroblob(9000000) FROM r",
        "too_many_rows|timeout",
    ),
    ("SELECT instr(hex(zeroblob(300000)), hex(zeroblob(150000)) || '1')", "timeout"),
    ("SELECT name FROM singer WHERE name LIKE '" + "%a" * 600 + "'", "runtime_error"),
    ("SELECT 1\x00; DROP TABLE singer", "syntax_error"),
    ("SELECT '\ud800'", "syntax_error"),
    ("SELECT '" + "x" * 1_000_000 + "'", "syntax_error"),
    ("SELECT " + "(" * 5_000 + "1" + ")" * 5_000, "syntax_error"),
    ("SELECT ?", "runtime_error"),
    ("SELECT name FROM singer WHERE", "syntax_error"),
    ("x" * 1_000_000, "empty_output"),
    ("I'm sorry, I can't help with that.", "empty_output"),
    ("", "empty_output"),
    ("\udcff\udcfe", "empty_output"),
]


@pytest.mark.parametrize(("output", "failure"), HOSTILE, ids=[repr(h[:45]) for h, _ in HOSTILE])
def test_hostile_outputs_score_zero_and_change_nothing(db, output, failure):
    output = output.replace("{dir}", str(db.parent))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    files = sorted(os.listdir(db.parent))
    start = time.monotonic()
    metric = score(db, output, "SELECT name FROM singer")
    elapsed = time.monotonic() - start
    assert metric.score == 0.0 and metric.success is False
    assert metric.failure in failure.split("|"), metric.reason
    assert metric.reason and metric.reason.strip()
    # bounded: one query's budget (and its abandonment grace), with slack for a loaded machine
    assert elapsed < FAST.timeout_s + HARD_GRACE_S + 10.0
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(db.parent)) == files
    assert score(db, "SELECT name FROM singer", "SELECT name FROM singer").score == 1.0


def test_hostile_list_is_broad():
    assert len(HOSTILE) >= 30
    assert {f for _, failures in HOSTILE for f in failures.split("|")} >= {
        "denied",
        "wrong_result",
        "timeout",
        "too_many_rows",
        "runtime_error",
        "syntax_error",
        "empty_output",
    }


def _spider_dir() -> Path:
    return (REPO / os.environ.get("SPIDER_DIR", "../shared/data/spider")).resolve()


def test_every_real_dev_gold_matches_itself():
    root = _spider_dir()
    if not (root / "dev.json").is_file():
        pytest.skip(f"Spider data not found at {root} (set SPIDER_DIR)")
    examples = json.loads((root / "dev.json").read_text())
    cases = []
    for ex in examples:
        db_path = root / "database" / ex["db_id"] / f"{ex['db_id']}.sqlite"
        if db_path.is_file():
            cases.append(case(ex["query"], ex["query"], db_path))
    assert len(cases) >= 972
    failures = []
    for test_case in cases:
        metric = ExecutionAccuracy()
        if metric.measure(test_case) != 1.0:
            failures.append((test_case.expected_output, metric.reason))
    assert failures == []
