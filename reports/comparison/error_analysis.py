"""Why a Spider prediction failed, read off the sqlglot trees of the predicted and gold SQL.

Execution failures (syntax error, timeout, ...) come from the benchmark's own `failure` field and
are the whole story of such a case; only for queries that executed and returned other rows do
the structural categories say *how* the query differs from gold (missing JOIN, wrong
aggregation, ...). A case may fall in several categories; one with no detectable
difference is "other" (e.g. a query equivalent in shape that still returns other rows).

Spider writes string literals in double quotes (`WHERE country = "France"`), which sqlglot's
sqlite dialect reads as quoted identifiers, while models mostly write 'France'. SQLite itself
resolves "x" to a column when one exists and to a string otherwise, so we do the same: a
double-quoted, unqualified name that is not a known column or table becomes a string literal.
Known names come from the database schema when tables.json is at hand, else from the names
either query uses unquoted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from metrics.sandbox import FAILURES
from reports.comparison.loading import Run

CATEGORIES: dict[str, str] = {
    "syntax_error": "syntax error",
    "multiple_statements": "multiple statements",
    "runtime_error": "runtime error",
    "timeout": "timeout",
    "too_many_rows": "too many rows",
    "denied": "denied (unsafe SQL)",
    "empty_output": "empty output (no SQL)",
    "missing_join": "missing JOIN (fewer tables)",
    "extra_join": "extra JOIN (more tables)",
    "wrong_tables": "wrong tables",
    "missing_subquery": "missing subquery",
    "extra_subquery": "extra subquery",
    "missing_negation": "missing NOT IN / NOT EXISTS / EXCEPT",
    "wrong_set_operation": "wrong UNION / INTERSECT",
    "wrong_aggregation": "wrong aggregation",
    "wrong_group_by": "wrong GROUP BY / HAVING",
    "wrong_order_limit": "wrong ORDER BY / LIMIT",
    "wrong_columns": "wrong SELECT list (columns, DISTINCT)",
    "wrong_literals": "wrong literal values",
    "wrong_condition": "wrong condition (WHERE)",
    "other": "other",
}
# the failures the sandbox reports for a query that did not run (one home: metrics/sandbox.py)
EXECUTION_FAILURES = FAILURES


def parse_sql(sql: str) -> exp.Expression | None:
    """One statement's tree, or None for anything sqlglot cannot read as exactly one statement."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="sqlite") if isinstance(s, exp.Expression)]
    except Exception:  # noqa: BLE001 - hostile model output may trip any parser error
        return None
    return statements[0] if len(statements) == 1 else None


def _unquoted_names(tree: exp.Expression) -> set[str]:
    return {i.name.lower() for i in tree.find_all(exp.Identifier) if not i.quoted}


def _strings_from_quoted_names(tree: exp.Expression, known: set[str]) -> exp.Expression:
    """Spider's "string" literals: double-quoted names that are no column become strings."""
    for column in list(tree.find_all(exp.Column)):
        ident = column.this
        if isinstance(ident, exp.Identifier) and ident.quoted and not column.table and ident.name.lower() not in known:
            column.replace(exp.Literal.string(ident.name))
    return tree


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Subquery, exp.Paren)) and isinstance(node.this, exp.Expression):
        node = node.this
    return node


def _top_selects(tree: exp.Expression) -> list[exp.Select]:
    """The SELECTs whose rows are the result: the root, or each branch of a set operation."""
    node = _unwrap(tree)
    if isinstance(node, exp.SetOperation):
        return _top_selects(node.this) + _top_selects(node.expression)
    return [node] if isinstance(node, exp.Select) else []


