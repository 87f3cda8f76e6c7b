package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for mcp-obs as the ingest process
// that `serve`, run in-process by these tests, starts from os.Executable.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ingestWorkerCommand {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
