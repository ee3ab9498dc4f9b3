# Test control plane (issue 4): etcd, kube-apiserver, kube-controller-manager, kubectl and helm, built
# from Go modules into a cache folder outside the repo, plus start/stop of a local cluster.
# See docs/test-cluster.md.

include tests/cluster/versions.env

SAFE_SYNTH_CACHE ?= $(HOME)/.cache/safe-synthesizer
KUBE_BIN_DIR ?= $(SAFE_SYNTH_CACHE)/kube/v$(KUBE_VERSION)
CLUSTER_GO_DIR := tests/cluster/go
# 2 cores / 24 GB: two compile jobs at a time, no cgo, reproducible paths; the Go build cache is reused.
CLUSTER_GO_ENV := CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath -p=2" GOTOOLCHAIN=local
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=v$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/component-base/version.gitCommit= \
	-X k8s.io/component-base/version.buildDate=$(KUBE_BUILD_DATE) \
	-X k8s.io/client-go/pkg/version.gitVersion=v$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/client-go/pkg/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitCommit= \
	-X k8s.io/client-go/pkg/version.buildDate=$(KUBE_BUILD_DATE)
HELM_LDFLAGS := -s -w -X helm.sh/helm/v4/internal/version.version=v$(HELM_VERSION) \
	-X helm.sh/helm/v4/internal/version.gitTreeState=clean
KUEUE_LDFLAGS := -s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=v$(KUEUE_VERSION) \
	-X sigs.k8s.io/kueue/pkg/version.GitCommit= -X sigs.k8s.io/kueue/pkg/version.BuildDate=$(KUBE_BUILD_DATE)
CLUSTER_PY := $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)

.PHONY: cluster-bins cluster-bins-check kueue-bin cluster-up cluster-down cluster-status test-cluster

# A binary is rebuilt only when it is missing or its <name>.version stamp differs from the pinned version
# (the stamp is "<version>-r<BUILD_REV>"; bump BUILD_REV in versions.env when the flags below change).
# $(call cluster_stale,name,version) is true (exit 0) when it must be built.
cluster_stale = ! { [ -x "$(KUBE_BIN_DIR)/$(1)" ] && [ "$$(cat "$(KUBE_BIN_DIR)/$(1).version" 2>/dev/null)" = "$(2)" ]; }

cluster-bins-check:
	@grep -q '^require k8s.io/kubernetes v$(KUBE_VERSION)$$' $(CLUSTER_GO_DIR)/kube/go.mod \
		|| { echo "tests/cluster/go/kube/go.mod does not pin k8s.io/kubernetes v$(KUBE_VERSION)"; exit 1; }
	@grep -q '^require go.etcd.io/etcd/server/v3 v$(ETCD_VERSION)$$' $(CLUSTER_GO_DIR)/etcd/go.mod \
		|| { echo "tests/cluster/go/etcd/go.mod does not pin go.etcd.io/etcd/server/v3 v$(ETCD_VERSION)"; exit 1; }
	@grep -q '^require sigs.k8s.io/kueue v$(KUEUE_VERSION)$$' $(CLUSTER_GO_DIR)/kueue/go.mod \
		|| { echo "tests/cluster/go/kueue/go.mod does not pin sigs.k8s.io/kueue v$(KUEUE_VERSION)"; exit 1; }

