"""Pull one SQL query out of raw model output.

Fine-tuned and base models wrap their SQL in many ways: markdown fences,
"Here is the query:" prose, `SQL:` labels, trailing explanations, a
hallucinated next question, chat-template tokens. Scoring should judge the
query, not the wrapping, so we strip all of that -- but nothing more: a
second *statement* after a `;` is kept, so the sandbox reports
"multiple_statements" instead of us silently running only the harmless half
of a hostile answer.
"""

from __future__ import annotations

import re

__all__ = ["extract_sql"]

_END_TOKENS = re.compile(
    r"<\|im_end\|>|<\|endoftext\|>|<\|end_of_text\|>|<\|eot_id\|>|<\|end\|>"
    r"|<\|EOT\|>|</s>|<eos>|<end_of_turn>"
)
_SPECIAL_TOKENS = re.compile(
    r"<\|[A-Za-z0-9_]{1,40}\|>(?:(?:assistant|user|system)\b)?|</?s>|<(?:start|end)_of_turn>(?:model|user)?|<bos>"
)
_SQL_TAG = re.compile(r"<sql>(.*?)(?:</sql>|$)", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n?(.*?)(?:```|$)", re.DOTALL)
_SQL_LANGS = {"sql", "sqlite", "sqlite3", "postgresql", "mysql", "postgres", "tsql", "plsql"}

_STATEMENT = (
    r"(?:select|with|values|insert|update|delete|replace|drop|create|alter|attach|detach"
    r"|pragma|vacuum|reindex|analyze|explain|begin|commit|rollback|end|savepoint|release)"
)
_QUERY_START = r"(?:select\b|with\s+(?:recursive\s+)?[\w\"`\[\]]+\s*(?:\([^()]*\)\s*)?as\b)"
_LABEL = r"(?:(?:sql(?:ite)?(?:\s+query)?|query|answer|a|output|response|assistant)\s*:\s*)"
_STARTS_WITH_STATEMENT = re.compile(rf"\s*{_LABEL}?({_STATEMENT}\b)", re.IGNORECASE)
_LINE_QUERY = re.compile(rf"^[ \t>*-]*{_LABEL}?({_QUERY_START})", re.IGNORECASE | re.MULTILINE)
_INLINE_UPPER = re.compile(r"\b(SELECT\b|WITH\s+(?:RECURSIVE\s+)?\w+\s+AS\b)")
_INLINE_ANY = re.compile(rf"\b({_QUERY_START})", re.IGNORECASE)

_NEXT_STATEMENT = re.compile(rf"{_STATEMENT}\b", re.IGNORECASE)
_CONTINUATION = re.compile(
    r"(?:from|where|join|inner|left|right|cross|natural|on|group|order|having|limit|offset"
    r"|union|intersect|except|and|or|not|as|select|case|when|then|else|end|\(|\)|,)\b?",
    re.IGNORECASE,
)
_PROSE_LINE = re.compile(
    r"(?:#|```|[A-Za-z][\w ]{0,30}:(?!:)|(?:this|the|here|note|explanation|question|it|we|i|let"
    r"|these|that|in|to|for|explanation|output|result)\b(?!\s*\())",
    re.IGNORECASE,
)
_SPECIAL_CHARS = re.compile(r"['\"`\[;\n]|--|/\*|\.(?=\s)")


def extract_sql(text: str) -> str:
    """The SQL query in `text`, without fences, prose or trailing `;`.

    Returns "" when nothing SQL-like is present. Idempotent: clean SQL comes
    back unchanged (minus a trailing semicolon).
    """
    if not isinstance(text, str) or not text.strip():
        return ""
    text = _strip_chat_tokens(text)
    block = _pick_block(text)
    start = _find_start(block)
    if start is None:
        return ""
    sql = _cut_tail(block[start:])
    return _tidy(sql)


def _strip_chat_tokens(text: str) -> str:
    """Keep the first turn that has SQL in it; drop template tokens."""
    segments = _END_TOKENS.split(text)
    chosen = next((s for s in segments if _find_start(_SPECIAL_TOKENS.sub("", s)) is not None), text)
    return _SPECIAL_TOKENS.sub("", chosen)


def _pick_block(text: str) -> str:
    """The first ```sql fence, else the first fence with SQL, else the text."""
    tag = _SQL_TAG.search(text)
    if tag:
        return tag.group(1)
    fences = list(_FENCE.finditer(text)) if "```" in text else []
    for fence in fences:
        if fence.group(1).lower() in _SQL_LANGS:
            return fence.group(2)
    for fence in fences:
        if _find_start(fence.group(2)) is not None:
            return fence.group(2)
    return text


def _find_start(text: str) -> int | None:
    """Where the query begins: at the top, on a line of its own, or inline."""
    head = _STARTS_WITH_STATEMENT.match(text)
    if head:
        return head.start(1)
    for pattern in (_LINE_QUERY, _INLINE_UPPER, _INLINE_ANY):
        found = pattern.search(text)
        if found:
            return found.start(1)
    return None


def _cut_tail(sql: str) -> str:
    """Cut the query where prose, a new question, or a paragraph begins.

    Scans outside string literals and comments only. A `;` ends the query
    unless another statement follows it.
    """
    pos, n = 0, len(sql)
    while True:
        found = _SPECIAL_CHARS.search(sql, pos)
        if found is None:
            return sql
        tok, i = found.group(0), found.start()
        if tok in ("'", '"', "`", "["):
            close = "]" if tok == "[" else tok
            end = _close_quote(sql, i + 1, close)
            if end < 0:
                return sql
            pos = end + 1
        elif tok == "--":
            end = sql.find("\n", i)
            pos = n if end < 0 else end  # the newline itself is examined next
            if end < 0:
                return sql
        elif tok == "/*":
            end = sql.find("*/", i + 2)
            if end < 0:
                return sql
            pos = end + 2
        elif tok == ";":
            rest = _skip_blank(sql, i + 1)
            if rest < n and _NEXT_STATEMENT.match(sql, rest):
                pos = i + 1
            else:
                return sql[:i]
        elif tok == ".":
            if i > 0 and sql[i - 1].isdigit():
                pos = i + 1  # "1. " is a number, not a sentence end
            else:
                return sql[:i]
        else:  # newline: a blank line or a prose line ends the query
            stop = _line_ends_query(sql, i + 1)
            if stop:
                return sql[:i]
            pos = i + 1


def _line_ends_query(sql: str, line_start: int) -> bool:
    end = sql.find("\n", line_start)
    line = sql[line_start : len(sql) if end < 0 else end]
    if not line.strip():
        nxt = _skip_blank(sql, line_start)
        # A paragraph break ends the query unless the next line clearly
        # continues it (a clause keyword such as FROM or WHERE).
        return nxt >= len(sql) or not (
            _CONTINUATION.match(sql, nxt) and not _NEXT_STATEMENT.match(sql, nxt)
        ) or sql.startswith(("select", "SELECT", "Select"), nxt)
    stripped = line.lstrip()
    if _NEXT_STATEMENT.match(stripped) or _CONTINUATION.match(stripped):
        return False
    return bool(_PROSE_LINE.match(stripped))


def _close_quote(sql: str, pos: int, quote: str) -> int:
    """Index of the closing quote; doubled quotes are escapes in SQL."""
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
    if sql.startswith("`") and sql.endswith("`") and "`" not in sql[1:-1]:
        sql = sql[1:-1].strip()
    return sql.rstrip("`").rstrip()
