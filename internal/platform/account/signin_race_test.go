package account

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-obs/mcp-obs/internal/platform/users"
)

// postConcurrently sends n copies of form to path at once from browser b and
// returns how many answers had each status code.
func (b *browser) postConcurrently(path string, n int, form func(i int) url.Values) map[int]int {
	b.f.t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		start = make(chan struct{})
		errs  []error
	)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", b.f.ts.URL+path, strings.NewReader(form(i).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			<-start
			resp, err := b.c.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			resp.Body.Close()
			codes[resp.StatusCode]++
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		b.f.t.Fatalf("POST %s: %v", path, errs[0])
	}
	return codes
}

func TestSignIn_ConcurrentGuessesCannotExceedTheAccountBudget(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	b := f.browser()
	tok := b.csrf("/t/acme/signin")
	// Each guess costs a bcrypt comparison, so without a reservation all of
	// them pass the "is it blocked?" check before the first failure is counted.
	n := 3 * users.AccountFailures
	codes := b.postConcurrently("/t/acme/signin", n, func(i int) url.Values {
		return url.Values{"csrf_token": {tok}, "email": {"ann@example.com"}, "password": {"guess " + string(rune('a'+i))}}
	})
	if codes[http.StatusBadRequest] > users.AccountFailures || codes[http.StatusBadRequest]+codes[http.StatusTooManyRequests] != n {
		t.Fatalf("%d concurrent guesses: answers %v; want at most %d checked (400) and the rest 429", n, codes, users.AccountFailures)
	}
	resp, body := b.signIn("acme", "ann@example.com", "correct horse", "")
	wantStatus(t, resp, body, http.StatusTooManyRequests)
}
