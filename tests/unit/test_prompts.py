from tradeoff.suites.spider.data import SpiderData
from tradeoff.suites.spider.prompts import SYSTEM_PROMPT, chat_messages, choose_fewshot, render, render_schema


class Templated:
    """A tokenizer stand-in whose chat template rejects the system role (as Mistral v0.2's does)."""

    chat_template = "strict"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        if any(m["role"] == "system" for m in messages):
            raise ValueError("Conversation roles must alternate user/assistant")
        text = "".join(f"[{m['role']}]{m['content']}" for m in messages)
        return text + ("[assistant]" if add_generation_prompt else "")


class Plain:
    chat_template = None


def test_schema_lists_tables_columns_keys_and_foreign_keys(spider_dir):
    text = render_schema(SpiderData(spider_dir).schema("shop"))
    assert "item(id number primary key, name text, price number, shop_id number)" in text
    assert "Foreign keys:\nitem.shop_id = shop.shop_id" in text


def test_messages_shots_and_training_answer(spider_dir):
    data = SpiderData(spider_dir)
    shots = choose_fewshot(data.train(), 2)
    assert shots == choose_fewshot(data.train(), 2)  # deterministic: same prefix for every case
    msgs = chat_messages(data, "shop", "How many items?", shots)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[-1]["content"].endswith("Question: How many items?")
    trained = chat_messages(data, "shop", "How many items?", answer="SELECT  count(*)  FROM item ;")
    assert trained[-1] == {"role": "assistant", "content": "SELECT count(*) FROM item"}


def test_template_without_system_role_gets_it_folded(spider_dir):
    data = SpiderData(spider_dir)
    text = render(Templated(), chat_messages(data, "shop", "Q?"))
    assert text.startswith(f"[user]{SYSTEM_PROMPT}\n\nDatabase schema:")
    assert text.endswith("[assistant]")


def test_plain_fallback_without_template(spider_dir):
    text = render(Plain(), chat_messages(SpiderData(spider_dir), "shop", "Q?"))
    assert text.startswith("SYSTEM: ") and text.endswith("ASSISTANT:")
