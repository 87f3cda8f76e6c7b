package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/mcp-obs/mcp-obs/internal/store"
)

// wrap gives a driver error the operation's context and, where the store
// contract names one, the sentinel a caller tests with errors.Is: missing
// rows become store.ErrNotFound, UNIQUE and PRIMARY KEY violations
// store.ErrConflict, and a reference to a server that does not exist
// store.ErrNotFound. The driver error stays in the chain.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return s.fail(op, store.ErrNotFound)
	}
	switch s.d.classify(err) {
	case UniqueViolation:
		return fmt.Errorf("%s: %s: %w (%w)", s.d.Name, op, store.ErrConflict, err)
	case ForeignKeyViolation:
		return fmt.Errorf("%s: %s: referenced server %w (%w)", s.d.Name, op, store.ErrNotFound, err)
	}
	return s.fail(op, err)
}

// fail is the error for an operation that failed with err, which is one of
// the store's sentinels or needs no mapping.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// affected turns an UPDATE or DELETE result that touched no row into ErrNotFound.
func (s *Store) affected(op string, res sql.Result, err error) error {
	if err != nil {
		return s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return s.fail(op, store.ErrNotFound)
	}
	return nil
}
