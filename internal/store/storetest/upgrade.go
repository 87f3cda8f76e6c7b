package storetest

import (
	"testing"
	"time"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// UpgradeFromV1 checks the rule that a database written before migration
// 0002_grant_lineage keeps working after the upgrade: its tokens have no
// parent, its codes no revoked mark, and its refresh tokens rotate.
//
// v1Schema is the backend's 0001_init migration; exec runs SQL on a bare
// database, and open then opens the store on it (which migrates it). The
// rows are written as version 1 had them, in SQL both databases accept.
func UpgradeFromV1(t *testing.T, v1Schema string, exec func(query string) error, open func() store.Store) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
		v1Schema,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0)`,
		`INSERT INTO servers VALUES ('s1', 'acme', 'Acme', 'http://localhost:3006/mcp', '[]', '[]', false, 0, 0, 'rs', 'h', 0)`,
		`INSERT INTO auth_codes VALUES ('code', 's1', 'c1', 'u1', 'http://127.0.0.1/cb', 'ch', 'r', '[]', 0, 4102444800000, NULL)`,
		`INSERT INTO tokens VALUES ('rt', 'refresh', 's1', 'c1', 'u1', '["read"]', 'r', 'f1', 'code', 0, 4102444800000, NULL, NULL)`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("version 1 database: %.60s: %v", q, err)
		}
	}

	s := open()
	ctx := t.Context()
	rt, err := s.Token(ctx, "s1", "rt")
	if err != nil || rt.ParentHash != "" {
		t.Fatalf("version 1 refresh token after the upgrade: %+v, %v", rt, err)
	}
	if c, err := s.RedeemAuthCode(ctx, "s1", "code", time.Now()); err != nil || !c.RevokedAt.IsZero() {
		t.Fatalf("version 1 code after the upgrade: %+v, %v", c, err)
	}
	next := &store.Token{Hash: "rt2", Kind: store.KindRefresh, ServerID: "s1", ClientID: "c1", FamilyID: "f1", ParentHash: "rt"}
	rot, err := s.RotateRefreshToken(ctx, "s1", "rt", "c1", time.Now(), time.Second, next)
	if err != nil || rot.Outcome != store.RotationFirstUse {
		t.Fatalf("rotating a version 1 refresh token: %+v, %v", rot, err)
	}
}