def _shape(node: exp.Expression | None, mask_literals: bool = True) -> str:
    """SQL text of a node with qualifiers, aliases and case removed, literals and subqueries masked."""
    if node is None:
        return ""
    node = node.copy()
    if isinstance(node, exp.Alias):
        node = node.this
    for sub in [s for s in node.find_all(exp.Subquery, exp.Select, exp.SetOperation) if s is not node]:
        if sub.parent is not None:
            sub.replace(exp.var("SUBQUERY"))
    for column in list(node.find_all(exp.Column)):
        column.set("table", None)
        column.set("db", None)
        column.set("catalog", None)
    for ident in list(node.find_all(exp.Identifier)):
        ident.set("this", ident.name.lower())
        ident.set("quoted", False)
    if mask_literals:
        for lit in [lit for lit in node.find_all(exp.Literal) if lit is not node]:
            lit.replace(exp.Placeholder())
        if isinstance(node, exp.Literal):
            return "?"
    return node.sql(dialect="sqlite").lower() if mask_literals else node.sql(dialect="sqlite")


def _literal_value(lit: exp.Literal) -> tuple[str, Any]:
    if lit.is_string:
        return ("s", lit.this)
    try:
        return ("n", float(lit.this))
    except ValueError:
        return ("s", str(lit.this))


def _in_clause(node: exp.Expression, *kinds: type[exp.Expression]) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent
    return False


def _enclosing_select(node: exp.Expression) -> exp.Expression | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


def _condition_atoms(condition: exp.Expression | None) -> list[str]:
    """AND-ed predicates, each as a shape; `a = b` and `b = a` are the same predicate."""
    if condition is None:
        return []
    condition = _unwrap(condition) if isinstance(condition, exp.Paren) else condition
    parts = condition.flatten() if isinstance(condition, exp.And) else [condition]
    atoms = []
    for part in parts:
        part = _unwrap(part) if isinstance(part, exp.Paren) else part
        if isinstance(part, exp.EQ) and isinstance(part.this, exp.Column) and isinstance(part.expression, exp.Column):
            continue  # a join key: the JOIN categories judge those
        if isinstance(part, (exp.EQ, exp.NEQ)):
            sides = sorted((_shape(part.this), _shape(part.expression)))
            atoms.append(f"{sides[0]} {'=' if isinstance(part, exp.EQ) else '<>'} {sides[1]}")
        else:
            atoms.append(_shape(part if isinstance(part, exp.Expression) else None))
    return atoms


@dataclass(frozen=True)
class Features:
    """What the categories compare, read once per tree."""

    tables: frozenset[str]  # in the FROM/JOINs of the result-producing SELECTs
    joins: int
    all_tables: frozenset[str]  # anywhere, subqueries included
    all_joins: int
    nested: int
    negations: int
    set_ops: tuple[tuple[str, int], ...]
    aggregates: tuple[tuple[tuple[str, bool], int], ...]
    group_by: tuple[tuple[str, int], ...]
    order_limit: tuple[tuple[str, int], ...]
    projection: tuple[tuple[str, int], ...]
    literals: tuple[tuple[tuple[str, Any], int], ...]
    conditions: tuple[tuple[str, int], ...]


def _counted(items: Iterable[Any]) -> tuple[tuple[Any, int], ...]:
    return tuple(sorted(Counter(items).items(), key=repr))


