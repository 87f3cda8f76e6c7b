// Package testkit holds the small helpers the test suites share: a clock
// tests move by hand, a buffer that goroutines may write to while a test
// reads it, and the reference readings (scopes) that fuzz targets in several
// packages compare the real parsers with.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Clock is a time source for Options.Now fields that only moves when a test
// says so. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Buffer is a bytes.Buffer safe for concurrent writers (loggers, child
// processes) and a reading test. The zero value is ready to use.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed at the next write; nil when nobody waits
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// WaitFor blocks until s has been written (a log line, a banner), and
// reports ctx's error if ctx ends first. Tests wait for what a program says
// it did, not for an amount of time.
func (b *Buffer) WaitFor(ctx context.Context, s string) error {
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return nil
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-ctx.Done():
			return fmt.Errorf("%q was not written: %w", s, ctx.Err())
		}
	}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len returns how many bytes were written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
