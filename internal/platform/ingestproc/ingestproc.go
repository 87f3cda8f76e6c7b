// Package ingestproc runs the platform's OTLP receiver in a child process
// of its own, at the lowest CPU priority, and proxies the OTLP routes to
// it.
//
// Decoding and storing spans at full speed takes most of a core. In the
// platform's own process that work slows sign-in and introspection even on
// threads at the lowest priority: Go's garbage collector stops every
// thread of a process at once, so each collection waits for the
// low-priority thread to be scheduled, and the collections ingest causes
// run on the request threads too. A process of its own has its own
// collector, and the kernel runs all of it after the platform. The
// platform still authenticates nothing for the receiver: the child opens
// the same database and does everything the in-process receiver does, so
// the answers are the same byte for byte.
//
// The platform ([Start]) listens on a Unix socket in a private directory
// and passes the listener to the child as its file descriptor 3, so a
// request sent as the child died waits in the socket's backlog for the
// next one rather than fail; while no child runs, senders get 503 with
// Retry-After at once. The child ([Serve]) serves on the socket until it
// is told to stop.
package ingestproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// listenerFD is the child's file descriptor of the socket it serves on:
// the first of exec.Cmd.ExtraFiles.
const listenerFD = 3

// Serve serves h on the listener the platform passed to this process
// until ctx ends, then shuts down gracefully: the requests in flight get
// their commits and answers, for at most grace.
func Serve(ctx context.Context, h http.Handler, grace time.Duration) error {
	f := os.NewFile(listenerFD, "otlp-listener")
	if f == nil {
		return errors.New("ingest process: no listener at file descriptor 3 (this command is started by `mcp-obs serve`, not by hand)")
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("ingest process: listener at file descriptor 3 (this command is started by `mcp-obs serve`, not by hand): %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ingest process: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("ingest process: shut down: %w", err)
	}
	return nil
}
