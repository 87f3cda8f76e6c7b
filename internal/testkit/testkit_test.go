package testkit

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestBuffer_WaitForReturnsOnceTheTextIsWritten(t *testing.T) {
	var b Buffer
	done := make(chan error, 1)
	go func() { done <- b.WaitFor(context.Background(), "ready") }()
	go func() {
		for i := range 100 {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		b.Write([]byte("now ready\n"))
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.WaitFor(ctx, "never"); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor with its context done = %v, want context.Canceled", err)
	}
	if err := b.WaitFor(ctx, "ready"); err != nil {
		t.Fatalf("WaitFor of text already written = %v, want nil even with the context done", err)
	}
}
