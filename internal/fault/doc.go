// Package fault holds fault-injection tests of the mcp-obs platform: they
// build the real mcp-obs binary, run it on loopback, kill it (SIGKILL) at
// random moments while clients use it, restart it, and count what the
// clients were promised and lost. They take tens of seconds, so they only
// build with the "fault" tag: run them with scripts/fault.
package fault