def features(tree: exp.Expression) -> Features:
    selects = list(tree.find_all(exp.Select))
    top = _top_selects(tree)
    negations = sum(isinstance(n.this, (exp.In, exp.Exists)) for n in tree.find_all(exp.Not))
    negations += sum(1 for _ in tree.find_all(exp.Except))
    aggregates = [(type(a).__name__.lower(), isinstance(a.this, exp.Distinct)) for a in tree.find_all(exp.AggFunc)]
    group_by, order_limit, conditions, projection = [], [], [], []
    for select in selects:
        group = select.args.get("group")
        if group is not None:
            group_by += [f"group:{_shape(e)}" for e in group.expressions]
        having = select.args.get("having")
        if having is not None:
            group_by += [f"having:{a}" for a in _condition_atoms(having.this)]
        order = select.args.get("order")
        if order is not None:
            order_limit += [
                f"order:{_shape(o.this)}:{'desc' if o.args.get('desc') else 'asc'}" for o in order.expressions
            ]
        for clause in ("limit", "offset"):
            node = select.args.get(clause)
            if node is not None:
                order_limit.append(f"{clause}:{_shape(node.expression, mask_literals=False)}")
        where = select.args.get("where")
        if where is not None:
            conditions += _condition_atoms(where.this)
        for join in select.args.get("joins") or []:
            conditions += _condition_atoms(join.args.get("on"))
    # Branches of a set operation must agree in arity, so the first one names the result columns.
    for select in top[:1]:
        if select.args.get("distinct") is not None:
            projection.append("DISTINCT")
        for e in select.expressions:
            e = e.this if isinstance(e, exp.Alias) else e
            names = sorted(
                {c.name.lower() for c in e.find_all(exp.Column)}
                | ({"*"} if any(True for _ in e.find_all(exp.Star)) else set())
            )
            projection.append(",".join(names) if names else _shape(e))
    literals = [
        _literal_value(lit)
        for lit in tree.find_all(exp.Literal)
        if not _in_clause(lit, exp.Limit, exp.Offset, exp.Ordered)
    ]
    top_ids = {id(s) for s in top}
    return Features(
        tables=frozenset(t.name.lower() for t in tree.find_all(exp.Table) if id(_enclosing_select(t)) in top_ids),
        joins=sum(id(_enclosing_select(j)) in top_ids for j in tree.find_all(exp.Join)),
        all_tables=frozenset(t.name.lower() for t in tree.find_all(exp.Table)),
        all_joins=sum(1 for _ in tree.find_all(exp.Join)),
        nested=len(selects) - len(top),
        negations=negations,
        set_ops=_counted(type(s).__name__.lower() for s in tree.find_all(exp.Union, exp.Intersect)),
        aggregates=_counted(aggregates),
        group_by=_counted(group_by),
        order_limit=_counted(order_limit),
        projection=_counted(projection),
        literals=_counted(literals),
        conditions=_counted(conditions),
    )


def structural_differences(pred: exp.Expression, gold: exp.Expression) -> list[str]:
    """Categories in which the predicted tree differs from the gold tree (may be empty)."""
    p, g = features(pred), features(gold)
    found = []
    # Tables of the outer query first; those inside subqueries only count when the nesting
    # agrees, else "missing subquery" already says it and "missing JOIN" would be noise.
    tables, joins = (p.tables, g.tables), (p.joins, g.joins)
    if tables[0] == tables[1] and joins[0] == joins[1] and p.nested == g.nested:
        tables, joins = (p.all_tables, g.all_tables), (p.all_joins, g.all_joins)
    if len(tables[0]) < len(tables[1]) or (tables[0] == tables[1] and joins[0] < joins[1]):
        found.append("missing_join")
    elif len(tables[0]) > len(tables[1]) or (tables[0] == tables[1] and joins[0] > joins[1]):
        found.append("extra_join")
    elif tables[0] != tables[1]:
        found.append("wrong_tables")
    if p.nested < g.nested:
        found.append("missing_subquery")
    elif p.nested > g.nested:
        found.append("extra_subquery")
    if p.negations < g.negations:
        found.append("missing_negation")
    if p.set_ops != g.set_ops:
        found.append("wrong_set_operation")
    if p.aggregates != g.aggregates:
        found.append("wrong_aggregation")
    if p.group_by != g.group_by:
        found.append("wrong_group_by")
    if p.order_limit != g.order_limit:
        found.append("wrong_order_limit")
    if p.projection != g.projection:
        found.append("wrong_columns")
    if p.literals != g.literals:
        found.append("wrong_literals")
    if p.conditions != g.conditions:
        found.append("wrong_condition")
    return found


