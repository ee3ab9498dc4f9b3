# The web console (issue 14): run it locally for one person, with their own kubeconfig.
.PHONY: console

CONSOLE_PORT ?= 8090
CONSOLE_NAMESPACE ?= default
# The `make cluster-up` cluster's kubeconfig when it is running, else $KUBECONFIG / ~/.kube/config.
CONSOLE_KUBECONFIG ?= $(or $(wildcard $(SAFE_SYNTH_CACHE)/cluster-run/kubeconfig),$(KUBECONFIG))

console: ## console: the web console on http://127.0.0.1:$$CONSOLE_PORT/ as you (kubeconfig; SSC_UPLOAD_PREFIX=s3://... for uploads)
	SSC_AUTH=kubeconfig SSC_KUBECONFIG="$(CONSOLE_KUBECONFIG)" \
	  SSC_NAMESPACE="$${SSC_NAMESPACE:-$(CONSOLE_NAMESPACE)}" \
	  $(BIN)/python -m safe_synthesizer.console --host 127.0.0.1 --port $(CONSOLE_PORT)

.PHONY: console-screenshots
console-screenshots: ## console: run the browser tests on the test cluster and save their screenshots to docs/console/ (needs cluster-bins, system-deps)
	SAFE_SYNTH_SCREENSHOT_DIR=$(CURDIR)/docs/console $(PYTEST) -q -m cluster tests/operator/test_console_browser.py
