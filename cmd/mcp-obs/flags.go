package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/cliname"
	"github.com/mcp-obs/mcp-obs/internal/httpserver"
	"github.com/mcp-obs/mcp-obs/internal/platform/web"
)

// newFlagSet returns a flag set for a command whose errors go to stderr,
// named as the command is run ("go run ./cmd/mcp-obs server create").
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(cliname.Command+" "+name, flag.ContinueOnError)
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

// addLimitFlags registers the HTTP limit flags (timeouts and connection caps,
// see package httpserver) on fs. As in the SDK's mcpobs.Limits, zero means
// the default and a negative value turns a limit off.
func addLimitFlags(fs *flag.FlagSet) *httpserver.Limits {
	l := &httpserver.Limits{}
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", httpserver.DefaultReadHeaderTimeout,
		"time a client has to send a request's headers (negative: no limit)")
	fs.DurationVar(&l.BodyTimeout, "body-timeout", httpserver.DefaultBodyTimeout,
		"time a client has to send a request body; requests without a body and the event streams are not affected (negative: no limit)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", httpserver.DefaultIdleTimeout,
		"close kept-alive connections idle this long (negative: never)")
	fs.IntVar(&l.MaxConns, "max-conns", 0,
		"cap on open connections; more are answered 503 with Retry-After (0: 3/4 of the open-file limit, at most 4096; negative: no cap)")
	fs.IntVar(&l.MaxConnsPerAddr, "max-conns-per-addr", 0,
		"cap on open connections from one client address (IPv6: one /64); --trusted-proxies are exempt (0: 128, and loopback peers exempt too; negative: no cap)")
	return l
}

// daysDuration is a duration flag that also takes whole days ("30d"), the
// unit retention periods are thought in; Go durations ("36h") work too.
// It must be positive.
type daysDuration time.Duration

func (d *daysDuration) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

func (d *daysDuration) Set(s string) error {
	var v time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return fmt.Errorf("%q: want a whole number of days from 1 to 36500 (e.g. 30d) or a duration (e.g. 36h)", s)
		}
		v = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if v, err = time.ParseDuration(s); err != nil {
			return fmt.Errorf("%q: want days (e.g. 30d) or a duration (e.g. 36h)", s)
		}
	}
	if v < time.Minute {
		return fmt.Errorf("%q: must be at least a minute", s)
	}
	*d = daysDuration(v)
	return nil
}
