//go:build unix

package httpserver

import "syscall"

// openFileLimit is the process's current (soft) open-file limit, or 0 if
// it cannot be read.
func openFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
