// critest is a test binary (`go test -c sigs.k8s.io/cri-tools/cmd/critest`, as cri-tools' Makefile
// builds it): its main package has only a _test.go file, so it cannot be a `tool` line. These are
// the packages that file imports, so that `go mod tidy` keeps what building it needs in go.sum.
package critest

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "sigs.k8s.io/cri-tools/pkg/benchmark"
	_ "sigs.k8s.io/cri-tools/pkg/common"
	_ "sigs.k8s.io/cri-tools/pkg/framework"
	_ "sigs.k8s.io/cri-tools/pkg/validate"
	_ "sigs.k8s.io/cri-tools/pkg/version"
)
