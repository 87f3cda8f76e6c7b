package users

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/mcp-obs/mcp-obs/internal/store"
	"github.com/mcp-obs/mcp-obs/internal/testkit"
	"github.com/mcp-obs/mcp-obs/internal/testkit/testdb"
)

// fixture is the users service over a real SQLite store, with two tenants
// (acme allows sign-up, closed does not) and a clock the test moves.
type fixture struct {
	t      *testing.T
	store  store.Store
	svc    *Service
	clock  *testkit.Clock
	acme   *store.Server
	other  *store.Server
	closed *store.Server
}

// newFixture builds the fixture; each of opts may change the Options after
// the fixture has filled them in.
func newFixture(t *testing.T, opts ...func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st := testdb.SQLite(t)
	f := &fixture{t: t, store: st, clock: testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	for _, s := range []struct {
		dst    **store.Server
		slug   string
		signup bool
	}{{&f.acme, "acme", true}, {&f.other, "other", true}, {&f.closed, "closed", false}} {
		srv := &store.Server{ID: "srv-" + s.slug, Slug: s.slug, Name: s.slug, AllowSignup: s.signup}
		if err := st.CreateServer(ctx, srv); err != nil {
			t.Fatal(err)
		}
		*s.dst = srv
	}
	o := Options{Store: st, Now: f.clock.Now, PasswordCost: bcrypt.MinCost, Logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	f.svc = New(o)
	return f
}

// createUser makes an account through the service.
func (f *fixture) createUser(srv *store.Server, email, password string) *store.User {
	f.t.Helper()
	u, err := f.svc.CreateUser(context.Background(), srv, email, password)
	if err != nil {
		f.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// countCompares makes the service count its bcrypt comparisons.
func (f *fixture) countCompares() *atomic.Int64 {
	var n atomic.Int64
	f.svc.compareHash = func(hash, password []byte) error {
		n.Add(1)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	return &n
}

func TestAuthenticate_UnknownEmailStillPaysForABcryptComparison(t *testing.T) {
	// Counted, not timed: an unknown email must cost one bcrypt comparison
	// at the cost of real hashes, as a known one does.
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 1} {
		f := newFixture(t, func(o *Options) { o.PasswordCost = cost })
		known := f.createUser(f.acme, "ann@example.com", "correct horse")
		var costs []int
		f.svc.compareHash = func(hash, password []byte) error {
			c, err := bcrypt.Cost(hash)
			if err != nil {
				t.Errorf("compared against something that is not a bcrypt hash: %v", err)
			}
			costs = append(costs, c)
			return bcrypt.CompareHashAndPassword(hash, password)
		}
		for _, tt := range []struct {
			email  string
			wantID string
		}{{"nobody@example.com", ""}, {"ann@example.com", known.ID}} {
			costs = nil
			u, ok, err := f.svc.check(context.Background(), f.acme, tt.email, "whatever1")
			if err != nil || ok || (u == nil) != (tt.wantID == "") || (u != nil && u.ID != tt.wantID) {
				t.Fatalf("check(%s, wrong password) = %v, %v, %v", tt.email, u, ok, err)
			}
			if len(costs) != 1 || costs[0] != cost {
				t.Errorf("cost %d: check(%s) made bcrypt comparisons at costs %v, want exactly one at %d", cost, tt.email, costs, cost)
			}
		}
	}
}

func TestCreateUser_ValidatesEmailAndPassword(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		email, password string
		wantErr         error
		wantEmail       string
	}{
		{" Ann@Example.COM\t", "12345678", nil, "ann@example.com"},
		{"ümlaut@example.com", "ääääääää", nil, "ümlaut@example.com"}, // 8 characters, 16 bytes
		{"c@example.com", strings.Repeat("x", 72), nil, "c@example.com"},
		{"d@example.com", strings.Repeat("x", 73), ErrPasswordTooLong, ""},
		{"e@example.com", strings.Repeat("é", 37), ErrPasswordTooLong, ""}, // 37 characters, 74 bytes
		{"f@example.com", "1234567", ErrPasswordTooShort, ""},
		{"Ann <ann2@example.com>", "12345678", ErrInvalidEmail, ""},
		{"<ann3@example.com>", "12345678", ErrInvalidEmail, ""},
		{"not-an-email", "12345678", ErrInvalidEmail, ""},
		{"", "12345678", ErrInvalidEmail, ""},
		{"a@b@example.com", "12345678", ErrInvalidEmail, ""},
	}
	for _, tt := range tests {
		u, err := f.svc.CreateUser(context.Background(), f.acme, tt.email, tt.password)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("CreateUser(%q, %d bytes) err = %v, want %v", tt.email, len(tt.password), err, tt.wantErr)
			}
			continue
		}
		if err != nil || u.Email != tt.wantEmail {
			t.Errorf("CreateUser(%q) = %v, %v; want email %q", tt.email, u, err, tt.wantEmail)
		}
	}
}

func TestCreateUser_DefaultPasswordCostIsBcryptDefault(t *testing.T) {
	f := newFixture(t)
	svc := New(Options{Store: f.store})
	u, err := svc.CreateUser(context.Background(), f.acme, "dee@example.com", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || cost != bcrypt.DefaultCost {
		t.Errorf("bcrypt cost = %d, %v; want the default %d", cost, err, bcrypt.DefaultCost)
	}
}

func TestSignIn_ConcurrentGuessesCannotExceedTheAccountBudget(t *testing.T) {
	f := newFixture(t)
	f.createUser(f.acme, "ann@example.com", "correct horse")
	compares := f.countCompares()
	// Each guess costs a bcrypt comparison, so without a reservation all of
	// them would pass the "is it blocked?" check before the first failure
	// is counted. They come from many addresses: only the account budget
	// stands in their way.
	n := 3 * AccountFailures
	var ready sync.WaitGroup
	ready.Add(n)
	start := make(chan struct{})
	var bad, throttled atomic.Int64
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			ready.Done()
			<-start
			_, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "ann@example.com",
				Password: "guess " + string(rune('a'+i)), Address: "192.0.2." + string(rune('1'+i%9))})
			var te *ThrottledError
			switch {
			case errors.Is(err, ErrBadCredentials):
				bad.Add(1)
			case errors.As(err, &te):
				throttled.Add(1)
			default:
				return err
			}
			return nil
		})
	}
	ready.Wait()
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if bad.Load() > AccountFailures || bad.Load()+throttled.Load() != int64(n) || compares.Load() != bad.Load() {
		t.Fatalf("%d concurrent guesses: %d checked, %d throttled, %d bcrypt comparisons; want at most %d checked, the rest throttled",
			n, bad.Load(), throttled.Load(), compares.Load(), AccountFailures)
	}
	_, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "ann@example.com", Password: "correct horse", Address: "198.51.100.1"})
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("the right password after the budget is spent: %v, want a ThrottledError with a wait", err)
	}
}

