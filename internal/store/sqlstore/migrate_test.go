package sqlstore

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// The core's queries serve both stores, so their schemas must stay in step:
// the same migrations, version for version, each store's in its own
// dialect.
func TestMigrations_BothStoresHaveTheSameVersionsInSequence(t *testing.T) {
	sameVersions(t, "migrations", "0001_init.sql")
	sameVersions(t, "telemetry_migrations", "0001_telemetry.sql")
}

func sameVersions(t *testing.T, sub, first string) {
	t.Helper()
	var names [2][]string
	for i, dir := range []string{"../sqlite/" + sub, "../postgres/" + sub} {
		ms, err := loadMigrations(os.DirFS(dir))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(ms) == 0 || ms[0].name != first {
			t.Fatalf("%s: migrations %v, want %s first", dir, ms, first)
		}
		for _, m := range ms {
			names[i] = append(names[i], m.name)
		}
	}
	if !slices.Equal(names[0], names[1]) {
		t.Errorf("SQLite migrations %v, PostgreSQL migrations %v: want the same versions", names[0], names[1])
	}
}

func TestLoadMigrations_RefusesGapsDuplicatesAndBadNames(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("CREATE TABLE t (x INTEGER);")}
	for _, c := range []struct {
		name  string
		files []string
		want  string
	}{
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "out of sequence"},
		{"duplicate version", []string{"0001_a.sql", "0001_b.sql"}, "out of sequence"},
		{"not from 1", []string{"0002_b.sql"}, "out of sequence"},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, "name must look like"},
		{"not SQL", []string{"0001_a.sql", "0002_b.txt"}, "name must look like"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range c.files {
				fsys[f] = file
			}
			_, err := loadMigrations(fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("loadMigrations(%v) = %v, want an error saying %q", c.files, err, c.want)
			}
		})
	}
}

// All pending migrations apply in one transaction: when one fails, the
// database keeps the schema it had, and opening again retries them all.
func TestMigrate_FailedMigrationLeavesTheSchemaAsItWas(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")}}
	if err := migrate(t.Context(), db, Dialect{}, good, mainMigrations); err != nil {
		t.Fatal(err)
	}
	broken := fstest.MapFS{
		"0001_a.sql": good["0001_a.sql"],
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER);")},
		"0003_c.sql": {Data: []byte("CREATE TABLE c (x NO SUCH SYNTAX(;")},
	}
	if err := migrate(t.Context(), db, Dialect{}, broken, mainMigrations); err == nil || !strings.Contains(err.Error(), "0003_c.sql") {
		t.Fatalf("migrate with a broken 0003 = %v, want an error naming it", err)
	}
	var version int
	if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != 1 {
		t.Errorf("schema version after the failure = %d, %v; want 1", version, err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table b of the failed batch exists (%d, %v), want it rolled back", n, err)
	}
}

func TestMigrate_RefusesADatabaseFromANewerSchema(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	two := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER);")},
	}
	if err := migrate(t.Context(), db, Dialect{}, two, mainMigrations); err != nil {
		t.Fatal(err)
	}
	one := fstest.MapFS{"0001_a.sql": two["0001_a.sql"]}
	err = migrate(t.Context(), db, Dialect{}, one, mainMigrations)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("migrate of a version 2 database with one migration = %v, want it refused as newer", err)
	}
}
