//go:build !unix

package httpserver

// openFileLimit reports no limit where the platform has no RLIMIT_NOFILE;
// DefaultMaxConns then uses its ceiling.
func openFileLimit() int { return 0 }