func TestSignIn_HiddenCharacterRefusedBeforeAnyThrottleOrLookup(t *testing.T) {
	f := newFixture(t)
	compares := f.countCompares()
	for range 2 * AddressAttempts {
		_, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "ann\u202e@example.com", Password: "x", Address: "192.0.2.1"})
		if !errors.Is(err, ErrEmailCharacter) {
			t.Fatalf("err = %v, want ErrEmailCharacter", err)
		}
	}
	if compares.Load() != 0 {
		t.Errorf("%d bcrypt comparisons for addresses no account can have", compares.Load())
	}
	f.createUser(f.acme, "ann@example.com", "correct horse")
	if _, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "ann@example.com", Password: "correct horse", Address: "192.0.2.1"}); err != nil {
		t.Fatalf("the address's budget was spent by refused addresses: %v", err)
	}
}

func TestSignIn_UnparsableAddressIsThrottledAndRefusedLikeAWrongEmail(t *testing.T) {
	f := newFixture(t)
	compares := f.countCompares()
	for range AccountFailures {
		if _, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "nobody", Password: "x", Address: "192.0.2.1"}); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("err = %v, want ErrBadCredentials", err)
		}
	}
	var te *ThrottledError
	if _, err := f.svc.SignIn(context.Background(), f.acme, Attempt{Email: "nobody", Password: "x", Address: "192.0.2.1"}); !errors.As(err, &te) {
		t.Fatalf("err = %v, want the account budget spent", err)
	}
	if compares.Load() != AccountFailures {
		t.Errorf("%d bcrypt comparisons, want %d: one per attempt that was not throttled", compares.Load(), AccountFailures)
	}
}

