// Package fault holds fault-injection tests of the mcp-obs platform and of
// MCP servers built with the SDK. They build the real mcp-obs binary, run it
// on loopback, and either kill it (SIGKILL) at random moments while clients
// use it and count what the clients were promised and lost, or flood it (slow
// request bodies, MCP sessions opened in a loop) and measure what the process
// holds from /proc. They take tens of seconds and print their figures, so
// they only build with the "fault" tag: run them with scripts/fault.
package fault
