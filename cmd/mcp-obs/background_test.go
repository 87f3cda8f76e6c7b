package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/testkit"
)

// hangGuard bounds every wait of these tests for something the command must
// do or say. It is not what they measure: a wait ends as soon as the thing
// happens, and the guard only stops a broken build from hanging the suite.
const hangGuard = 2 * time.Minute

// background is a command line running in the test, as `run` runs it.
type background struct {
	stdout, stderr *testkit.Buffer
	cancel         context.CancelFunc // Ctrl-C
	done           chan error         // run's result
}

// startCommand runs args in the background until the test ends (or stop).
func startCommand(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- run(ctx, args, strings.NewReader(""), b.stdout, b.stderr) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// waitFor waits until the command has written text to out; it fails the
// test if the command ends first.
func (b *background) waitFor(t *testing.T, out *testkit.Buffer, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	written := make(chan error, 1)
	go func() { written <- out.WaitFor(ctx, text) }()
	select {
	case err := <-written:
		if err != nil {
			t.Fatalf("waiting for %q: %v\nstdout:\n%s\nstderr:\n%s", text, err, b.stdout, b.stderr)
		}
	case err := <-b.done:
		b.done <- err
		t.Fatalf("the command ended (%v) before writing %q\nstdout:\n%s\nstderr:\n%s", err, text, b.stdout, b.stderr)
	}
}

// stop sends Ctrl-C and returns the command's result.
func (b *background) stop(t *testing.T) error {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		b.done <- err
		return err
	case <-time.After(hangGuard):
		t.Fatal("the command did not stop after Ctrl-C")
		return nil
	}
}

// listening is the log line serve writes once its listener is open: from
// then on connections are accepted (queued until the server takes them).
const listening = "mcp-obs platform listening"

// startServe runs `serve` on a free loopback port with args and returns its
// base URL once it listens.
func startServe(t *testing.T, args ...string) (string, *background) {
	t.Helper()
	port := freePort(t)
	b := startCommand(t, append([]string{"serve", "--addr", "127.0.0.1:" + port, "--log-level", "info"}, args...)...)
	b.waitFor(t, b.stderr, listening)
	return "http://127.0.0.1:" + port, b
}

// freshDB creates an empty SQLite database, as serve and demo do, and
// returns its --db value.
func freshDB(t *testing.T) string {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")
	st, created, err := openStore(context.Background(), db, createDB)
	if err != nil || created == "" {
		t.Fatalf("create %s: %v (created %q)", db, err, created)
	}
	st.Close()
	return db
}
