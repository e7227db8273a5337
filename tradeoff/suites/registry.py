"""The registered suites: adding one is one line here (see tradeoff/suites/README.md).

Entries name modules, imported on first use, so listing the suites (for option parsing or
collection) loads no suite's heavy dependencies.
"""

from __future__ import annotations

from importlib import import_module

from tradeoff.errors import UserError
from tradeoff.suites.api import Suite

# name -> module exposing SUITE (an object implementing tradeoff.suites.api.Suite)
REGISTERED: dict[str, str] = {
    "spider": "tradeoff.suites.spider.suite",
    "mmlu": "tradeoff.suites.mmlu.suite",
    "perplexity": "tradeoff.suites.perplexity.suite",
    "gold_sql": "tradeoff.suites.gold_sql.suite",
}
# What `--suite` selects when not given: the trade-off's two axes (`--suite all` adds the rest).
DEFAULT: tuple[str, ...] = ("spider", "mmlu")

_loaded: dict[str, Suite] = {}


def get(name: str) -> Suite:
    if name not in REGISTERED:
        raise UserError(f"unknown suite {name!r}; registered: {', '.join(REGISTERED)}")
    if name not in _loaded:
        suite: Suite = import_module(REGISTERED[name]).SUITE
        assert suite.name == name, f"{REGISTERED[name]} registers {suite.name!r} as {name!r}"
        _loaded[name] = suite
    return _loaded[name]


def all_suites() -> list[Suite]:
    return [get(name) for name in REGISTERED]


def select(names: list[str]) -> list[Suite]:
    """The suites --suite names (`all` = every registered one; none = DEFAULT), in registry order."""
    names = names or list(DEFAULT)
    if "all" in names:
        return all_suites()
    unknown = [n for n in names if n not in REGISTERED]
    if unknown:
        raise UserError(f"--suite: unknown {unknown}; choose from all, {', '.join(REGISTERED)}")
    return [get(name) for name in REGISTERED if name in names]
