# Differential privacy targets.
.PHONY: bench-dp test-dp

bench-dp: ## DP-SGD vs plain training step time, same model and data (goal <= 1.5x); on GPU when one is present
	$(BIN)/python scripts/bench_dp.py

test-dp: ## the DP test suite only (accounting vs an independent accountant, canaries, DP pipeline run)
	$(PYTEST) -q -s tests/privacy