def classify(
    prediction: str | None, gold: str, failure: str | None = None, known_names: set[str] | None = None
) -> list[str]:
    """Error categories of one failed case, in CATEGORIES order; never empty.

    `known_names`: the database's column and table names (lowercase), if known.
    """
    if failure in EXECUTION_FAILURES:
        # It never produced a result: how its shape differs from gold is not what went wrong.
        return [failure]
    found: list[str] = []
    if not (prediction or "").strip():
        return ["empty_output"]
    pred_tree, gold_tree = parse_sql(prediction or ""), parse_sql(gold)
    if pred_tree is None or gold_tree is None:
        return found or ["other"]
    known = set(known_names or ()) | _unquoted_names(pred_tree) | _unquoted_names(gold_tree)
    pred_tree = _strings_from_quoted_names(pred_tree, known)
    gold_tree = _strings_from_quoted_names(gold_tree, known)
    try:
        found += structural_differences(pred_tree, gold_tree)
    except Exception:  # noqa: BLE001 - an exotic tree must not sink the whole report
        pass
    found = found or ["other"]
    order = list(CATEGORIES)
    return sorted(dict.fromkeys(found), key=order.index)


def schema_names(spider_dir: str | Path | None) -> dict[str, set[str]]:
    """Lowercased table and column names per database from Spider's tables.json ({} if absent)."""
    if not spider_dir:
        return {}
    path = Path(spider_dir) / "tables.json"
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, set[str]] = {}
    for db in tables:
        names = {str(n).lower() for n in db.get("table_names_original", [])}
        names |= {str(c[1]).lower() for c in db.get("column_names_original", []) if c[1] != "*"}
        out[db.get("db_id", "")] = names
    return out


@dataclass
class ErrorSummary:
    """One model's failed Spider cases by category."""

    failed: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_case: dict[str, list[str]] = field(default_factory=dict)


def analyze(run: Run, examples_per_category: int = 3, schema: dict[str, set[str]] | None = None) -> ErrorSummary:
    """Classify every failed Spider case of a run; keep the first few of each category as examples."""
    if schema is None:
        schema = schema_names((run.data.get("data") or {}).get("spider_dir"))
    summary = ErrorSummary()
    for case_id, case in sorted(run.scored("spider").items()):
        if case.get("outcome") != "failed":
            continue
        props = case.get("props") or {}
        categories = classify(
            props.get("prediction"), props.get("gold") or "", props.get("failure"), schema.get(props.get("db_id", ""))
        )
        summary.failed += 1
        summary.by_case[case_id] = categories
        for category in categories:
            summary.counts[category] += 1
            bucket = summary.examples.setdefault(category, [])
            if len(bucket) < examples_per_category:
                bucket.append({"case_id": case_id, **props, "categories": categories})
    return summary


@dataclass
class Flip:
    """A question one model answers right and the other wrong."""

    case_id: str
    question: str
    gold: str
    base_prediction: str
    new_prediction: str
    categories: list[str]  # why the wrong one is wrong


def flips(base: Run, new: Run, base_errors: ErrorSummary, new_errors: ErrorSummary) -> tuple[list[Flip], list[Flip]]:
    """(fixed, broken) by fine-tuning: base wrong and new right, and base right and new wrong."""
    a, b = base.scored("spider"), new.scored("spider")
    fixed: list[Flip] = []
    broken: list[Flip] = []
    for case_id in sorted(a.keys() & b.keys()):
        base_ok, new_ok = a[case_id]["outcome"] == "passed", b[case_id]["outcome"] == "passed"
        if base_ok == new_ok:
            continue
        bp, np_ = a[case_id].get("props") or {}, b[case_id].get("props") or {}
        flip = Flip(
            case_id=case_id,
            question=str(np_.get("question") or bp.get("question") or ""),
            gold=str(np_.get("gold") or bp.get("gold") or ""),
            base_prediction=str(bp.get("prediction") or ""),
            new_prediction=str(np_.get("prediction") or ""),
            categories=(new_errors.by_case if base_ok else base_errors.by_case).get(case_id, []),
        )
        (broken if base_ok else fixed).append(flip)
    return fixed, broken