cluster-bins: cluster-bins-check ## build etcd, kube-apiserver, kube-controller-manager, kubectl, helm into ~/.cache/safe-synthesizer/kube/<version>/
	@mkdir -p "$(KUBE_BIN_DIR)"
	@if $(call cluster_stale,etcd,$(ETCD_VERSION)-r$(BUILD_REV)); then \
		echo "building etcd v$(ETCD_VERSION) -> $(KUBE_BIN_DIR)"; \
		cd $(CLUSTER_GO_DIR)/etcd && $(CLUSTER_GO_ENV) go build -ldflags "-s -w" -o "$(KUBE_BIN_DIR)/etcd" . \
			&& echo "$(ETCD_VERSION)-r$(BUILD_REV)" > "$(KUBE_BIN_DIR)/etcd.version"; \
	else echo "etcd v$(ETCD_VERSION) already built"; fi
	@if $(call cluster_stale,kube-apiserver,$(KUBE_VERSION)-r$(BUILD_REV)) || $(call cluster_stale,kube-controller-manager,$(KUBE_VERSION)-r$(BUILD_REV)) \
		|| $(call cluster_stale,kubectl,$(KUBE_VERSION)-r$(BUILD_REV)); then \
		echo "building kube-apiserver, kube-controller-manager, kubectl v$(KUBE_VERSION) -> $(KUBE_BIN_DIR)"; \
		cd $(CLUSTER_GO_DIR)/kube && $(CLUSTER_GO_ENV) go build -ldflags "$(KUBE_LDFLAGS)" -o "$(KUBE_BIN_DIR)/" \
			k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
			k8s.io/kubernetes/cmd/kubectl \
		&& for b in kube-apiserver kube-controller-manager kubectl; do echo "$(KUBE_VERSION)-r$(BUILD_REV)" > "$(KUBE_BIN_DIR)/$$b.version"; done; \
	else echo "kube-apiserver, kube-controller-manager, kubectl v$(KUBE_VERSION) already built"; fi
	@if $(call cluster_stale,helm,$(HELM_VERSION)-r$(BUILD_REV)); then \
		echo "building helm v$(HELM_VERSION) -> $(KUBE_BIN_DIR)"; \
		cd $(CLUSTER_GO_DIR) && GOBIN="$(KUBE_BIN_DIR)" $(CLUSTER_GO_ENV) \
			go install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v4/cmd/helm@v$(HELM_VERSION) \
			&& echo "$(HELM_VERSION)-r$(BUILD_REV)" > "$(KUBE_BIN_DIR)/helm.version"; \
	else echo "helm v$(HELM_VERSION) already built"; fi
	@echo "cluster binaries in $(KUBE_BIN_DIR)"

# Kueue's controller manager, for tests/operator/test_kueue_real.py (skipped without it), plus Kueue's CRDs
# and webhook manifests copied from the same module (kueue-config/). Not part of cluster-bins: a cold
# build is a further 7.6 CPU-minutes, ~4 min on 2 idle cores (docs/test-cluster.md, "Kueue").
kueue-bin: cluster-bins-check ## build the Kueue controller manager (sigs.k8s.io/kueue/cmd/kueue) into the same folder as cluster-bins
	@mkdir -p "$(KUBE_BIN_DIR)"
	@if $(call cluster_stale,kueue,$(KUEUE_VERSION)-r$(BUILD_REV)) || [ ! -f "$(KUBE_BIN_DIR)/kueue-config/webhooks.yaml" ]; then \
		echo "building kueue v$(KUEUE_VERSION) -> $(KUBE_BIN_DIR)"; \
		cd $(CLUSTER_GO_DIR)/kueue && $(CLUSTER_GO_ENV) go build -ldflags "$(KUEUE_LDFLAGS)" -o "$(KUBE_BIN_DIR)/kueue" \
			sigs.k8s.io/kueue/cmd/kueue \
		&& src="$$(GOTOOLCHAIN=local go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)" \
		&& rm -rf "$(KUBE_BIN_DIR)/kueue-config" && mkdir -p "$(KUBE_BIN_DIR)/kueue-config/crds" \
		&& cp "$$src"/config/components/crd/bases/kueue.x-k8s.io_*.yaml "$(KUBE_BIN_DIR)/kueue-config/crds/" \
		&& cp "$$src"/config/components/webhook/manifests.yaml "$(KUBE_BIN_DIR)/kueue-config/webhooks.yaml" \
		&& chmod -R u+w "$(KUBE_BIN_DIR)/kueue-config" \
		&& echo "$(KUEUE_VERSION)-r$(BUILD_REV)" > "$(KUBE_BIN_DIR)/kueue.version"; \
	else echo "kueue v$(KUEUE_VERSION) already built"; fi

cluster-up: ## start etcd + kube-apiserver + kube-controller-manager + the test node agent (state in ~/.cache/safe-synthesizer/cluster-run)
	$(CLUSTER_PY) tests/cluster/cli.py up

cluster-down: ## stop the cluster started by cluster-up and remove its state
	$(CLUSTER_PY) tests/cluster/cli.py down

cluster-status: ## print the state of the cluster started by cluster-up
	$(CLUSTER_PY) tests/cluster/cli.py status

test-cluster: ## the cluster tests (needs `make cluster-bins`): control plane, CRD, the operator end to end
	$(PYTEST) -q -m cluster tests/kube tests/operator
