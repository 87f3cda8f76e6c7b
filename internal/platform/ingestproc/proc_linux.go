package ingestproc

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

const supported = true

// terminateSignal asks the child to finish.
var terminateSignal = syscall.SIGTERM

// sysProcAttr puts the child in a process group of its own (a terminal's
// Ctrl-C reaches the platform, which then stops the child in order) and
// has the kernel kill it if the platform dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// LowerPriority gives every thread of this process the lowest normal CPU
// priority (nice 19). On Linux the nice value is per thread: the call sets
// it for every thread of the process group, which the platform made this
// process's alone, and threads started later inherit it.
func LowerPriority() error {
	if err := unix.Setpriority(unix.PRIO_PGRP, 0, 19); err != nil {
		return fmt.Errorf("lower the ingest process's CPU priority: %w", err)
	}
	return nil
}
