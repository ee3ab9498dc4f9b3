// Command etcd is a thin wrapper around etcdmain.Main so that etcd can be
// built from published Go modules (go install of go.etcd.io/etcd/server/v3
// is refused because that module carries replace directives).
//
// TEST HARNESS ONLY: built by `make cluster-bins` for the local test control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
