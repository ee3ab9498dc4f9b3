# The operator (issue 6): benchmark, chart checks, a local run against the `make cluster-up` cluster.
.PHONY: bench-operator helm-lint operator-run operator-dev-rbac crds-apply

HELM ?= $(KUBE_BIN_DIR)/helm
KUBECTL ?= kubectl

bench-operator: ## operator: create->Job latency p50/p95 and RSS for 50 CRs at once (needs `make cluster-bins`)
	$(BIN)/python scripts/bench_operator.py

helm-lint: ## operator: helm lint the chart (both RBAC modes)
	$(HELM) lint charts/safe-synthesizer
	$(HELM) lint charts/safe-synthesizer --set 'watchNamespaces={team-a,team-b}' --set metrics.serviceMonitor.enabled=true

# A local operator gives job pods the chart's job ServiceAccount (SSO_JOB_SERVICE_ACCOUNT, unless
# already set), so their progress patches are allowed; `make operator-dev-rbac NAMESPACE=<ns>`
# creates it and its Role in <ns> from the chart's own template. Jobs in a namespace without it wait
# with reason ServiceAccountMissing instead of running with the `default` ServiceAccount (HTTP 403).
OPERATOR_DEV_JOB_SA ?= safe-synthesizer-job
NAMESPACE ?= default

operator-run: ## operator: run it locally against $$KUBECONFIG (e.g. the `make cluster-up` cluster)
	SSO_JOB_SERVICE_ACCOUNT="$${SSO_JOB_SERVICE_ACCOUNT-$(OPERATOR_DEV_JOB_SA)}" \
	  $(BIN)/python -m safe_synthesizer_operator --liveness http://127.0.0.1:8080/healthz

operator-dev-rbac: ## operator: the job ServiceAccount + Role for `make operator-run` in $$NAMESPACE (helm template | kubectl apply)
	$(HELM) template safe-synthesizer charts/safe-synthesizer --namespace $(NAMESPACE) \
	  --kube-version $(KUBE_VERSION) --show-only templates/job-rbac.yaml \
	  --set jobs.serviceAccount.name=$(OPERATOR_DEV_JOB_SA) --set 'jobs.serviceAccount.namespaces={$(NAMESPACE)}' \
	  | $(KUBECTL) apply -f -

# Helm installs charts/*/crds/ on the first install only and never upgrades it. Server-side apply
# takes over the fields whoever created the CRD owned (Helm, an older apply: --force-conflicts), so
# new spec fields, enum values and CEL rules arrive; existing CRs are kept (same version, v1alpha1).
crds-apply: ## operator: upgrade the CRD in $$KUBECONFIG's cluster to crds/ (kubectl apply --server-side)
	$(KUBECTL) apply --server-side --force-conflicts --field-manager=safe-synthesizer-crds -f crds/
	$(KUBECTL) wait --for=condition=Established --timeout=60s -f crds/
