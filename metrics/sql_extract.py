"""Pull one SQL query out of raw model output.

Fine-tuned and base models wrap their SQL in many ways: markdown fences,
"Here is the query:" prose, `SQL:` labels, trailing explanations, a
hallucinated next question, chat-template tokens. Scoring should judge the
query, not the wrapping, so we strip all of that.

Only the first complete statement is scored (the official evaluator does the
same: its DISTINCT removal keeps sqlparse's first statement). A few-shot base
model that ends a correct query with `;` and repeats it is right, and a
hostile `SELECT 1; DROP TABLE t` is scored as `SELECT 1`: the rest is never
handed to SQLite. That more text followed is reported beside the verdict
(`Extracted.more_statements`), not folded into it.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

__all__ = ["Extracted", "extract", "extract_sql"]


class Extracted(NamedTuple):
    """The first statement of a model's answer, and whether another one followed it."""

    sql: str
    more_statements: bool


_END_TOKENS = re.compile(
    r"<\|im_end\|>|<\|endoftext\|>|<\|end_of_text\|>|<\|eot_id\|>|<\|end\|>"
    r"|<\|EOT\|>|</s>|<eos>|<end_of_turn>"
)
_SPECIAL_TOKENS = re.compile(
    r"<\|[A-Za-z0-9_]{1,40}\|>(?:(?:assistant|user|system)\b)?"
    r"|</?s>|<bos>|<start_of_turn>(?:model|user)?"
)
_SQL_TAG = re.compile(r"<sql>(.*?)(?:</sql>|$)", re.IGNORECASE | re.DOTALL)
# A language tag counts only when it sits alone on the fence line, so an
# inline fence like ```SELECT 1``` keeps its content.
_FENCE = re.compile(r"```(?:[ \t]*([A-Za-z0-9_+-]+)[ \t]*(?=\n))?\n?(.*?)(?:```|$)", re.DOTALL)
MAX_FENCES = 20  # real answers have a handful; hostile text may have millions
_SQL_LANGS = {"sql", "sqlite", "sqlite3", "postgresql", "postgres", "mysql", "tsql", "plsql"}

# Statement openers precise enough not to fire on English ("Select the..."
# still does, like real lowercase SQL; "With this query" does not).
_QUERY = r"(?:select\b|with\s+(?:recursive\s+)?[\w\"`\[\]]+\s*(?:\([^()\n]*\)\s*)?as\s*\()"
_OTHER = (
    r"(?:insert\s+(?:or\s+\w+\s+)?into\b|replace\s+into\b|update\s+[\w\"`\[\]]+\s+set\b"
    r"|delete\s+from\b|drop\s+(?:table|view|index|trigger)\b"
    r"|create\s+(?:temp\w*\s+|unique\s+|virtual\s+)?(?:table|view|index|trigger)\b"
    r"|alter\s+table\b|attach\s|detach\s|pragma\s|vacuum\b|reindex\b|analyze\b"
    r"|explain\s|begin\b|commit\b|rollback\b|savepoint\s|release\s|values\s*\()"
)
_LABEL = r"(?:(?:sql(?:ite)?(?:\s+query)?|query|answer|a|output|response|assistant)\s*:\s*)"
_HEAD = re.compile(rf"\s*{_LABEL}?((?:{_QUERY}|{_OTHER}))", re.IGNORECASE)
_LINE_QUERY = re.compile(rf"^[ \t>*]*{_LABEL}?({_QUERY})", re.IGNORECASE | re.MULTILINE)
_LINE_OTHER = re.compile(rf"^[ \t>*]*{_LABEL}?({_OTHER})", re.IGNORECASE | re.MULTILINE)
_INLINE_UPPER = re.compile(r"\b(SELECT\b|WITH\s+(?:RECURSIVE\s+)?\w+\s+AS\s*\()")
_INLINE_ANY = re.compile(rf"\b({_QUERY})", re.IGNORECASE)
_STATEMENT = re.compile(rf"(?:{_QUERY}|{_OTHER})", re.IGNORECASE)

_CONTINUATION = re.compile(
    r"(?:(?:from|where|join|inner|left|right|cross|natural|on|using|group|order|having|limit"
    r"|offset|union|intersect|except|and|or|not|as|case|when|then|else|end|asc|desc)\b|[(),*]"
    # a lone IN / NOT IN / EXISTS line opens a subquery on the next line
    r"|(?:not\s+)?(?:in|exists)[ \t]*(?:\(|\n|$))",
    re.IGNORECASE,
)
# A line that ends like this cannot end a query: the next line continues it, whatever it
# says ("SELECT\n  name,\n  result\nFROM battle" -- `result` is a column, not prose).
_OPEN_END = re.compile(
    r"(?:[,(=<>+|]|\b(?:select|distinct|from|where|and|or|not|in|on|by|join|as|having|union"
    r"|intersect|except|all|between|like|is|case|when|then|else|set))\s*$",
    re.IGNORECASE,
)
_PROSE = re.compile(
    r"(?:#|```|[A-Za-z][\w ]{0,30}:(?!:)"
    r"|(?:this|the|here|note|explanation|question|it|we|i|let|these|that|in|to|for"
    r"|output|result|answer)\b(?!\s*[(.,=]))",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"[A-Z][a-z]+\s+[a-z']+\s+[a-z']+")
_SPECIAL_CHARS = re.compile(r"['\"`\[;\n]|--|/\*|\.(?=\s|$)")


def extract_sql(text: str) -> str:
    """The first SQL statement in `text`, without fences, prose or trailing `;`.

    Returns "" when nothing SQL-like is present. Idempotent: clean SQL comes
    back unchanged (minus a trailing semicolon).
    """
    return extract(text).sql


