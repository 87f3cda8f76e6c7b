package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// TestGoClient_TwoUsersInParallelEachSeeOnlyThemselves signs two users in at
// the same time, each with their own Go SDK client and browser, and has both
// call whoami concurrently: identity is per request, so neither may ever see
// the other, whatever the SDK caches.
func TestGoClient_TwoUsersInParallelEachSeeOnlyThemselves(t *testing.T) {
	h := startHarness(t)
	users := map[string]string{} // email → subject
	for _, email := range []string{"alice@example.com", "bob@example.com"} {
		users[email] = h.addUser(t, email, email+"-pw").ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const callsPerUser = 10
	g, gctx := errgroup.WithContext(ctx)
	for email, subject := range users {
		g.Go(func() error {
			c := newGoClient(t, email, email+"-pw")
			if err := c.connect(gctx, h.MCPURL); err != nil {
				return fmt.Errorf("%s: %w", email, err)
			}
			defer c.Session.Close()
			calls, cctx := errgroup.WithContext(gctx)
			for i := 0; i < callsPerUser; i++ {
				calls.Go(func() error {
					who, err := c.whoami(cctx)
					if err != nil {
						return fmt.Errorf("%s: %w", email, err)
					}
					if who.Email != email || who.Subject != subject {
						return fmt.Errorf("%s (subject %s) was told it is %s (subject %s)", email, subject, who.Email, who.Subject)
					}
					return nil
				})
			}
			return calls.Wait()
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}
