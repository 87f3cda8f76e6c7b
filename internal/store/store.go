// Package store defines the persistence contract of the mcp-obs platform.
//
// The authorization server, the end-user pages and the admin commands speak to
// storage only through the role interfaces composed into [Store] ([Servers],
// [Clients], [Users], [Sessions], [Grants], [Revocations], [IngestKeys]), each
// taking only the roles it uses. Per-call telemetry has a role of its own,
// [Telemetry], kept apart from Store: on SQLite it lives in a database file of
// its own. Package store/sqlstore implements them once, in SQL;
// packages store/sqlite (embedded, the default) and store/postgres (several
// replicas on one database) configure it for their database. Every
// implementation must pass the shared conformance suite in package
// store/storetest, so either drops in without touching callers.
//
// Secrets never reach the store in clear text: tokens, codes, session ids and
// client secrets arrive already hashed (see package secret), and passwords as
// bcrypt hashes. Every time value is UTC with at least millisecond precision.
//
// Every lookup of a code, token, client, user or session is scoped by the
// tenant: it takes the server id, and a row of another server is, to that
// lookup, exactly an unknown row (ErrNotFound, nothing changed). A code or
// token leaked from one tenant is therefore worth nothing at another, and
// cannot be used there to burn or revoke anything.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/telemetry"
)

// Errors a caller can test with errors.Is. Implementations wrap them with context.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a row with the same unique key already exists
	// (a duplicate slug, a duplicate email within a server, a duplicate client id).
	ErrConflict = errors.New("already exists")
	// ErrCodeUsed is returned by RedeemAuthCode when the code was redeemed before.
	// The returned *AuthCode is still filled in so the caller can revoke what the
	// first redemption issued.
	ErrCodeUsed = errors.New("authorization code already used")
	// ErrCodeRevoked is returned by IssueCodeTokens when a replay of the code
	// (RevokeByCode) came first: no token may be issued from it any more.
	ErrCodeRevoked = errors.New("authorization code revoked")
)

// Server is one tenant: one MCP server protected by the platform, addressed by its slug.
type Server struct {
	ID            string   // internal identifier, random
	Slug          string   // DNS label, unique; the tenant's path segment /t/{slug}
	Name          string   // human-readable name, shown on sign-in and consent pages
	ResourceURL   string   // canonical MCP endpoint; tokens are bound to it (RFC 8707)
	Scopes        []string // scopes the server supports, in order
	DefaultScopes []string // scopes granted when an authorization request names none
	AllowSignup   bool     // whether end users may create their own accounts

	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration

	// ClientID and ClientSecretHash are the resource-server credentials the MCP
	// server uses for introspection and the revocation feed.
	ClientID         string
	ClientSecretHash string

	CreatedAt time.Time
}

// Client is an OAuth client registered with one server, by DCR (RFC 7591) or
// resolved from a client ID metadata document (CIMD).
type Client struct {
	ServerID                string
	ClientID                string
	Name                    string
	RedirectURIs            []string
	GrantTypes              []string
	ResponseTypes           []string
	TokenEndpointAuthMethod string // "none", "client_secret_basic" or "client_secret_post"
	SecretHash              string // empty for public clients
	RegistrationTokenHash   string // RFC 7592 registration access token; empty for CIMD clients
	Scope                   string // space-delimited, as registered; may be empty
	ClientURI               string
	LogoURI                 string
	Source                  string    // "dcr" or "cimd"
	IssuedAt                time.Time // client_id_issued_at
	LastUsedAt              time.Time // zero until the client first completes an authorization
	CachedUntil             time.Time // CIMD only: refetch the document after this time
}

// Client sources.
const (
	SourceDCR  = "dcr"
	SourceCIMD = "cimd"
)

// User is an end-user account. Accounts belong to one server: the same email
// on two servers is two accounts.
type User struct {
	ID           string
	ServerID     string
	Email        string // normalized to lower case by the caller
	PasswordHash string // bcrypt
	CreatedAt    time.Time
}

