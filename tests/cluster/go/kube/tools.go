//go:build tools

// Package kube pins k8s.io/kubernetes so that `go build` can build the
// control-plane commands (kube-apiserver, kube-controller-manager, kubectl)
// from published modules. k8s.io/kubernetes cannot be `go install`ed
// directly because its go.mod replaces every staging module with a local
// path; go.mod here replaces each staging module with its published
// v0.X.Y release instead (kubernetes/kubernetes#79384).
//
// TEST HARNESS ONLY: built by `make cluster-bins` for the local test control plane.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
