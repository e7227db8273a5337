"""A minimal Spider directory built from scratch, shared by the unit tests (a module, not the
conftest, so module-scoped fixtures and helper files can import it by name)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def make_spider_dir(root: Path, with_missing_db: bool = True) -> Path:
    """A minimal Spider layout: 2 databases (one missing on disk), 4 dev and 3 train examples."""
    (root / "database" / "shop").mkdir(parents=True)
    conn = sqlite3.connect(root / "database" / "shop" / "shop.sqlite")
    conn.executescript(
        """
        CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL, shop_id INTEGER);
        CREATE TABLE shop(shop_id INTEGER PRIMARY KEY, city TEXT);
        INSERT INTO shop VALUES (1, 'Oslo'), (2, 'Rome');
        INSERT INTO item VALUES (1, 'pen', 2.5, 1), (2, 'book', 10, 1), (3, 'cup', 4, 2);
        """
    )
    conn.commit()
    conn.close()
    tables = [
        {
            "db_id": "shop",
            "table_names_original": ["item", "shop"],
            "table_names": ["item", "shop"],
            "column_names_original": [
                [-1, "*"],
                [0, "id"],
                [0, "name"],
                [0, "price"],
                [0, "shop_id"],
                [1, "shop_id"],
                [1, "city"],
            ],
            "column_names": [
                [-1, "*"],
                [0, "id"],
                [0, "name"],
                [0, "price"],
                [0, "shop id"],
                [1, "shop id"],
                [1, "city"],
            ],
            "column_types": ["text", "number", "text", "number", "number", "number", "text"],
            "primary_keys": [1, 5],
            "foreign_keys": [[4, 5]],
        },
        {
            "db_id": "gone",
            "table_names_original": ["t"],
            "table_names": ["t"],
            "column_names_original": [[-1, "*"], [0, "a"]],
            "column_names": [[-1, "*"], [0, "a"]],
            "column_types": ["text", "number"],
            "primary_keys": [1],
            "foreign_keys": [],
        },
    ]
    easy_sql = {
        "from": {"table_units": [["table_unit", 0]], "conds": []},
        "select": [False, [[3, [0, [0, 0, False], None]]]],
        "where": [],
        "groupBy": [],
        "having": [],
        "orderBy": [],
        "limit": None,
        "intersect": None,
        "union": None,
        "except": None,
    }
    dev = [
        {"db_id": "shop", "question": "How many items?", "query": "SELECT count(*) FROM item", "sql": easy_sql},
        {"db_id": "shop", "question": "Names of items?", "query": "SELECT name FROM item", "sql": easy_sql},
        {"db_id": "gone", "question": "How many t?", "query": "SELECT count(*) FROM t", "sql": easy_sql},
        {"db_id": "shop", "question": "Cities?", "query": "SELECT city FROM shop", "sql": easy_sql},
    ]
    train = [
        {"db_id": "shop", "question": "All cities?", "query": "SELECT city  FROM shop"},
        {"db_id": "shop", "question": "Cheapest item?", "query": "SELECT name FROM item ORDER BY price LIMIT 1"},
        {"db_id": "gone", "question": "All a?", "query": "SELECT a FROM t"},
    ]
    (root / "tables.json").write_text(json.dumps(tables))
    (root / "dev.json").write_text(json.dumps(dev))
    (root / "train_spider.json").write_text(json.dumps(train))
    return root