def extract(text: str) -> Extracted:
    """`extract_sql` plus whether the answer went on with another statement."""
    if not isinstance(text, str) or not text.strip():
        return Extracted("", False)
    text = _strip_chat_tokens(text)
    block = _pick_block(text)
    start = _find_start(block)
    if start is None:
        return Extracted("", False)
    if start > 0 and block[start - 1] == "`":  # inline code: `SELECT ...`
        end = block.find("`", start)
        if end > 0:
            sql, more = _cut_tail(block[start:end])
            return Extracted(_tidy(sql), more)
    sql, more = _cut_tail(block[start:])
    return Extracted(_tidy(sql), more)


def _strip_chat_tokens(text: str) -> str:
    """Keep the first turn that has SQL in it; drop template tokens."""
    turns = [_SPECIAL_TOKENS.sub("", t) for t in _END_TOKENS.split(text)]
    return next((t for t in turns if _find_start(t) is not None), turns[0])


def _pick_block(text: str) -> str:
    """The first ```sql fence, else the first fence with SQL, else the text."""
    tag = _SQL_TAG.search(text)
    if tag:
        return tag.group(1)
    if "```" not in text:
        return text
    fences = list(itertools.islice(_FENCE.finditer(text), MAX_FENCES))
    for fence in fences:
        if (fence.group(1) or "").lower() in _SQL_LANGS:
            return fence.group(2)
    for fence in fences:
        if _find_start(fence.group(2)) is not None:
            return fence.group(2)
    return text


def _find_start(text: str) -> int | None:
    """Where the query begins: at the top, on a line of its own, or inline.

    A candidate whose line ends in ':' is an introduction ("Select the
    names as follows:"), not SQL, and is skipped.
    """
    head = _HEAD.match(text)
    if head and not _is_intro(text, head.start(1)):
        return head.start(1)
    for pattern in (_LINE_QUERY, _INLINE_UPPER, _INLINE_ANY, _LINE_OTHER):
        pos = 0
        while (found := pattern.search(text, pos)) is not None:
            if not _is_intro(text, found.start(1)):
                return found.start(1)
            pos = _line_end(text, found.start(1))  # skip the rest of that line
    return None


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _is_intro(text: str, pos: int) -> bool:
    return text[pos : _line_end(text, pos)].rstrip().endswith(":")


def _cut_tail(sql: str) -> tuple[str, bool]:
    """Cut the query where prose, a new question, a new paragraph or a second
    statement begins; say whether a second statement was cut off.

    Looks only outside string literals and comments.
    """
    pos, n = 0, len(sql)
    while True:
        found = _SPECIAL_CHARS.search(sql, pos)
        if found is None:
            return sql, False
        tok, i = found.group(0), found.start()
        if tok in ("'", '"', "`", "["):
            end = _close_quote(sql, i + 1, "]" if tok == "[" else tok)
            if end < 0:
                return sql, False
            pos = end + 1
        elif tok == "--":
            end = sql.find("\n", i)
            if end < 0:
                return sql, False
            pos = end  # the newline is examined next
        elif tok == "/*":
            end = sql.find("*/", i + 2)
            if end < 0:
                return sql, False
            pos = end + 2
        elif tok == ";":
            # The first statement ends here. Empty statements and blank lines do not hide a
            # second one: "SELECT 1;;\n\nDROP TABLE t" is still two statements.
            nxt = i + 1
            while (nxt := _skip_blank(sql, nxt)) < n and sql[nxt] == ";":
                nxt += 1
            return sql[:i], bool(_STATEMENT.match(sql, nxt))
        elif tok == ".":
            return sql[:i], False  # "SQL. Prose" -- a bare dot never ends real SQL
        elif (ends := _line_ends_query(sql, i)) is not None:
            return sql[:i], ends
        else:
            # Jump over the blank run just judged: rescanning it from every
            # newline in it is quadratic ("SELECT 1" + "\n" * 10**6 + "FROM t").
            pos = max(i + 1, _skip_blank(sql, i + 1))


def _line_ends_query(sql: str, newline: int) -> bool | None:
    """Does the line after this newline end the query? None: no, it continues;
    False: yes, prose or a new paragraph follows; True: yes, a new statement follows."""
    line_start = newline + 1
    if _OPEN_END.search(sql, max(0, newline - 40), newline):
        return None
    end = sql.find("\n", line_start)
    line = sql[line_start : len(sql) if end < 0 else end].lstrip()
    if not line:
        # A blank line ends the query unless the next one plainly continues
        # it (FROM, WHERE, ...). A new SELECT there is a new answer.
        nxt = _skip_blank(sql, line_start)
        if nxt < len(sql) and _CONTINUATION.match(sql, nxt):
            return None
        return bool(_STATEMENT.match(sql, nxt))
    if _CONTINUATION.match(line) or _STATEMENT.match(line):
        return None
    if _PROSE.match(line):
        return False
    if _SENTENCE_START.match(line) and line.rstrip()[-1:] in ".!?:":
        return False
    return None


def _close_quote(sql: str, pos: int, quote: str) -> int:
    """Index of the closing quote; a doubled quote is an escape in SQL."""
    while True:
        end = sql.find(quote, pos)
        if end < 0 or quote == "]" or not sql.startswith(quote, end + 1):
            return end
        pos = end + 2


def _skip_blank(sql: str, pos: int) -> int:
    while pos < len(sql) and sql[pos].isspace():
        pos += 1
    return pos


def _tidy(sql: str) -> str:
    sql = sql.strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    return sql
