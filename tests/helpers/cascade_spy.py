"""Which shared prefixes went through cascade attention: a spy the cascade tests share."""

from __future__ import annotations

from typing import Any


def spy_cascade(monkeypatch: Any) -> list[int]:
    """Wrap `attention.cascade_attention`; the returned list gets the shared prefix's length at
    every call (the real function still computes the result)."""
    from tradeoff.inference import attention

    lengths: list[int] = []
    real = attention.cascade_attention

    def spying(*args: Any, **kwargs: Any) -> Any:
        lengths.append(args[3].shape[2])  # shared_key: [1, kv_heads, length, dim]
        return real(*args, **kwargs)

    monkeypatch.setattr(attention, "cascade_attention", spying)
    return lengths
