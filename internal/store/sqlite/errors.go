package sqlite

import (
	"errors"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// classify tells the store which constraint a driver error reports
// violated: UNIQUE and PRIMARY KEY violations are conflicts, FOREIGN KEY
// violations a reference to a server that does not exist.
func classify(err error) sqlstore.Violation {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return sqlstore.UniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.ForeignKeyViolation
		}
	}
	return sqlstore.NoViolation
}
