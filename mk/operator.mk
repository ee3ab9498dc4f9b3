# The operator (issue 6): benchmark, chart checks, a local run against the `make cluster-up` cluster.
.PHONY: bench-operator helm-lint operator-run crds-apply

HELM ?= $(KUBE_BIN_DIR)/helm
KUBECTL ?= kubectl

bench-operator: ## operator: create->Job latency p50/p95 and RSS for 50 CRs at once (needs `make cluster-bins`)
	$(BIN)/python scripts/bench_operator.py

helm-lint: ## operator: helm lint the chart (both RBAC modes)
	$(HELM) lint charts/safe-synthesizer
	$(HELM) lint charts/safe-synthesizer --set 'watchNamespaces={team-a,team-b}' --set metrics.serviceMonitor.enabled=true

operator-run: ## operator: run it locally against $$KUBECONFIG (e.g. the `make cluster-up` cluster)
	$(BIN)/python -m safe_synthesizer_operator --liveness http://127.0.0.1:8080/healthz

# Helm installs charts/*/crds/ on the first install only and never upgrades it. Server-side apply
# takes over the fields whoever created the CRD owned (Helm, an older apply: --force-conflicts), so
# new spec fields, enum values and CEL rules arrive; existing CRs are kept (same version, v1alpha1).
crds-apply: ## operator: upgrade the CRD in $$KUBECONFIG's cluster to crds/ (kubectl apply --server-side)
	$(KUBECTL) apply --server-side --force-conflicts --field-manager=safe-synthesizer-crds -f crds/
	$(KUBECTL) wait --for=condition=Established --timeout=60s -f crds/
