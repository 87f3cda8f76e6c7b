package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

// newFlagSet returns a flag set for a command whose errors go to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mcp-obs "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, then fills every flag not given on the command line
// from its MCP_OBS_* environment variable (--base-url ← MCP_OBS_BASE_URL).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		env := "MCP_OBS_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := f.Value.Set(v); e != nil {
				err = usageError{fmt.Sprintf("%s=%q: %v", env, v, e)}
			}
		}
	})
	return err
}

// proxiesFlag is --trusted-proxies: a list of CIDR prefixes (or addresses),
// checked when set so that a typo is a usage error, not a silently ignored
// proxy.
type proxiesFlag []netip.Prefix

func (p *proxiesFlag) String() string {
	var s []string
	for _, prefix := range *p {
		s = append(s, prefix.String())
	}
	return strings.Join(s, ",")
}

func (p *proxiesFlag) Set(v string) error {
	prefixes, err := web.ParseTrustedProxies(v)
	if err != nil {
		return err
	}
	*p = prefixes
	return nil
}
