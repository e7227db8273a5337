"""The suite seam: every registered suite implements the protocol and owns its folder, flags and markers."""

from pathlib import Path

import pytest

from tradeoff.config.run_options import CORE_OPTION_SPECS, option_specs, split_values
from tradeoff.errors import UserError
from tradeoff.suites import registry

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = (
    "read_options",
    "check_data",
    "selects_module",
    "cases",
    "work",
    "score",
    "marked_props",
    "summarize",
    "overalls",
    "run_settings",
    "data_record",
    "summary_lines",
)


@pytest.mark.parametrize("name", list(registry.REGISTERED))
def test_registered_suite_implements_the_protocol(name):
    suite = registry.get(name)
    assert suite.name == name
    for method in PROTOCOL:
        assert callable(getattr(suite, method)), f"{name} lacks {method}"
    folder = REPO / suite.tests_dir
    modules = sorted(folder.glob("test_*.py"))
    assert modules, f"{suite.tests_dir} holds no test module"
    for module in modules:
        assert f'SUITE = "{name}"' in module.read_text(), f"{module} does not name its suite"
    assert any(m.split(":")[0] == name for m in suite.markers), "the suite's own marker is registered"


def test_option_flags_are_unique_across_core_and_suites():
    flags = [flag for flag, _ in option_specs()]
    assert len(flags) == len(set(flags))
    assert flags[: len(CORE_OPTION_SPECS)] == [flag for flag, _ in CORE_OPTION_SPECS]


def test_suite_selection():
    names = lambda values: [s.name for s in registry.select(values)]  # noqa: E731
    assert names([]) == list(registry.DEFAULT)
    assert names(["all"]) == list(registry.REGISTERED)
    assert names(["mmlu", "spider"]) == ["spider", "mmlu"]  # registry order, whatever the order asked
    assert names(split_values(["mmlu,spider"])) == ["spider", "mmlu"]  # as Options reads --suite
    assert names(["perplexity", "spider"]) == ["spider", "perplexity"]
    with pytest.raises(UserError, match="unknown"):
        registry.select(["gsm8k"])
