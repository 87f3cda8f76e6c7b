// Package store defines the persistence contract of the mcp-obs platform.
//
// The authorization server, the end-user pages and the admin commands speak to
// storage only through [Store]. Implementations (SQLite in package
// store/sqlite, PostgreSQL later) must pass the shared conformance suite in
// package store/storetest, so either drops in without touching callers.
//
// Secrets never reach the store in clear text: tokens, codes, session ids and
// client secrets arrive already hashed (see package secret), and passwords as
// bcrypt hashes. Every time value is UTC with at least millisecond precision.
package store

import (
	"context"
	"errors"
	"time"
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
	Hash      string // SHA-256 of the token; also its jti
	Kind      TokenKind
	ServerID  string
	ClientID  string
	UserID    string
	Scopes    []string
	Resource  string
	FamilyID  string
	CodeHash  string // the authorization code the family started from
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while not revoked
	RotatedAt time.Time // refresh tokens: when first exchanged; zero before
}

// Revocation is one entry of a server's revocation feed.
type Revocation struct {
	Seq       int64 // increasing per store; resume cursor
	ServerID  string
	TokenHash string
	RevokedAt time.Time
}

// Store is everything the platform persists. Methods are safe for concurrent
// use. Unless stated otherwise, a missing row yields an error wrapping ErrNotFound.
type Store interface {
	// Ping reports whether the database is reachable.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// CreateServer adds a server; a duplicate slug wraps ErrConflict.
	CreateServer(ctx context.Context, s *Server) error
	// ServerBySlug returns the server with the slug.
	ServerBySlug(ctx context.Context, slug string) (*Server, error)
	// ListServers returns all servers ordered by slug.
	ListServers(ctx context.Context) ([]*Server, error)
	// UpdateServer replaces the mutable fields of the server with s.ID
	// (everything but ID, Slug and CreatedAt).
	UpdateServer(ctx context.Context, s *Server) error

	// CreateClient adds a client; a duplicate (ServerID, ClientID) wraps ErrConflict.
	CreateClient(ctx context.Context, c *Client) error
	// PutClient inserts or replaces a client (used to cache CIMD documents).
	PutClient(ctx context.Context, c *Client) error
	// Client returns a server's client.
	Client(ctx context.Context, serverID, clientID string) (*Client, error)
	// DeleteClient removes a client and revokes nothing else (callers revoke first).
	DeleteClient(ctx context.Context, serverID, clientID string) error
	// TouchClient records that the client completed an authorization at time at.
	TouchClient(ctx context.Context, serverID, clientID string, at time.Time) error
	// DeleteUnusedClients removes clients (registered or cached from a metadata
	// document) never used and issued before the cutoff, and returns how many
	// it removed. A removed metadata-document client is simply fetched again.
	DeleteUnusedClients(ctx context.Context, issuedBefore time.Time) (int, error)

	// CreateUser adds an end user; a duplicate (ServerID, Email) wraps ErrConflict.
	CreateUser(ctx context.Context, u *User) error
	// User returns a server's user by id.
	User(ctx context.Context, serverID, userID string) (*User, error)
	// UserByEmail returns a server's user by email (already lower-cased).
	UserByEmail(ctx context.Context, serverID, email string) (*User, error)
	// UpdateUserPassword replaces a user's password hash.
	UpdateUserPassword(ctx context.Context, serverID, userID, passwordHash string) error

	// CreateSession stores a browser session.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a session by the hash of its cookie value, expired or not.
	Session(ctx context.Context, idHash string) (*Session, error)
	// DeleteSession removes a session; deleting a missing session is not an error.
	DeleteSession(ctx context.Context, idHash string) error

	// SaveConsent records that the user granted the client these scopes,
	// merged with what was granted before.
	SaveConsent(ctx context.Context, serverID, userID, clientID string, scopes []string) error
	// Consent returns the scopes the user has granted the client (ErrNotFound if none).
	Consent(ctx context.Context, serverID, userID, clientID string) ([]string, error)

	// CreateAuthCode stores an authorization code.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode atomically marks the code used at now and returns it. Of
	// any number of concurrent calls for one code exactly one succeeds; the others,
	// and every later call, get the code together with an error wrapping ErrCodeUsed.
	// Expiry is the caller's to check.
	RedeemAuthCode(ctx context.Context, hash string, now time.Time) (*AuthCode, error)

	// IssueTokens stores tokens in one transaction.
	IssueTokens(ctx context.Context, tokens ...*Token) error
	// Token returns a token by hash, revoked or expired or not.
	Token(ctx context.Context, hash string) (*Token, error)
	// UseRefreshToken atomically sets RotatedAt to now if it is zero, and returns
	// the token as it was before the call (so a zero RotatedAt means first use).
	UseRefreshToken(ctx context.Context, hash string, now time.Time) (*Token, error)
	// RevokeToken revokes one token and appends it to the revocation feed.
	// It returns the hashes it newly revoked (none if it was already revoked).
	RevokeToken(ctx context.Context, hash string, now time.Time) ([]string, error)
	// RevokeFamily revokes every live token of a family and appends them to the
	// revocation feed, returning the hashes it newly revoked.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) ([]string, error)
	// RevokeByCode revokes every live token issued from the authorization code
	// (whole families) and returns the hashes it newly revoked.
	RevokeByCode(ctx context.Context, codeHash string, now time.Time) ([]string, error)
	// RevokeClientTokens revokes every live token of a client, as when it is deleted.
	RevokeClientTokens(ctx context.Context, serverID, clientID string, now time.Time) ([]string, error)

	// Revocations returns a server's feed entries with Seq > after, oldest first, at most limit.
	Revocations(ctx context.Context, serverID string, after int64, limit int) ([]Revocation, error)
	// LatestRevocationSeq returns the highest Seq of the server's feed, 0 if empty.
	LatestRevocationSeq(ctx context.Context, serverID string) (int64, error)

	// PurgeExpired deletes codes, sessions and tokens that expired before cutoff,
	// and feed entries older than cutoff. It returns how many rows it removed.
	PurgeExpired(ctx context.Context, cutoff time.Time) (int, error)
}
