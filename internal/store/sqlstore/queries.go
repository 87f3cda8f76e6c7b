package sqlstore

import "strings"

// The columns of each table, in the order the scan functions read them.
const (
	serverColumns = `id, slug, name, resource_url, scopes, default_scopes, allow_signup,
	access_token_ttl_ms, refresh_token_ttl_ms, client_id, client_secret_hash, created_at`
	clientColumns = `server_id, client_id, name, redirect_uris, grant_types, response_types,
	token_endpoint_auth_method, secret_hash, registration_token_hash, scope, client_uri, logo_uri,
	source, issued_at, last_used_at, cached_until`
	userColumns    = `id, server_id, email, password_hash, created_at`
	sessionColumns = `id_hash, server_id, user_id, created_at, expires_at`
	codeColumns    = `hash, server_id, client_id, user_id, redirect_uri, code_challenge, resource, scopes,
	created_at, expires_at, used_at, revoked_at`
	tokenColumns = `hash, kind, server_id, client_id, user_id, scopes, resource, family_id, code_hash, parent_hash,
	issued_at, expires_at, revoked_at, rotated_at`
)

// Multi-row INSERTs are built for up to this many rows; more are sent in
// several statements. Tokens come one or two at a time (an access and a
// refresh token); a revocation may take a whole family or client at once.
const (
	maxTokenRows = 8
	maxFeedRows  = 64
)

// lookup names one of the hot lookups: the reads every introspection (server
// by slug, token, user) and every authorization (client) makes, each one
// probe of a unique index.
type lookup int

const (
	lookupServerBySlug lookup = iota
	lookupToken
	lookupUser
	lookupClient
	lookupIngestKey
	numLookups
)

// revocationSet names a set of tokens a revocation takes, each scoped by the
// server id (the first argument) and served by an index of the tokens table.
type revocationSet int

const (
	byHash   revocationSet = iota // server id, token hash
	byFamily                      // server id, family id
	byParent                      // server id, parent (refresh token) hash
	byCode                        // server id, code hash, server id, code hash
	byClient                      // server id, client id
	numRevocationSets
)

// whereRevoked are the conditions of the revocation sets, by revocationSet.
// byCode takes whole families: refreshes of a code's refresh token do not
// carry the code hash, but stay in its family.
var whereRevoked = [numRevocationSets]string{
	byHash:   `server_id = ? AND hash = ?`,
	byFamily: `server_id = ? AND family_id = ?`,
	byParent: `server_id = ? AND parent_hash = ?`,
	byCode:   `server_id = ? AND (code_hash = ? OR family_id IN (SELECT family_id FROM tokens WHERE server_id = ? AND code_hash = ?))`,
	byClient: `server_id = ? AND client_id = ?`,
}

// queries are the statements of the store, written once with ?
// placeholders and rebound for the dialect when the store is built, so no
// call pays for rewriting SQL.
type queries struct {
	lookups [numLookups]string

	createServer, serverByClientID, serverForUpdate, listServers, updateServer string

	createClient, putClient, deleteClient, touchClient, deleteUnusedClients string

	createUser, userByEmail, updateUserPassword string

	createSession, session, deleteSession string

	ensureConsent, consentForUpdate, updateConsent, consent string

	createCode, redeemCode, code, codeRevokedForUpdate, markCodeRevoked string

	insertTokens                                          [maxTokenRows + 1]string // by number of rows
	firstUse, tokenForUpdate, usedSuccessors, markRotated string
	revoke                                                [numRevocationSets]string
	tokenExists                                           string                  // byHash, revoked or not
	lockFeed                                              string                  // empty if the dialect needs none
	appendFeed                                            [maxFeedRows + 1]string // by number of rows
	revocations, latestRevocationSeq                      string
	purge                                                 []string

	createIngestKey, listIngestKeys, revokeIngestKey string
}

