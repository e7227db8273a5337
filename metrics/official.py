"""The official Spider test-suite evaluator's text conventions, so our headline verdict equals its.

taoyds/test-suite-sql-eval (`evaluation.py --etype exec`, default flags) does not run the
queries as written. Before executing it

* replaces " value " by " 1 " in the prediction (a placeholder some parsers emit);
* joins split comparison operators in both queries (`> =` -> `>=`, `< =`, `! =`);
* unless `--keep_distinct`, removes every DISTINCT token from both, including the one in
  `count(DISTINCT x)`. It does so on sqlparse's token stream and keeps only sqlparse's first
  statement, so we use sqlparse too: the same tokens, the same quirks (`t.distinct` loses
  its column name there as well);
* replaces `YEAR(CURDATE())` by 2020 when it executes a query;
* treats row order as significant when the (rewritten) gold query contains the substring
  "order by", wherever it occurs.

It compares the results on every `*.sqlite` file in the case's database folder (the
test-suite distilled databases); `database_files` lists them the same way.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import sqlparse

__all__ = ["official_gold", "official_prediction", "official_orders_rows", "database_files"]

_GO = re.compile(r"\bgo\b")  # sqlparse also ends a statement at the keyword GO
_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def _join_operators(sql: str) -> str:
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def _remove_distinct(sql: str) -> str:
    lowered = sql.lower()
    if ";" not in sql and "distinct" not in lowered and not _GO.search(lowered):
        return sql  # one statement without the token: sqlparse would return it unchanged (and costs ~1 ms)
    try:
        statements = sqlparse.parse(sql)
    except Exception:  # noqa: BLE001 - e.g. nesting deeper than sqlparse allows
        # The official evaluator crashes on such text; SQLite refuses it anyway.
        return sql
    if not statements:
        return sql
    return "".join(t.value for t in statements[0].flatten() if t.value.lower() != "distinct")


@lru_cache(maxsize=8192)
def official_gold(sql: str) -> str:
    """The gold query as the official evaluator executes it."""
    return _CUR_YEAR.sub("2020", _remove_distinct(_join_operators(sql)))


@lru_cache(maxsize=8192)
def official_prediction(sql: str) -> str:
    """A predicted query as the official evaluator executes it."""
    return _CUR_YEAR.sub("2020", _remove_distinct(_join_operators(sql.replace(" value ", " 1 "))))


def official_orders_rows(gold_official: str) -> bool:
    """The official order test: a substring test on the rewritten gold query."""
    return "order by" in gold_official.lower()


def database_files(db_path: Path) -> list[Path]:
    """Every database a case is checked on: the named file first, then each other file in its
    folder whose name contains ".sqlite" (the official evaluator's test), sorted."""
    folder = db_path.parent
    return list(_database_files(str(db_path), folder.stat().st_mtime_ns))


@lru_cache(maxsize=1024)
def _database_files(db_path: str, folder_mtime_ns: int) -> tuple[Path, ...]:
    """Listed once per folder version (adding or removing a file changes the folder's mtime)."""
    path = Path(db_path)
    others = sorted(p for p in path.parent.iterdir() if ".sqlite" in p.name and p.is_file() and p.name != path.name)
    return (path, *others)