// Session is a signed-in browser session of an end user on one server.
type Session struct {
	IDHash    string // SHA-256 of the cookie value
	ServerID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthCode is an authorization code, bound to everything the token request must repeat.
type AuthCode struct {
	Hash          string
	ServerID      string
	ClientID      string
	UserID        string
	RedirectURI   string
	CodeChallenge string // S256 challenge
	Resource      string
	Scopes        []string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time // zero until redeemed
	RevokedAt     time.Time // set by RevokeByCode (a replay): nothing may be issued from the code any more
}

// TokenKind tells access tokens from refresh tokens.
type TokenKind string

// Token kinds.
const (
	KindAccess  TokenKind = "access"
	KindRefresh TokenKind = "refresh"
)

// Token is an issued access or refresh token. All tokens issued from one
// authorization code, and from refreshes of its refresh tokens, share a FamilyID.
type Token struct {
	Hash     string // SHA-256 of the token; also its jti
	Kind     TokenKind
	ServerID string
	ClientID string
	UserID   string
	Scopes   []string
	Resource string
	FamilyID string
	CodeHash string // the authorization code the family started from
	// ParentHash is the refresh token this token was issued from by a
	// refresh; empty for tokens issued from the authorization code. It tells
	// RotateRefreshToken which tokens a retry replaces.
	ParentHash string
	IssuedAt   time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero while not revoked
	RotatedAt  time.Time // refresh tokens: when first exchanged; zero before
}

// RotationOutcome says what [Grants.RotateRefreshToken] did.
type RotationOutcome int

// Rotation outcomes. Only RotationFirstUse and RotationRetry store new tokens.
const (
	// RotationFirstUse: the refresh token was used for the first time; it is
	// now marked rotated and the new tokens are stored.
	RotationFirstUse RotationOutcome = iota + 1
	// RotationRetry: a repeat within the grace window while the token's
	// successor was unused (a client retrying a lost answer): the tokens the
	// earlier use issued are revoked and the new tokens stored instead, so
	// there is always exactly one live chain.
	RotationRetry
	// RotationReuse: a repeat after the grace window, or after the
	// successor was itself used: the token leaked, and its whole family is
	// revoked. Nothing is stored.
	RotationReuse
	// RotationRevoked: the token was already revoked. Nothing changed.
	RotationRevoked
)

// Rotation is what [Grants.RotateRefreshToken] did.
type Rotation struct {
	Outcome RotationOutcome
	// Token is the presented refresh token as it was before the call: its
	// RotatedAt is the first use (zero if this call was the first).
	Token *Token
	// Revoked are the hashes the call revoked and appended to the feed: the
	// earlier successors on RotationRetry, the family on RotationReuse.
	Revoked []string
}

// Revocation is one entry of a server's revocation feed.
type Revocation struct {
	Seq       int64 // increasing per store; resume cursor
	ServerID  string
	TokenHash string
	RevokedAt time.Time
}

// IngestKey is a per-tenant credential for sending telemetry (OTLP) to the
// platform, as an alternative to the server's resource-server credentials.
// The key's value carries its ID, so authentication looks it up by ID and
// compares the hash of the value; only the hash is stored.
type IngestKey struct {
	ID         string // public, unique; the lookup key carried in the value
	ServerID   string // the tenant the key sends for
	SecretHash string // SHA-256 of the whole key value (see package secret)
	Name       string // what the operator called it, for listing
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while the key is live
}

// Store is everything the platform persists: one value of each role, on
// one database. Platform services take only the roles they use (a handler
// that only redeems codes takes a [Grants]), so each names its dependencies
// and a new role (telemetry, operators, tickets) grows the store without
// touching them. Methods are safe for concurrent use. Unless stated
// otherwise, a missing row yields an error wrapping ErrNotFound.
type Store interface {
	Servers
	Clients
	Users
	Sessions
	Grants
	Revocations
	IngestKeys

	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
	// PurgeExpired deletes codes, sessions and tokens that expired before cutoff,
	// and feed entries older than cutoff. It returns how many rows it removed.
	PurgeExpired(ctx context.Context, cutoff time.Time) (int, error)
}

// Servers keeps the tenants: one row per MCP server the platform protects.
type Servers interface {
	// CreateServer adds a server; a duplicate slug wraps ErrConflict.
	CreateServer(ctx context.Context, s *Server) error
	// ServerBySlug returns the server with the slug.
	ServerBySlug(ctx context.Context, slug string) (*Server, error)
	// ServerByClientID returns the server whose resource-server client id
	// (Server.ClientID) is clientID: endpoints without a slug in their path
	// learn the tenant from the credentials. An empty clientID matches no
	// server, not even one without credentials.
	ServerByClientID(ctx context.Context, clientID string) (*Server, error)
	// ListServers returns all servers ordered by slug.
	ListServers(ctx context.Context) ([]*Server, error)
	// UpdateServer changes the server with the id atomically: in one write
	// transaction holding the row, it reads the server, lets change modify
	// it, and stores every mutable field (everything but ID, Slug and
	// CreatedAt) as change left them. Two updates at once (a name change and
	// a secret rotation, say) therefore never undo each other. If change
	// returns an error, nothing is stored and UpdateServer returns it. change
	// may run more than once (a transaction retried after a deadlock), each
	// time on a fresh copy: it must only modify the server it is given. It
	// returns the server as stored; an unknown id wraps ErrNotFound.
	UpdateServer(ctx context.Context, id string, change func(*Server) error) (*Server, error)
}

// Clients keeps each server's OAuth clients, registered (DCR) or cached
// from a metadata document (CIMD), through their whole life: registration,
// use, and removal together with the tokens they hold.
type Clients interface {
	// CreateClient adds a client; a duplicate (ServerID, ClientID) wraps ErrConflict.
	CreateClient(ctx context.Context, c *Client) error
	// PutClient inserts or replaces a client (used to cache CIMD documents).
	PutClient(ctx context.Context, c *Client) error
	// Client returns a server's client.
	Client(ctx context.Context, serverID, clientID string) (*Client, error)
	// DeleteClient removes a client and revokes nothing else (callers revoke
	// first, with RevokeClientTokens).
	DeleteClient(ctx context.Context, serverID, clientID string) error
	// TouchClient records that the client completed an authorization at time at.
	TouchClient(ctx context.Context, serverID, clientID string, at time.Time) error
	// DeleteUnusedClients removes clients (registered or cached from a metadata
	// document) never used and issued before the cutoff, and returns how many
	// it removed. A removed metadata-document client is simply fetched again.
	DeleteUnusedClients(ctx context.Context, issuedBefore time.Time) (int, error)
	// RevokeClientTokens revokes every live token of a client, as when it is
	// deleted, and appends them to the revocation feed, returning the hashes
	// it newly revoked.
	RevokeClientTokens(ctx context.Context, serverID, clientID string, now time.Time) ([]string, error)
}

// Users keeps the end-user accounts of each server.
type Users interface {
	// CreateUser adds an end user; a duplicate (ServerID, Email) wraps ErrConflict.
	CreateUser(ctx context.Context, u *User) error
	// User returns a server's user by id.
	User(ctx context.Context, serverID, userID string) (*User, error)
	// UserByEmail returns a server's user by email (already lower-cased).
	UserByEmail(ctx context.Context, serverID, email string) (*User, error)
	// UpdateUserPassword replaces a user's password hash.
	UpdateUserPassword(ctx context.Context, serverID, userID, passwordHash string) error
}

// Sessions keeps the signed-in browser sessions of end users.
type Sessions interface {
	// CreateSession stores a browser session.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a server's session by the hash of its cookie value, expired or not.
	Session(ctx context.Context, serverID, idHash string) (*Session, error)
	// DeleteSession removes a server's session; deleting a missing session is not an error.
	DeleteSession(ctx context.Context, serverID, idHash string) error
}

// Grants keeps what the authorization server grants: consents, authorization
// codes and the tokens issued from them, and their revocation (which feeds
// [Revocations]).
type Grants interface {
	// SaveConsent records that the user granted the client these scopes,
	// merged with what was granted before.
	SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error
	// Consent returns the scopes the user has granted the client (ErrNotFound if none).
	Consent(ctx context.Context, serverID, userID, clientID string) ([]string, error)

	// CreateAuthCode stores an authorization code.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode atomically marks a server's code used at now and returns
	// it. Of any number of concurrent calls for one code exactly one succeeds;
	// the others, and every later call, get the code together with an error
	// wrapping ErrCodeUsed. Expiry is the caller's to check.
	RedeemAuthCode(ctx context.Context, serverID, hash string, now time.Time) (*AuthCode, error)
	// IssueCodeTokens stores the tokens redeeming the server's code codeHash,
	// in one transaction that first makes sure no replay revoked the code
	// (ErrCodeRevoked) and holds the code against RevokeByCode until it
	// commits: whichever of the two comes first, no token issued from a
	// replayed code stays live.
	IssueCodeTokens(ctx context.Context, serverID, codeHash string, tokens ...*Token) error

	// IssueTokens stores tokens in one transaction, as given.
	IssueTokens(ctx context.Context, tokens ...*Token) error
	// Token returns a server's token by hash, revoked or expired or not.
	Token(ctx context.Context, serverID, hash string) (*Token, error)
	// RotateRefreshToken uses the server's refresh token hash for clientID
	// at now and, in one transaction (all or nothing: a failure leaves the
	// token as it was), stores next, the tokens the refresh issues, whose
	// ParentHash must be hash. The rule:
	//   - first use: the token is marked rotated and next stored;
	//   - a repeat within grace of the first use, by the same client, while
	//     no refresh token issued from hash has been used itself: the tokens
	//     issued from hash before are revoked (and fed) and next stored, so
	//     there is always exactly one live chain;
	//   - a repeat after grace, or after a successor was used: reuse, the
	//     whole family is revoked and nothing stored;
	//   - a revoked token: nothing changes.
	// An unknown token, another server's, another client's or an access
	// token wraps ErrNotFound. Expiry is the caller's to check. Concurrent
	// calls for one token are serialised.
	RotateRefreshToken(ctx context.Context, serverID, hash, clientID string, now time.Time, grace time.Duration, next ...*Token) (*Rotation, error)
	// RevokeToken revokes one of the server's tokens and appends it to the
	// revocation feed. It returns the hashes it newly revoked (none if it was
	// already revoked).
	RevokeToken(ctx context.Context, serverID, hash string, now time.Time) ([]string, error)
	// RevokeFamily revokes every live token of one of the server's families
	// and appends them to the revocation feed, returning the hashes it newly revoked.
	RevokeFamily(ctx context.Context, serverID, familyID string, now time.Time) ([]string, error)
	// RevokeByCode marks the server's code revoked (so IssueCodeTokens fails
	// from now on) and revokes every live token issued from it (whole
	// families), in one transaction, returning the hashes it newly revoked.
	RevokeByCode(ctx context.Context, serverID, codeHash string, now time.Time) ([]string, error)
}

// IngestKeys keeps the tenants' telemetry ingest keys. They are
// authorization data, so they live in the main database (with the same
// durability as tokens), never in a separate telemetry database.
type IngestKeys interface {
	// CreateIngestKey stores a key; a duplicate ID wraps ErrConflict and an
	// unknown server ErrNotFound.
	CreateIngestKey(ctx context.Context, k *IngestKey) error
	// LiveIngestKey returns the key with this ID if it is not revoked: a
	// revoked key is, to this lookup, exactly an unknown one (ErrNotFound),
	// so a caller authenticating with it cannot forget to check.
	LiveIngestKey(ctx context.Context, id string) (*IngestKey, error)
	// ListIngestKeys returns a server's keys, revoked ones included, oldest first.
	ListIngestKeys(ctx context.Context, serverID string) ([]*IngestKey, error)
	// RevokeIngestKey revokes one of the server's keys at now. Another
	// server's key, like an unknown one, wraps ErrNotFound and stays live;
	// revoking a revoked key changes nothing and is not an error.
	RevokeIngestKey(ctx context.Context, serverID, id string, now time.Time) error
}

// Telemetry keeps per-call telemetry: spans, with per-minute and per-hour
// rollups the queries read, and metric points. It lives beside the
// authorization data but is not part of [Store]: on SQLite it is a database
// file of its own (see package sqlite), so span batches never make sign-in
// or token issuance wait behind them; on PostgreSQL the same database.
//
// Every query is scoped by the tenant: a span of another server is, to
// every query, as if it did not exist, even with the same trace and span ids.
//
// A span is stored once per (server id, start, trace id, span id): a
// re-sent span is byte for byte the span sent before, start included, so
// re-sends are skipped exactly, while the index that finds them stays
// ordered by time (one led by the random trace id would cost a page write
// per span; see the telemetry schema). A sender that reuses a trace and
// span id with another start gets two spans.
//
// Time is always the span's Start, never the ingest time. Rollups answer
// whole minutes: a range [from, to) is widened to the minutes it touches,
// from down and to up to the minute (the query API's ranges are RFC 3339
// times; the widening is at most a minute at each end). Counted are calls
// only: spans for which [telemetry.Span.IsCall] holds; active users and
// per-user figures leave out calls without a user id, per-client figures
// calls without a client id.
type Telemetry interface {
	// WriteSpans stores spans in one transaction, all or nothing, and
	// returns how many it inserted. A span whose (server id, start, trace
	// id, span id) is already stored, or comes earlier in the same call, is
	// skipped and added to no rollup, so a re-sent batch counts nothing twice.
	// Every span must pass [telemetry.Span.Validate]; if one does not,
	// nothing is stored and the error wraps telemetry.ErrInvalidSpan.
	WriteSpans(ctx context.Context, spans []telemetry.Span) (inserted int, err error)
	// WriteMetricPoints stores metric points in one transaction, all or
	// nothing, skipping points already stored (same server, name,
	// attributes, start and time), and returns how many it inserted.
	WriteMetricPoints(ctx context.Context, points []telemetry.MetricPoint) (inserted int, err error)
	// MetricPoints returns a server's points of the named metric taken in
	// [from, to), oldest first.
	MetricPoints(ctx context.Context, serverID, name string, from, to time.Time) ([]telemetry.MetricPoint, error)

	// Summary adds up a server's calls over [from, to).
	Summary(ctx context.Context, serverID string, from, to time.Time) (telemetry.Summary, error)
	// Timeseries returns one point per step over [from, to), oldest first,
	// every step included (empty ones as zero figures). step must be a
	// whole number of minutes; steps start at multiples of step since the
	// Unix epoch (UTC), and the range is widened to whole steps. At most
	// MaxTimeseriesPoints points.
	Timeseries(ctx context.Context, serverID string, from, to time.Time, step time.Duration) ([]telemetry.TimeseriesPoint, error)
	// TopTools returns the tools with the most calls over [from, to), at
	// most limit (0: all), by calls then name. Calls that are not
	// tools/call (no tool name) are left out.
	TopTools(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error)
	// TopUsers is TopTools by user id.
	TopUsers(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error)
	// TopClients is TopTools by OAuth client id.
	TopClients(ctx context.Context, serverID string, from, to time.Time, limit int) ([]telemetry.TopRow, error)
	// Spans lists a server's spans (calls or not), newest first (by start,
	// then trace id and span id), one page at a time. A malformed cursor
	// wraps telemetry.ErrInvalidQuery.
	Spans(ctx context.Context, serverID string, f telemetry.SpanFilter) (telemetry.SpanPage, error)
	// Trace returns the spans of one of the server's traces that started in
	// [from, to), with their attributes, oldest first; none (and no error)
	// for an unknown trace. The range bounds the search: it reads the
	// server's spans of the range (the query API defaults to the last 24
	// hours; a console that comes from a span passes a few minutes around
	// it).
	Trace(ctx context.Context, serverID string, traceID [16]byte, from, to time.Time) ([]telemetry.Span, error)

	// PurgeTelemetry deletes spans and metric points older than before
	// (by start and point time), and rollups of minutes and hours that
	// ended by before (and the distinct-user rows of 5 minutes that ended
	// by it, or whose users' minutes are all gone), in chunks of bounded
	// size, each its own short transaction, so ingest never waits long
	// behind it. It returns how many rows it removed.
	PurgeTelemetry(ctx context.Context, before time.Time) (int, error)
}

// MaxTimeseriesPoints bounds the points one [Telemetry.Timeseries] returns.
const MaxTimeseriesPoints = 10000

// Revocations is the revocation feed: every token revoked, in order, for
// resource servers to follow and drop what they cached.
type Revocations interface {
	// Revocations returns a server's feed entries with Seq > after, oldest first, at most limit.
	Revocations(ctx context.Context, serverID string, after int64, limit int) ([]Revocation, error)
	// LatestRevocationSeq returns the highest Seq of the server's feed, 0 if empty.
	LatestRevocationSeq(ctx context.Context, serverID string) (int64, error)
}
