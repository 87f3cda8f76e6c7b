//go:build !linux

package ingestproc

import (
	"os"
	"syscall"
)

// Supported tells whether the ingest process runs on this system (Linux
// only: it needs the parent-death signal and SCHED_IDLE).
const Supported = false

var terminateSignal = os.Interrupt

func sysProcAttr() *syscall.SysProcAttr { return nil }

// LowerPriority does nothing outside Linux, where the ingest process is
// not used.
func LowerPriority() error { return nil }
