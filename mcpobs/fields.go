package mcpobs

import "strconv"

// cli is how messages name the mcp-obs command, as the README runs it from a
// checkout of mcp-obs (`go install ./cmd/mcp-obs` makes it a bare mcp-obs).
const cli = "go run ./cmd/mcp-obs"

// fieldNamer names configuration fields in messages as the caller wrote them:
// an [Integration] from [New] was configured with a [Config], a [Server] from
// [NewServer] with [Options], and a message that says "fix Config.ServerSlug"
// sends the author of an Options looking for a struct they never wrote.
type fieldNamer struct {
	owner string // "Config" or "Options"
	// serverURLFrom names the field ServerURL was derived from when the
	// caller left it empty ("Port" or "Listener" of Options), or is empty.
	serverURLFrom string
}

// configFields names the fields of a [Config].
var configFields = fieldNamer{owner: "Config"}

// of returns the qualified name of field, e.g. "Options.ServerSlug".
func (f fieldNamer) of(field string) string { return f.owner + "." + field }

// serverURLFix says how to make the server URL want, naming the field it
// actually came from.
func (f fieldNamer) serverURLFix(want string) string {
	fix := "set " + f.of("ServerURL") + " to " + strconv.Quote(want)
	switch f.serverURLFrom {
	case "Port":
		fix += " (left empty, it is http://localhost:{Port}/mcp: fixing " + f.of("Port") + " may be enough)"
	case "Listener":
		fix += " (left empty, it is http://{the address of " + f.of("Listener") + "}/mcp)"
	}
	return fix
}
