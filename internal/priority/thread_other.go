//go:build !linux

package priority

// lowerThreadPriority does nothing where the nice value is per process.
func lowerThreadPriority() {}
