# Evaluation (SQS/DPS) targets.
.PHONY: bench-eval test-eval

bench-eval: ## full evaluation of a generated 50,000 x 15 table: wall time and peak RSS (goal <= 60 s, 2 GB)
	$(BIN)/python scripts/bench_eval.py --report build/bench_eval_report.html

test-eval: ## the evaluation test suite only
	$(PYTEST) -q tests/evaluation -m "not heavy"
