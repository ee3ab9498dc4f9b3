# PII replacement (runner/safe_synthesizer/pii): labelled fixture and benchmark.
.PHONY: bench-pii pii-fixture

bench-pii: ## PII: per-entity precision/recall on the labelled fixture and replacement throughput (rows/s)
	$(BIN)/python scripts/bench_pii.py

pii-fixture: ## PII: regenerate tests/pii/fixtures from scripts/make_pii_fixture.py (seeded)
	$(BIN)/python scripts/make_pii_fixture.py
