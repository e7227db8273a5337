"""Root conftest: registers the benchmark's pytest plugins (options, models, suites, reports)."""
import os

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "fixtures.options",
    "fixtures.models",
    "fixtures.spider",
    "reports.collector",
]
