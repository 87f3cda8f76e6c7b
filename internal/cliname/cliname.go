// Package cliname is how the platform's messages name its command line
// (`go run ./cmd/mcp-obs server create …`), so that every message that tells
// a person what to run says it the same way.
package cliname

// Command runs the mcp-obs CLI from a checkout of the repository, the way
// the README and the examples run it. (Once installed with
// `go install ./cmd/mcp-obs`, plain `mcp-obs` does the same.)
const Command = "go run ./cmd/mcp-obs"