func TestAuthenticate_NotThrottledAndNeverSaysWhichPartIsWrong(t *testing.T) {
	f := newFixture(t)
	ann := f.createUser(f.acme, "ann@example.com", "correct horse")
	for range 3 * AccountFailures {
		if _, err := f.svc.Authenticate(context.Background(), f.acme, "ann@example.com", "wrong"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v, want ErrBadCredentials", err)
		}
	}
	if _, err := f.svc.Authenticate(context.Background(), f.acme, "bob@example.com", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown email: %v, want ErrBadCredentials", err)
	}
	if _, err := f.svc.Authenticate(context.Background(), f.other, "ann@example.com", "correct horse"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("another tenant's account: %v, want ErrBadCredentials", err)
	}
	u, err := f.svc.Authenticate(context.Background(), f.acme, " ANN@example.com", "correct horse")
	if err != nil || u.ID != ann.ID {
		t.Fatalf("right password, another spelling: %v, %v", u, err)
	}
}

func TestSignUp_EveryAttemptCountsAgainstTheAddressAndClosedServersRefuse(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.SignUp(context.Background(), f.closed, NewAccount{Email: "a@example.com", Password: "correct horse", Confirm: "correct horse", Address: "192.0.2.1"}); !errors.Is(err, ErrSignUpClosed) {
		t.Fatalf("sign-up on a closed server: %v, want ErrSignUpClosed", err)
	}
	for i := range AddressAttempts {
		_, err := f.svc.SignUp(context.Background(), f.acme, NewAccount{Email: "a@example.com", Password: "one password", Confirm: "another", Address: "192.0.2.1"})
		if !errors.Is(err, ErrPasswordsDiffer) {
			t.Fatalf("attempt %d: %v, want ErrPasswordsDiffer", i+1, err)
		}
	}
	var te *ThrottledError
	_, err := f.svc.SignUp(context.Background(), f.acme, NewAccount{Email: "a@example.com", Password: "correct horse", Confirm: "correct horse", Address: "192.0.2.1"})
	if !errors.As(err, &te) {
		t.Fatalf("sign-up past the address budget: %v, want a ThrottledError", err)
	}
	if _, err := f.svc.SignUp(context.Background(), f.acme, NewAccount{Email: "a@example.com", Password: "correct horse", Confirm: "correct horse", Address: "192.0.2.2"}); err != nil {
		t.Fatalf("another address: %v", err)
	}
	f.clock.Advance(AddressWindow)
	_, err = f.svc.SignUp(context.Background(), f.acme, NewAccount{Email: "A@example.com", Password: "correct horse", Confirm: "correct horse", Address: "192.0.2.1"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a taken email: %v, want store.ErrConflict", err)
	}
}

func TestSessions_BelongToOneTenantExpireAndReplaceThePresentedOnes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ann := f.createUser(f.acme, "ann@example.com", "correct horse")
	first, err := f.svc.StartSession(ctx, f.acme, ann, nil)
	if err != nil || !strings.HasPrefix(first, "mcpobs_ss_") {
		t.Fatalf("StartSession = %q, %v", first, err)
	}
	if u, err := f.svc.SessionUser(ctx, f.acme, []string{"forged", first}); err != nil || u == nil || u.ID != ann.ID {
		t.Fatalf("SessionUser = %v, %v; want ann", u, err)
	}
	if u, err := f.svc.SessionUser(ctx, f.other, []string{first}); err != nil || u != nil {
		t.Fatalf("acme's session at other = %v, %v; want nobody", u, err)
	}
	second, err := f.svc.StartSession(ctx, f.acme, ann, []string{first})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.SessionUser(ctx, f.acme, []string{first}); u != nil {
		t.Errorf("the session presented at sign-in still works after it")
	}
	f.clock.Advance(f.svc.SessionTTL())
	if u, err := f.svc.SessionUser(ctx, f.acme, []string{second}); err != nil || u != nil {
		t.Errorf("expired session = %v, %v; want nobody", u, err)
	}
	third, _ := f.svc.StartSession(ctx, f.acme, ann, nil)
	if err := f.svc.EndSessions(ctx, f.acme, []string{third}); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.SessionUser(ctx, f.acme, []string{third}); u != nil {
		t.Errorf("an ended session still works")
	}
}
