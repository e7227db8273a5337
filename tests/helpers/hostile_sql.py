"""A generated corpus of hostile and pathological "model outputs" for SQL scoring.

Each `Hostile` is one raw model output (the text `ExecutionAccuracy` gets as
`actual_output`), the family it belongs to, and the failure categories the
scorer may legitimately give it. The corpus is built for one table of the
target database (`table`, a text column and a numeric column), so it runs
against a real Spider database and against a synthetic one alike.

`scratch` is a directory where hostile statements try to create files
(ATTACH, VACUUM INTO); callers check afterwards that nothing appeared there.

Used by tests/integration/test_hostile_sql.py and bench/hostile_sql_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Hostile", "generate", "MB"]

MB = 1_000_000

SYNTAX = frozenset({"syntax_error"})
DENIED = frozenset({"denied"})
# Several statements: only the first is scored (a wrong SELECT here), the rest never runs.
MULTI = frozenset({"wrong_result"})
RUNTIME = frozenset({"runtime_error"})
WRONG = frozenset({"wrong_result"})
EMPTY = frozenset({"empty_output"})
TIMEOUT = frozenset({"timeout"})
# Resource bombs: whichever cap trips first is a correct answer.
BOMB = frozenset({"timeout", "too_many_rows", "runtime_error"})
# Statements SQLite refuses (as syntax or as denied) before anything runs.
REFUSED = frozenset({"denied", "syntax_error", "multiple_statements"})


@dataclass(frozen=True)
class Hostile:
    name: str
    family: str
    output: str
    expect: frozenset[str]

    def __repr__(self) -> str:  # keep pytest ids and failure messages short
        return f"Hostile({self.name!r}, {self.family}, {len(self.output)} chars)"


def _surrogateescape(raw: bytes) -> str:
    """How a model server that decodes with errors='surrogateescape' hands us bad bytes."""
    return raw.decode("utf-8", errors="surrogateescape")


def generate(table: str, text_col: str, num_col: str, scratch: Path) -> list[Hostile]:
    t, s, n = f'"{table}"', f'"{text_col}"', f'"{num_col}"'
    d = str(scratch)
    out: list[Hostile] = []

    def add(family: str, name: str, output: str, expect: frozenset[str]) -> None:
        out.append(Hostile(f"{family}:{name}", family, output, expect))

    # --- writes, DDL and other non-queries, each in several wrappings ---------------
    writes = {
        "insert": f"INSERT INTO {t} ({s}) VALUES ('pwned')",
        "insert_select": f"INSERT INTO {t} SELECT * FROM {t}",
        "insert_returning": f"INSERT INTO {t} ({s}) VALUES ('x') RETURNING *",
        "upsert": f"INSERT INTO {t} ({s}) VALUES ('x') ON CONFLICT DO NOTHING",
        "insert_or_replace": f"INSERT OR REPLACE INTO {t} ({s}) VALUES ('x')",
        "replace": f"REPLACE INTO {t} ({s}) VALUES ('x')",
        "update": f"UPDATE {t} SET {n} = 0",
        "update_returning": f"UPDATE {t} SET {s} = upper({s}) RETURNING {s}",
        "delete": f"DELETE FROM {t}",
        "delete_where": f"DELETE FROM {t} WHERE {n} > 0",
        "drop_table": f"DROP TABLE {t}",
        "drop_if_exists": f"DROP TABLE IF EXISTS {t}",
        "drop_view": "DROP VIEW IF EXISTS v",
        "drop_index": "DROP INDEX IF EXISTS i",
        "drop_trigger": "DROP TRIGGER IF EXISTS tr",
        "create_table": "CREATE TABLE evil(a)",
        "create_table_as": f"CREATE TABLE evil AS SELECT * FROM {t}",
        "create_temp": "CREATE TEMP TABLE evil(a)",
        "create_view": f"CREATE VIEW v AS SELECT * FROM {t}",
        "create_index": f"CREATE INDEX i ON {t}({n})",
        "create_trigger": f"CREATE TRIGGER tr AFTER INSERT ON {t} BEGIN DELETE FROM {t}; END",
        "create_virtual": "CREATE VIRTUAL TABLE f USING fts5(a)",
        "alter_rename": f"ALTER TABLE {t} RENAME TO gone",
        "alter_add": f"ALTER TABLE {t} ADD COLUMN z",
        "alter_drop_col": f"ALTER TABLE {t} DROP COLUMN {s}",
        "alter_rename_col": f"ALTER TABLE {t} RENAME COLUMN {s} TO z",
        "cte_delete": f"WITH x AS (SELECT 1) DELETE FROM {t}",
        "cte_update": f"WITH x AS (SELECT 1) UPDATE {t} SET {n} = 1",
        "cte_insert": f"WITH x AS (SELECT 1) INSERT INTO {t} ({s}) SELECT 'x' FROM x",
        "begin_delete_commit": f"BEGIN; DELETE FROM {t}; COMMIT",
        "begin_immediate": "BEGIN IMMEDIATE",
        "savepoint": "SAVEPOINT s",
        "rollback": "ROLLBACK",
        "analyze": "ANALYZE",
        "reindex": "REINDEX",
        "explain_delete": f"EXPLAIN DELETE FROM {t}",
    }
    wrappers = {
        "plain": lambda q: q,
        "fenced": lambda q: f"Here is the query:\n```sql\n{q};\n```\nIt answers the question.",
        "comment_first": lambda q: f"/* harmless */ -- really\n{q.lower()}",
        "after_select": lambda q: f"SELECT {s} FROM {t}; {q}",
    }
    for wname, wrap in wrappers.items():
        for qname, q in writes.items():
            expect = MULTI if wname == "after_select" else DENIED
            if wname == "comment_first" and qname in ("insert_select", "create_table_as", "create_view"):
                # after a leading comment the extractor picks the lowercase inline
                # `select ...` and runs only that read: harmless, a wrong result
                expect = DENIED | WRONG
            add("write", f"{qname}/{wname}", wrap(q), expect)

    # --- ATTACH / DETACH / VACUUM INTO: creating or touching other files ---------------
    for name, q in {
        "attach_file": f"ATTACH DATABASE '{d}/evil.sqlite' AS evil",
        "attach_uri_rwc": f"ATTACH 'file:{d}/evil2.sqlite?mode=rwc' AS e",
        "attach_memory": "ATTACH ':memory:' AS m",
        "attach_self": f"ATTACH '{d}/{table}.sqlite' AS again",
        "attach_lower": f"attach database '{d}/evil3.sqlite' as evil",
        "attach_in_cte": f"WITH a AS (SELECT 1) ATTACH '{d}/evil4.sqlite' AS e",
        "detach_main": "DETACH DATABASE main",
        "detach_temp": "DETACH temp",
        "vacuum": "VACUUM",
        "vacuum_into": f"VACUUM INTO '{d}/copy.sqlite'",
        "vacuum_main_into": f"VACUUM main INTO '{d}/copy2.sqlite'",
        "vacuum_into_uri": f"VACUUM INTO 'file:{d}/copy3.sqlite'",
        "select_then_vacuum": f"SELECT 1; VACUUM INTO '{d}/copy4.sqlite'",
    }.items():
        expect = SYNTAX | DENIED if name == "attach_in_cte" else (MULTI if name.startswith("select_") else DENIED)
        add("attach", name, q, expect)

    # --- PRAGMA writes (and reads) ----------------------------------------------------
    for p in (
        "journal_mode=WAL",
        "journal_mode=DELETE",
        "journal_mode=OFF",
        "writable_schema=ON",
        "query_only=0",
        "user_version=42",
        "application_id=7",
        "schema_version=1",
        "foreign_keys=ON",
        "locking_mode=EXCLUSIVE",
        "synchronous=OFF",
        "wal_checkpoint(TRUNCATE)",
        "cache_size=-2000000",
        "mmap_size=268435456",
        "temp_store=FILE",
        "integrity_check",
        "table_info(" + table + ")",
        "main.page_size=512",
        "trusted_schema=ON",
        "cell_size_check=ON",
    ):
        add("pragma", p, f"PRAGMA {p}", DENIED)
    add("pragma", "after_select", "SELECT 1; PRAGMA writable_schema=ON", MULTI)
    add("pragma", "tvf_user_version", "SELECT * FROM pragma_user_version", DENIED | RUNTIME | WRONG)
    add("pragma", "tvf_table_info", f"SELECT * FROM pragma_table_info('{table}')", DENIED | RUNTIME | WRONG)

    # --- extensions and file functions -------------------------------------------------
    for name, q in {
        "load_extension": "SELECT load_extension('/tmp/evil.so')",
        "load_extension_entry": "SELECT load_extension('/tmp/evil', 'sqlite3_evil_init')",
        "load_extension_upper": f"SELECT LOAD_EXTENSION('libc.so.6') FROM {t}",
        "load_extension_subquery": f"SELECT {s} FROM {t} WHERE {n} = (SELECT load_extension('x'))",
        "load_extension_cte": "WITH x(a) AS (SELECT load_extension('x')) SELECT a FROM x",
        "fts3_tokenizer": "SELECT fts3_tokenizer('simple')",
        "readfile": "SELECT readfile('/etc/passwd')",
        "writefile": f"SELECT writefile('{d}/w.txt', 'x')",
        "edit": "SELECT edit('x', 'vi')",
        "sqlite_dbpage": "SELECT * FROM sqlite_dbpage",
        "fts5vocab": "SELECT * FROM fts5vocab",
        "generate_series": "SELECT * FROM generate_series(1, 1000000000)",
    }.items():
        add("extension", name, q, DENIED | RUNTIME | BOMB)

    # --- recursive CTEs that never end --------------------------------------------------
    inf = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r)"
    for name, q in {
        "count": f"{inf} SELECT count(*) FROM r",
        "rows": f"{inf} SELECT x FROM r",
        "max": f"{inf} SELECT max(x) FROM r",
        "where_never": f"{inf} SELECT x FROM r WHERE x < 0",
        "order": f"{inf} SELECT x FROM r ORDER BY x DESC LIMIT 1",
        "in_subquery": f"SELECT {s} FROM {t} WHERE {n} IN ({inf} SELECT x FROM r WHERE x < 0)",
        "string_growth": "WITH RECURSIVE r(x) AS (SELECT 'a' UNION ALL SELECT x || x FROM r) SELECT length(x) FROM r",
        "union_dedup": "WITH RECURSIVE r(x) AS (SELECT 1 UNION SELECT x + 1 FROM r) SELECT count(*) FROM r",
        "two_level": "WITH RECURSIVE a(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM a), "
        "b(y) AS (SELECT 1 UNION ALL SELECT y + 1 FROM b) SELECT count(*) FROM a, b",
        "group_concat": f"{inf} SELECT group_concat(x) FROM r",
        "fenced": f"```sql\n{inf} SELECT sum(x) FROM r\n```",
    }.items():
        add("recursion", name, q, BOMB)

    # --- randomblob / zeroblob / string bombs -------------------------------------------
    for name, q in {
        "randomblob_2g": "SELECT randomblob(2000000000)",
        "zeroblob_2g": "SELECT zeroblob(2000000000)",
        "zeroblob_neg": "SELECT length(zeroblob(-1))",
        "concat_18m": "SELECT length(randomblob(9000000) || randomblob(9000000))",
        "hex_12m": "SELECT length(hex(randomblob(6000000)))",
        "printf_width": "SELECT length(printf('%.*c', 2000000000, 'x'))",
        "replace_growth": "SELECT length(replace(hex(zeroblob(4000000)), '0', '0000'))",
        "rows_of_9mb": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 20) SELECT zeroblob(9000000) FROM r",
        "group_concat_blobs": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 50) SELECT length(group_concat(hex(zeroblob(1000000)))) FROM r",
        "json_array_bomb": "SELECT length(json_group_array(hex(zeroblob(1000000)))) FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 50) SELECT i FROM r)",
        "upper_big": "SELECT length(upper(hex(randomblob(4000000))))",
        "substr_big": "SELECT substr(zeroblob(9000000), 1, 9000000)",
        "randomblob_per_row": f"SELECT randomblob(5000000) FROM {t}, {t}",
        "cast_bad_utf8": "SELECT CAST(x'fffefd' AS TEXT)",
        "char_surrogate": "SELECT char(55296, 57343)",
    }.items():
        expect = WRONG if name in ("cast_bad_utf8", "char_surrogate", "zeroblob_neg") else BOMB
        if name in ("upper_big", "substr_big"):
            expect = WRONG | TIMEOUT  # fits the caps; a loaded machine may hit 0.5 s
        add("blob", name, q, expect)

    # --- cartesian products -------------------------------------------------------------
    for k in (6, 8, 10, 12):
        tables = ", ".join(f"{t} AS a{i}" for i in range(k))
        add("cartesian", f"count_{k}way", f"SELECT count(*) FROM {tables}", BOMB | WRONG)
    for k in (3, 4, 5):
        tables = ", ".join(f"{t} AS a{i}" for i in range(k))
        add("cartesian", f"rows_{k}way", f"SELECT * FROM {tables}", BOMB | WRONG)
    add(
        "cartesian",
        "master_x_master",
        "SELECT * FROM sqlite_master a, sqlite_master b, sqlite_master c, sqlite_master d",
        BOMB | WRONG,
    )
    add("cartesian", "65_tables", "SELECT 1 FROM " + ", ".join([t] * 65), RUNTIME)
    add(
        "cartesian",
        "cross_cte",
        "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r LIMIT 3000) SELECT count(*) FROM r a, r b, r c",
        BOMB,
    )
    add(
        "cartesian",
        "window_over_cross",
        f"SELECT count(*) OVER (ORDER BY a.{n}, b.{n}) FROM {t} a, {t} b, {t} c, {t} e, {t} f",
        BOMB | WRONG,
    )

    # --- deep nesting -------------------------------------------------------------------
    for depth in (300, 1000, 5000, 40000):
        add("nesting", f"parens_{depth}", "SELECT " + "(" * depth + "1" + ")" * depth, SYNTAX | RUNTIME)
    for depth in (100, 400):
        add("nesting", f"subqueries_{depth}", "SELECT " + "(SELECT " * depth + "1" + ")" * depth, SYNTAX | RUNTIME)
        add("nesting", f"functions_{depth}", "SELECT " + "abs(" * depth + "1" + ")" * depth, SYNTAX | RUNTIME)
        add(
            "nesting", f"case_{depth}", "SELECT " + "CASE WHEN 1 THEN " * depth + "1" + " END" * depth, SYNTAX | RUNTIME
        )
        add(
            "nesting",
            f"from_subquery_{depth}",
            "SELECT * FROM " + "(SELECT * FROM " * depth + t + ")" * depth,
            SYNTAX | RUNTIME,
        )
    add("nesting", "not_10000", "SELECT " + "NOT " * 10_000 + "1", SYNTAX | RUNTIME)
    add("nesting", "minus_10000", "SELECT " + "- " * 10_000 + "1", SYNTAX | RUNTIME)
    add(
        "nesting",
        "and_chain_3000",
        f"SELECT {s} FROM {t} WHERE " + " AND ".join(["1"] * 3000),
        SYNTAX | RUNTIME | WRONG,
    )
    add("nesting", "union_600", " UNION ALL ".join(["SELECT 1"] * 600), RUNTIME)
    add("nesting", "in_list_10000", f"SELECT {s} FROM {t} WHERE {n} IN ({', '.join(map(str, range(10_000)))})", WRONG)
    add("nesting", "columns_300", "SELECT " + ", ".join(["1"] * 300), RUNTIME)
    add(
        "nesting",
        "cte_chain_200",
        "WITH "
        + ", ".join(f"c{i} AS (SELECT {'1' if i == 0 else f'* FROM c{i - 1}'})" for i in range(200))
        + " SELECT * FROM c199",
        WRONG | RUNTIME,
    )

    # --- comment tricks -----------------------------------------------------------------
    for name, (q, expect) in {
        "drop_after_line_comment": (f"SELECT 1 -- ok\n; DROP TABLE {t}", MULTI),
        "drop_inside_block": (f"SELECT 1 /* ; DROP TABLE {t} */", WRONG),
        "drop_after_block": (f"/* SELECT 1 */ DROP TABLE {t}", REFUSED),
        "pragma_after_comments": ("-- a\n/* b */ -- c\n  PRAGMA writable_schema=ON", DENIED),
        "unterminated_block": (f"SELECT 1 /* DROP TABLE {t}", WRONG | SYNTAX),
        "select_in_comment": (f"-- SELECT 1\nDROP TABLE {t}", REFUSED),
        "nested_block": (f"SELECT 1 /* /* */ DROP TABLE {t} */", REFUSED),
        "keyword_split": (f"DE/**/LETE FROM {t}", REFUSED | EMPTY),
        "semicolon_in_string": (f"SELECT '; DROP TABLE {table}'", WRONG),
        "semicolon_in_ident": (f'SELECT 1 AS "; DROP TABLE {table}"', WRONG),
        "only_comments": ("-- nothing\n/* here */", EMPTY),
        "comment_then_nul": ("SELECT 1 -- \x00 DROP", SYNTAX),
        "line_separator": (f"SELECT 1 -- x\u2028DROP TABLE {t}", WRONG | SYNTAX | MULTI),
        "hash_comment": (f"SELECT 1 # ; DROP TABLE {t}", SYNTAX | MULTI | RUNTIME),
        "mysql_version_comment": (f"SELECT 1 /*!50000 ; DROP TABLE {t} */", WRONG),
        # Empty statements and blank lines between two statements do not hide the
        # second one from the sandbox: both are refused, never the harmless half run.
        "many_semicolons": (f"SELECT 1;;;;;;;; DROP TABLE {t}", MULTI),
        "semicolon_blank_lines": (f"SELECT 1;\n\n\nDELETE FROM {t}", MULTI),
        "chat_tokens_drop": (f"<|im_start|>assistant\nDROP TABLE {t}<|im_end|>", DENIED),
        "sql_tag_drop": (f"<sql>DELETE FROM {t}</sql>", DENIED),
        "fence_inline_drop": (f"```DROP TABLE {t}```", DENIED),
        "prose_then_drop": (f"Sure! I will clean the table first.\nDELETE FROM {t};\nSELECT 1", MULTI | WRONG),
        "second_fence_drop": (f"```sql\nSELECT 1;\nDROP TABLE {t};\n```", MULTI),
    }.items():
        add("comment", name, q, expect)

    # --- quadratic string functions and huge LIKE / GLOB patterns --------------------
    # instr() on long strings is one VM step the progress handler cannot stop: the
    # sandbox abandons the connection (the stuck call burns ~6 s of CPU), so keep one.
    add("quadratic", "instr_hex", "SELECT instr(hex(zeroblob(300000)), hex(zeroblob(150000)) || '1')", TIMEOUT)
    for name, q in {
        "replace_quadratic": "SELECT length(replace(hex(zeroblob(2000000)), '00', hex(zeroblob(2))))",
        "like_big_text": "SELECT hex(zeroblob(4000000)) LIKE '%1%'",
        "glob_big_text": "SELECT hex(zeroblob(4000000)) GLOB '*1*'",
        "like_many_percent": "SELECT hex(zeroblob(50000)) LIKE '" + "%0" * 400 + "%1'",
        "glob_many_star": "SELECT hex(zeroblob(50000)) GLOB '" + "*0" * 400 + "*1'",
        "trim_big": "SELECT length(trim(hex(zeroblob(4000000)), '0'))",
        "like_per_row_cross": f"SELECT count(*) FROM {t} a, {t} b, {t} c WHERE hex(zeroblob(20000)) LIKE '%0%1'",
    }.items():
        add("quadratic", name, q, BOMB | WRONG)
    for name, pattern in {
        "like_1200_percent_a": "%a" * 600,
        "like_5000_chars": "x" * 5000,
        "like_100k_chars": "%" * 100_000,
        "like_escape_bomb": "\\%" * 800,
    }.items():
        add("like", name, f"SELECT {s} FROM {t} WHERE {s} LIKE '{pattern}'", RUNTIME | SYNTAX)
    add("like", "glob_3000", f"SELECT {s} FROM {t} WHERE {s} GLOB '" + "*" * 3000 + "'", RUNTIME)
    add("like", "like_999_ok", f"SELECT {s} FROM {t} WHERE {s} LIKE '" + "%" * 997 + "zz'", WRONG)

    # --- size: very long outputs (1 MB and more) --------------------------------------------
    add("size", "string_literal_1mb", "SELECT '" + "x" * MB + "'", SYNTAX)
    add("size", "prose_1mb", "I cannot answer. " * (MB // 17), EMPTY)
    add("size", "x_1mb", "x" * MB, EMPTY)
    add("size", "newlines_1mb_then_from", "SELECT 1" + "\n" * MB + f"FROM {t}", SYNTAX)
    add("size", "blank_lines_1mb_then_from", f"SELECT {s}" + " \n" * (MB // 2) + f"FROM {t}", SYNTAX)
    add("size", "trailing_spaces_1mb", f"SELECT {s} FROM {t}" + " " * MB, WRONG)
    add("size", "union_1mb", " UNION ALL ".join(["SELECT 1"] * (MB // 19)), SYNTAX)
    add("size", "in_list_1mb", f"SELECT 1 WHERE 1 IN ({', '.join(['1'] * (MB // 3))})", SYNTAX)
    add("size", "block_comment_1mb", "/*" + "x" * MB + "*/ SELECT 1", SYNTAX | WRONG)
    add("size", "line_comments_1mb", "-- hi\n" * (MB // 6) + "SELECT 1", SYNTAX | WRONG)
    add("size", "fences_1mb", "```\n" * (MB // 4), EMPTY)
    add("size", "chat_tokens_1mb", "<|im_end|>" * (MB // 10), EMPTY)
    add("size", "sql_tags_1mb", "<sql>" * (MB // 5), EMPTY)
    add("size", "intro_lines_1mb", "select the rows as follows:\n" * (MB // 28), EMPTY)
    add("size", "quotes_1mb", "SELECT " + "'" * MB, SYNTAX)
    add("size", "open_parens_1mb", "SELECT " + "(" * MB, SYNTAX)
    add("size", "semicolons_1mb", "SELECT 1" + ";" * MB, WRONG)
    add("size", "statements_1mb", "SELECT 1; " * (MB // 10), SYNTAX | MULTI)
    add("size", "selects_1mb", "SELECT " * (MB // 7), SYNTAX)
    add("size", "with_1mb", "WITH x AS (" * (MB // 11), SYNTAX)
    add("size", "just_under_limit", f"SELECT {s} FROM {t} WHERE {s} <> '" + "y" * 99_900 + "'", WRONG)
    add("size", "just_over_limit", f"SELECT {s} FROM {t} WHERE {s} <> '" + "y" * 100_100 + "'", SYNTAX)
    add("size", "output_4mb_prose_then_sql", "Let me think. " * (4 * MB // 14) + f"\nSELECT {s} FROM {t}", WRONG)

    # --- 100-statement scripts ----------------------------------------------------------
    add("script", "100_selects", "SELECT 1; " * 100, MULTI)
    add("script", "100_deletes", f"DELETE FROM {t}; " * 100, DENIED)
    add("script", "select_then_99_drops", "SELECT 1; " + f"DROP TABLE {t}; " * 99, MULTI)
    add(
        "script",
        "100_mixed_lines",
        "\n".join(
            [f"SELECT {s} FROM {t};", f"UPDATE {t} SET {n} = {n} + 1;", "PRAGMA user_version = 1;", "VACUUM;"] * 25
        ),
        MULTI,
    )
    add("script", "transaction_100", "BEGIN;\n" + f"INSERT INTO {t} ({s}) VALUES ('x');\n" * 98 + "COMMIT;", DENIED)
    add("script", "fenced_100", "```sql\n" + f"SELECT {s} FROM {t};\n" * 100 + "```", MULTI)
    add("script", "savepoints_100", "".join(f"SAVEPOINT s{i}; " for i in range(100)), DENIED)
    add(
        "script",
        "ctes_then_writes",
        "WITH a AS (SELECT 1) SELECT * FROM a; " + f"INSERT INTO {t} ({s}) VALUES ('x'); " * 99,
        MULTI,
    )

    # --- invalid UTF-8 (surrogateescape), lone surrogates, odd Unicode -------------------
    for name, (text, expect) in {
        "surrogateescape_literal": (_surrogateescape(b"SELECT '\xff\xfe'"), SYNTAX),
        "surrogateescape_ident": (_surrogateescape(b"SELECT \xc3\x28 FROM ") + table, SYNTAX),
        "surrogateescape_overlong": (_surrogateescape(b"SELECT '\xc0\xaf'"), SYNTAX),
        "surrogateescape_truncated": (_surrogateescape(b"SELECT '\xe2\x82'"), SYNTAX),
        "surrogateescape_comment": (_surrogateescape(b"SELECT 1 -- \xff"), SYNTAX),
        "surrogateescape_only": (_surrogateescape(b"\xff\xfe\xfd" * 1000), EMPTY),
        "surrogateescape_drop": (_surrogateescape(b"\xffDROP TABLE ") + table, REFUSED | EMPTY),
        "surrogateescape_1mb": (_surrogateescape(b"SELECT '" + b"\x80" * MB + b"'"), SYNTAX),
        "lone_high_surrogate": ("SELECT '\ud800'", SYNTAX),
        "lone_low_surrogate": (f"SELECT {s} FROM {t} WHERE {s} = '\udc00'", SYNTAX),
        "surrogate_pair_halves": ("SELECT '\udbff\udfff\ud800'", SYNTAX),
        "bom_prefix": (f"\ufeffSELECT {s} FROM {t}", WRONG | SYNTAX),
        "zero_width_space": (f"SELECT\u200b{s} FROM {t}", SYNTAX | RUNTIME | WRONG),
        "rtl_override": (f"SELECT '\u202e{table}' ", WRONG),
        "fullwidth_select": ("ＳＥＬＥＣＴ 1", EMPTY | SYNTAX),
        "cyrillic_homoglyph": (f"SЕLЕCT {s} FROM {t}", EMPTY | SYNTAX | RUNTIME),
        "nbsp_separators": (f"SELECT\u00a0{s}\u00a0FROM\u00a0{t}", SYNTAX | WRONG | RUNTIME),
        "astral_chars": ("SELECT '" + "\U0001f4a9" * 1000 + "'", WRONG),
    }.items():
        add("encoding", name, text, expect)

    # --- NUL bytes ------------------------------------------------------------------------
    for name, text in {
        "nul_start": f"\x00SELECT {s} FROM {t}",
        "nul_before_drop": f"SELECT 1\x00; DROP TABLE {t}",
        "nul_in_string": f"SELECT {s} FROM {t} WHERE {s} = 'a\x00b'",
        "nul_in_ident": f"SELECT {s}\x00 FROM {t}",
        "nul_at_end": f"SELECT {s} FROM {t}\x00",
        "nul_run": f"SELECT {s} FROM {t} " + "\x00" * 10_000,
        "nul_fenced": f"```sql\nSELECT \x00{s} FROM {t}\n```",
        "nul_every_char": "\x00".join(f"SELECT {s} FROM {t}"),
    }.items():
        add("nul", name, text, SYNTAX | EMPTY | WRONG)  # a leading NUL is skipped by the extractor

    # --- parameters, EXPLAIN, introspection and other oddities ----------------------
    for name, (q, expect) in {
        "param_qmark": ("SELECT ?", RUNTIME),
        "param_named": (f"SELECT {s} FROM {t} WHERE {n} = :age", RUNTIME),
        "param_dollar": ("SELECT $x", RUNTIME),
        "param_numbered": ("SELECT ?999", RUNTIME),
        "explain": (f"EXPLAIN SELECT * FROM {t}", DENIED),
        "explain_qp": (f"EXPLAIN QUERY PLAN SELECT * FROM {t}", DENIED),
        "sqlite_master": ("SELECT sql FROM sqlite_master", WRONG),
        "sqlite_temp_master": ("SELECT * FROM sqlite_temp_master", WRONG),
        "changes": ("SELECT changes(), total_changes(), last_insert_rowid()", WRONG),
        "version": ("SELECT sqlite_version(), sqlite_source_id()", WRONG),
        "compile_options": ("SELECT sqlite_compileoption_get(0)", WRONG),
        "random_order": (f"SELECT {s} FROM {t} ORDER BY random()", WRONG),
        "unknown_table": ("SELECT * FROM no_such_table_xyz", RUNTIME),
        "unknown_function": ("SELECT no_such_function(1)", RUNTIME),
        "incomplete": (f"SELECT {s} FROM {t} WHERE", SYNTAX),
        "unbalanced_quote": (f"SELECT '{s} FROM {t}", SYNTAX),
        "values_only": ("VALUES (1), (2), (3)", WRONG),
        "empty": ("", EMPTY),
        "whitespace": (" \t\n\r\f\v" * 100, EMPTY),
        "refusal": ("I'm sorry, but I can't help with that request.", EMPTY),
        "json_answer": ('{"sql": "DROP TABLE ' + table + '"}', DENIED | EMPTY | SYNTAX),
        "python_code": (
            f"import sqlite3\nsqlite3.connect('x').execute('DELETE FROM {table}')",
            DENIED | EMPTY | SYNTAX,
        ),
        "shell_injection": (f"SELECT 1; .shell rm -rf {d}", SYNTAX | WRONG | MULTI),
        "dot_command": (f".output {d}/dump.sql", EMPTY | SYNTAX),
        "json_each_big": (
            "SELECT count(*) FROM json_each('[' || replace(hex(zeroblob(1000000)), '00', '0,') || '0]')",
            BOMB | WRONG | DENIED,
        ),
        "strftime_fuzz": ("SELECT strftime('%Y%m%d%H%M%f%J%s%w%j', 'now', '+1000000000 years')", WRONG),
        "printf_n": ("SELECT printf('%n%n%n%s%s', 1)", WRONG | RUNTIME),
        "printf_huge_precision": ("SELECT length(printf('%.1000000000f', 1.0))", BOMB | WRONG),
        "float_overflow": ("SELECT 1e308 * 10, -9223372036854775808 / -1", WRONG | RUNTIME),
        "integer_overflow_sum": ("SELECT sum(x) FROM (SELECT 9223372036854775807 AS x UNION ALL SELECT 1)", RUNTIME),
        "abs_min_int": ("SELECT abs(-9223372036854775808)", RUNTIME | WRONG),
    }.items():
        add("misc", name, q, expect)

    return out


# --- running the corpus -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    case: Hostile
    score: float | None
    failure: str | None
    reason: str
    elapsed_s: float
    crash: str | None  # repr of an exception raised by the metric, if any


def make_synthetic_db(path: Path) -> Path:
    """A small database that is hostile in its own right: WAL journal mode (a
    read-write open would create -wal/-shm files), invalid UTF-8 and NULs in
    text, a view, an index and a trigger that deletes rows on insert."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        """
        CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, n INTEGER, data BLOB);
        CREATE INDEX people_n ON people(n);
        CREATE VIEW adults AS SELECT name FROM people WHERE n >= 18;
        """
    )
    conn.executemany(
        "INSERT INTO people(id, name, n, data) VALUES (?, ?, ?, ?)",
        [(i, f"person {i}", i % 90, bytes([i % 256]) * 64) for i in range(1, 41)],
    )
    conn.execute("INSERT INTO people(id, name, n) VALUES (100, CAST(x'c328ff00fe' AS TEXT), -1)")
    conn.execute("CREATE TRIGGER wipe AFTER INSERT ON people BEGIN DELETE FROM people; END")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM people").fetchone() == (41,)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def score_corpus(db_path: Path, gold: str, corpus: list[Hostile], limits) -> list[Outcome]:
    """Score every case with a fresh ExecutionAccuracy; never lets an exception escape."""
    import time

    from deepeval.test_case import LLMTestCase

    from metrics import ExecutionAccuracy

    results = []
    for case in corpus:
        metric = ExecutionAccuracy(limits=limits)
        test_case = LLMTestCase(
            input="hostile",
            actual_output=case.output,
            expected_output=gold,
            metadata={"db_path": str(db_path)},
        )
        start = time.perf_counter()
        crash = None
        try:
            metric.measure(test_case)
        except Exception as exc:  # noqa: BLE001 - a crash is what we are looking for
            crash = repr(exc)[:300]
        elapsed = time.perf_counter() - start
        results.append(Outcome(case, metric.score, metric.failure, metric.reason or "", elapsed, crash))
    return results
