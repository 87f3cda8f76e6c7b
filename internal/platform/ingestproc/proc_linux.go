package ingestproc

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Supported tells whether the ingest process runs on this system (Linux
// only: it needs the parent-death signal and SCHED_IDLE).
const Supported = true

// terminateSignal asks the child to finish.
var terminateSignal = syscall.SIGTERM

// sysProcAttr puts the child in a process group of its own (a terminal's
// Ctrl-C reaches the platform, which then stops the child in order) and
// has the kernel kill it if the platform dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// LowerPriority puts every thread of this process at the lowest CPU
// priority Linux has: the SCHED_IDLE policy, which the kernel runs only
// when nothing else wants the core and preempts as soon as something
// does, and nice 19 beneath it (what `ps` shows). Both are per thread on
// Linux: nice is set for the process group, which the platform made this
// process's alone; the policy is set thread by thread, twice over, for
// threads started meanwhile. Threads started later inherit both.
func LowerPriority() error {
	if err := unix.Setpriority(unix.PRIO_PGRP, 0, 19); err != nil {
		return fmt.Errorf("lower the ingest process's CPU priority: %w", err)
	}
	idle := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("lower the ingest process's CPU priority: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetAttr(tid, idle, 0); err != nil && err != unix.ESRCH { // ESRCH: the thread ended
				return fmt.Errorf("lower the ingest process's CPU priority to SCHED_IDLE: %w", err)
			}
		}
	}
	return nil
}
