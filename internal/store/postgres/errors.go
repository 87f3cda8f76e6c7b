package postgres

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcp-obs/mcp-obs/internal/store/sqlstore"
)

// PostgreSQL error codes the store contract gives a meaning
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// classify tells the store which constraint a driver error reports
// violated: unique and primary-key violations are conflicts, foreign-key
// violations a reference to a server that does not exist.
func classify(err error) sqlstore.Violation {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return sqlstore.UniqueViolation
		case codeForeignKeyViolation:
			return sqlstore.ForeignKeyViolation
		}
	}
	return sqlstore.NoViolation
}

// retryable reports whether PostgreSQL aborted the transaction to break a
// deadlock or a serialization conflict: running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlockDetected || pe.Code == codeSerializationFailure)
}

// redactParseError replaces a connection-string parse error, whose text may
// quote the string and with it a password, by one that names only the cause.
func redactParseError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("malformed URL (not shown, it may hold a password): %w", ue.Err)
	}
	return errors.New("malformed connection string (not shown, it may hold a password)")
}
