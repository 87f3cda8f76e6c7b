//go:build !linux

package ingestproc

import (
	"os"
	"syscall"
)

const supported = false

var terminateSignal = os.Interrupt

func sysProcAttr() *syscall.SysProcAttr { return nil }

// LowerPriority does nothing outside Linux, where the ingest process is
// not used.
func LowerPriority() error { return nil }
