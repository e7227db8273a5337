"""The one Spider prompt builder, shared by training (train.py) and evaluation.

A prompt is chat messages: a system instruction, k few-shot turns (schema + question ->
SQL from the train split), then the schema and question to answer. The model's own chat
template renders them; a template that rejects a system role gets the instruction folded
into the first user turn, so every model takes the same path.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from tradeoff.suites.spider.data import DatabaseSchema, SpiderData, SpiderExample

SYSTEM_PROMPT = (
    "You are an expert SQLite developer. Given a database schema and a question, "
    "reply with a single SQLite query that answers the question, and nothing else."
)
FEWSHOT_SEED = 1234

Message = dict[str, str]


def render_schema(schema: DatabaseSchema) -> str:
    """Tables with typed columns and primary keys, then foreign-key relationships."""
    lines = []
    for table in schema.tables:
        cols = ", ".join(
            f"{c.name} {c.type}{' primary key' if c.name in table.primary_key else ''}" for c in table.columns
        )
        lines.append(f"{table.name}({cols})")
    if schema.foreign_keys:
        lines.append("Foreign keys:")
        lines.extend(f"{fk.table}.{fk.column} = {fk.ref_table}.{fk.ref_column}" for fk in schema.foreign_keys)
    return "\n".join(lines)


def user_message(schema: DatabaseSchema, question: str) -> str:
    return f"Database schema:\n{render_schema(schema)}\n\nQuestion: {question.strip()}"


def choose_fewshot(train: Sequence[SpiderExample], k: int, seed: int = FEWSHOT_SEED) -> list[SpiderExample]:
    """k train examples, the same for every dev question (a shared, cacheable prefix)."""
    if k <= 0:
        return []
    rng = random.Random(seed)
    return rng.sample(list(train), k)


def chat_messages(
    data: SpiderData, db_id: str, question: str, shots: Sequence[SpiderExample] = (), answer: str | None = None
) -> list[Message]:
    """System, few-shot turns, the question; plus the gold SQL as the assistant turn for training."""
    messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}]
    for shot in shots:
        messages.append({"role": "user", "content": user_message(data.schema(shot.db_id), shot.question)})
        messages.append({"role": "assistant", "content": normalize_sql(shot.query)})
    messages.append({"role": "user", "content": user_message(data.schema(db_id), question)})
    if answer is not None:
        messages.append({"role": "assistant", "content": normalize_sql(answer)})
    return messages


def normalize_sql(sql: str) -> str:
    """Spider's gold SQL has doubled spaces and no trailing semicolon; teach a clean form."""
    return " ".join(sql.split()).rstrip(";").strip()


def _fold_system(messages: list[Message]) -> list[Message]:
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], list(messages[1:])
    if rest and rest[0]["role"] == "user":
        rest[0] = {"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}
    return rest


def render(tokenizer: Any, messages: list[Message], add_generation_prompt: bool = True) -> str:
    """The prompt text through the model's chat template (or a plain fallback without one)."""
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
        except Exception:  # jinja raise_exception: e.g. no system role, strict alternation
            return tokenizer.apply_chat_template(
                _fold_system(messages), tokenize=False, add_generation_prompt=add_generation_prompt
            )
    parts = [f"{m['role'].upper()}: {m['content']}" for m in messages]
    if add_generation_prompt:
        parts.append("ASSISTANT:")
    return "\n\n".join(parts)
