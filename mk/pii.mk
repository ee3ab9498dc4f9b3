# PII replacement (runner/safe_synthesizer/pii): labelled fixture, held-out set and benchmark.
.PHONY: bench-pii pii-fixture pii-holdout

bench-pii: ## PII: precision/recall on the labelled fixture and on the held-out set (3 seeds), throughput (rows/s)
	$(BIN)/python scripts/bench_pii.py --final

pii-fixture: ## PII: regenerate tests/pii/fixtures from scripts/make_pii_fixture.py (seeded)
	$(BIN)/python scripts/make_pii_fixture.py

pii-holdout: ## PII: write the held-out set (development seed) to build/pii_holdout/ as CSV + labels
	$(BIN)/python scripts/make_pii_holdout.py --out build/pii_holdout
