package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// rollupCache keeps, between write transactions, the rollup rows the writer
// wrote last (those of the current minutes and hours), so that the next
// batch, which touches mostly the same rows, merges into them without
// reading them back: on SQLite that read was a fifth of a 512-span batch.
//
// It is exact only while this store is the database's one writer, which
// [Dialect.SerialWrites] and [Dialect.DataVersion] make checkable: each write
// transaction first asks for the data version, and if another connection
// (another process) committed since, the cache is dropped. A write
// transaction holds mu from before it begins until the cache holds what it
// committed, so no other transaction of this store sees the cache between
// its commit and the update; a failed transaction drops the cache, as does
// a purge.
type rollupCache struct {
	mu      sync.Mutex
	valid   bool
	version int64
	rows    [numRollupTables]map[rollupKey]*rollupRow
	size    int
}

// maxCachedRollups bounds the rows kept: beyond it the cache starts over.
const maxCachedRollups = 100_000

// Cached rows older than these, behind the newest bucket a batch wrote, are
// dropped: late spans are rare, and read their rows from the database.
const (
	keepMinutes = 5 * minuteNs
	keepHours   = 2 * hourNs
)

func newRollupCache() *rollupCache {
	c := &rollupCache{}
	c.reset()
	return c
}

// reset empties the cache.
func (c *rollupCache) reset() {
	for i := range c.rows {
		c.rows[i] = map[rollupKey]*rollupRow{}
	}
	c.valid, c.size = false, 0
}

// check drops the cache if another connection wrote since it was filled.
func (c *rollupCache) check(ctx context.Context, tx *sql.Tx, query string) error {
	var v int64
	if err := tx.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return fmt.Errorf("data version: %w", err)
	}
	if !c.valid || v != c.version {
		c.reset()
		c.valid, c.version = true, v
	}
	return nil
}

// stored returns the row of table ti the cache holds for k, if any.
func (c *rollupCache) stored(ti int, k rollupKey) *rollupRow {
	return c.rows[ti][k]
}

// keep replaces the cached rows by those a committed transaction wrote (d,
// whose rows now hold their new figures), dropping rows of old buckets.
func (c *rollupCache) keep(d *rollupDeltas) {
	var newestMinute, newestHour int64
	for k := range d[tableTotals] {
		if k.width == minuteNs {
			newestMinute = max(newestMinute, k.bucket)
		} else {
			newestHour = max(newestHour, k.bucket)
		}
	}
	for ti := range c.rows {
		for k, r := range d[ti] {
			if _, ok := c.rows[ti][k]; !ok {
				c.size++
			}
			c.rows[ti][k] = r
		}
		for k := range c.rows[ti] {
			if (k.width == minuteNs && k.bucket < newestMinute-keepMinutes) || (k.width == hourNs && k.bucket < newestHour-keepHours) {
				delete(c.rows[ti], k)
				c.size--
			}
		}
	}
	if c.size > maxCachedRollups {
		version := c.version
		c.reset()
		c.valid, c.version = true, version
	}
}
