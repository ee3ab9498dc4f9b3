//go:build tools

// Package kueue pins sigs.k8s.io/kueue so that `go build` can build the Kueue
// controller manager (sigs.k8s.io/kueue/cmd/kueue) from its published module,
// with a go.sum checked in here, the same way as ../kube and ../etcd.
//
// TEST HARNESS ONLY: built by `make kueue-bin` for the real-Kueue cluster test
// (tests/operator/test_kueue_real.py); see docs/test-cluster.md, "Kueue".
package kueue

import (
	_ "sigs.k8s.io/kueue/cmd/kueue"
)
