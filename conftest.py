"""Root conftest. The benchmark's plugins load through the `pytest11` entry point
(fixtures/plugin.py; `pip install -e .`), so they work whatever pytest picks as rootdir."""

import os

os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
