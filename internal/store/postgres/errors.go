package postgres

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// PostgreSQL error codes the store contract gives a meaning
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// wrap gives a driver error the operation's context and, where the store
// contract names one, the sentinel a caller tests with errors.Is: missing
// rows become store.ErrNotFound, unique and primary-key violations
// store.ErrConflict, and a reference to a server that does not exist
// store.ErrNotFound. The driver error stays in the chain.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return fmt.Errorf("postgres: %s: %w (%w)", op, store.ErrConflict, err)
		case codeForeignKeyViolation:
			return fmt.Errorf("postgres: %s: referenced server %w (%w)", op, store.ErrNotFound, err)
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// retryable reports whether PostgreSQL aborted the transaction to break a
// deadlock or a serialization conflict: running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlockDetected || pe.Code == codeSerializationFailure)
}

// notFound is the error for an operation that matched no row.
func notFound(op string) error {
	return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
}

// affected turns an UPDATE or DELETE that touched no row into ErrNotFound.
func affected(op string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
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
