"""$TRADEOFF_THREADS sets the computing process's torch threads; a bad value is a one-line error."""

from __future__ import annotations

import pytest

from tradeoff.errors import UserError
from tradeoff.inference.devices import cpu_threads


def test_threads_come_from_the_environment_or_torch_default(monkeypatch):
    monkeypatch.delenv("TRADEOFF_THREADS", raising=False)
    assert cpu_threads() is None
    monkeypatch.setenv("TRADEOFF_THREADS", "1")
    assert cpu_threads() == 1
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("TRADEOFF_THREADS", bad)
        with pytest.raises(UserError, match="TRADEOFF_THREADS"):
            cpu_threads()