func newQueries(d Dialect) *queries {
	r := d.rebind
	q := &queries{
		lookups: [numLookups]string{
			lookupServerBySlug: r(`SELECT ` + serverColumns + ` FROM servers WHERE slug = ?`),
			lookupToken:        r(`SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ? AND server_id = ?`),
			lookupUser:         r(`SELECT ` + userColumns + ` FROM users WHERE server_id = ? AND id = ?`),
			lookupClient:       r(`SELECT ` + clientColumns + ` FROM clients WHERE server_id = ? AND client_id = ?`),
			lookupIngestKey:    r(`SELECT ` + ingestKeyColumns + ` FROM ingest_keys WHERE id = ? AND revoked_at IS NULL`),
		},

		createServer:     r(`INSERT INTO servers (` + serverColumns + `) VALUES ` + placeholders(1, 12)),
		serverByClientID: r(`SELECT ` + serverColumns + ` FROM servers WHERE client_id = ?`),
		serverForUpdate:  r(`SELECT ` + serverColumns + ` FROM servers WHERE id = ?` + d.LockRows),
		listServers:      r(`SELECT ` + serverColumns + ` FROM servers ORDER BY slug`),
		updateServer: r(`UPDATE servers SET name = ?, resource_url = ?, scopes = ?, default_scopes = ?,
	allow_signup = ?, access_token_ttl_ms = ?, refresh_token_ttl_ms = ?, client_id = ?, client_secret_hash = ?
	WHERE id = ?`),

		createClient: r(`INSERT INTO clients (` + clientColumns + `) VALUES ` + placeholders(1, 16)),
		putClient: r(`INSERT INTO clients (` + clientColumns + `) VALUES ` + placeholders(1, 16) + `
	ON CONFLICT (server_id, client_id) DO UPDATE SET
		name = excluded.name, redirect_uris = excluded.redirect_uris, grant_types = excluded.grant_types,
		response_types = excluded.response_types, token_endpoint_auth_method = excluded.token_endpoint_auth_method,
		secret_hash = excluded.secret_hash, registration_token_hash = excluded.registration_token_hash,
		scope = excluded.scope, client_uri = excluded.client_uri, logo_uri = excluded.logo_uri,
		source = excluded.source, issued_at = excluded.issued_at, last_used_at = excluded.last_used_at,
		cached_until = excluded.cached_until`),
		deleteClient:        r(`DELETE FROM clients WHERE server_id = ? AND client_id = ?`),
		touchClient:         r(`UPDATE clients SET last_used_at = ? WHERE server_id = ? AND client_id = ?`),
		deleteUnusedClients: r(`DELETE FROM clients WHERE last_used_at IS NULL AND issued_at < ?`),

		createUser:         r(`INSERT INTO users (` + userColumns + `) VALUES ` + placeholders(1, 5)),
		userByEmail:        r(`SELECT ` + userColumns + ` FROM users WHERE server_id = ? AND email = ?`),
		updateUserPassword: r(`UPDATE users SET password_hash = ? WHERE server_id = ? AND id = ?`),

		createSession: r(`INSERT INTO sessions (` + sessionColumns + `) VALUES ` + placeholders(1, 5)),
		session:       r(`SELECT ` + sessionColumns + ` FROM sessions WHERE id_hash = ? AND server_id = ?`),
		deleteSession: r(`DELETE FROM sessions WHERE id_hash = ? AND server_id = ?`),

		ensureConsent: r(`INSERT INTO consents (server_id, user_id, client_id, scopes) VALUES (?, ?, ?, '[]')
	ON CONFLICT (server_id, user_id, client_id) DO NOTHING`),
		consentForUpdate: r(`SELECT scopes FROM consents WHERE server_id = ? AND user_id = ? AND client_id = ?` + d.LockRows),
		updateConsent:    r(`UPDATE consents SET scopes = ? WHERE server_id = ? AND user_id = ? AND client_id = ?`),
		consent:          r(`SELECT scopes FROM consents WHERE server_id = ? AND user_id = ? AND client_id = ?`),

		createCode: r(`INSERT INTO auth_codes (` + codeColumns + `) VALUES ` + placeholders(1, 12)),
		redeemCode: r(`UPDATE auth_codes SET used_at = ?
	WHERE hash = ? AND server_id = ? AND used_at IS NULL RETURNING ` + codeColumns),
		code:                 r(`SELECT ` + codeColumns + ` FROM auth_codes WHERE hash = ? AND server_id = ?`),
		codeRevokedForUpdate: r(`SELECT revoked_at FROM auth_codes WHERE hash = ? AND server_id = ?` + d.LockRows),
		markCodeRevoked:      r(`UPDATE auth_codes SET revoked_at = ? WHERE hash = ? AND server_id = ? AND revoked_at IS NULL`),

		firstUse: r(`UPDATE tokens SET rotated_at = ?
	WHERE hash = ? AND server_id = ? AND kind = 'refresh' AND client_id = ? AND revoked_at IS NULL AND rotated_at IS NULL
	RETURNING ` + tokenColumns),
		tokenForUpdate: r(`SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ? AND server_id = ?` + d.LockRows),
		usedSuccessors: r(`SELECT COUNT(*) FROM tokens
	WHERE parent_hash = ? AND server_id = ? AND kind = 'refresh' AND rotated_at IS NOT NULL`),
		markRotated: r(`UPDATE tokens SET rotated_at = ? WHERE hash = ?`),
		tokenExists: r(`SELECT 1 FROM tokens WHERE ` + whereRevoked[byHash] + ` LIMIT 1`),
		lockFeed:    d.LockFeed,
		revocations: r(`SELECT seq, server_id, token_hash, revoked_at FROM revocations
	WHERE server_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
		latestRevocationSeq: r(`SELECT COALESCE(MAX(seq), 0) FROM revocations WHERE server_id = ?`),

		createIngestKey: r(`INSERT INTO ingest_keys (` + ingestKeyColumns + `) VALUES ` + placeholders(1, 6)),
		listIngestKeys:  r(`SELECT ` + ingestKeyColumns + ` FROM ingest_keys WHERE server_id = ? ORDER BY created_at, id`),
		// COALESCE keeps the first revocation time, and still matches (and
		// so counts as found) a key revoked before.
		revokeIngestKey: r(`UPDATE ingest_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE server_id = ? AND id = ?`),
	}
	for n := 1; n <= maxTokenRows; n++ {
		q.insertTokens[n] = r(`INSERT INTO tokens (` + tokenColumns + `) VALUES ` + placeholders(n, 14))
	}
	for set, where := range whereRevoked {
		q.revoke[set] = r(`UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (` + where + `)
	RETURNING hash, server_id`)
	}
	for n := 1; n <= maxFeedRows; n++ {
		q.appendFeed[n] = r(`INSERT INTO revocations (server_id, token_hash, revoked_at) VALUES ` + placeholders(n, 3))
	}
	for _, p := range []string{
		`DELETE FROM auth_codes WHERE expires_at < ?`,
		`DELETE FROM sessions WHERE expires_at < ?`,
		`DELETE FROM tokens WHERE expires_at < ?`,
		`DELETE FROM revocations WHERE revoked_at < ?`,
	} {
		q.purge = append(q.purge, r(p))
	}
	return q
}

// placeholders returns the VALUES rows of a multi-row INSERT: rows groups
// of cols placeholders, "(?, ?), (?, ?)".
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}
