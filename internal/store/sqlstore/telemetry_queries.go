package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// sizeClasses are the row counts of the multi-row statements the telemetry
// writer prepares: a batch of n rows is sent as full statements of the
// largest class, then the rest by the smaller ones, so a handful of
// prepared statements serve every batch size. The largest is 64 rows, a
// few tenths of a millisecond of work: the writer yields to foreground
// requests between statements (priority.Yield), and larger statements made
// ingest no faster. 64 rows of 17 columns stay far below both databases'
// limits on parameters per statement.
var sizeClasses = [...]int{64, 8, 1}

const numSizeClasses = len(sizeClasses)

// rollupTable describes one rollup table; they all share the shape
// (server_id, width_ns, bucket_ns, key columns…, figures…).
type rollupTable struct {
	name string
	keys []string // key columns after server_id, width_ns, bucket_ns
	// narrow is the key column that the writer's read of a bucket's
	// existing rows filters by, with the batch's values as a JSON list;
	// "" reads the bucket's one row.
	narrow string
	users  bool // the table counts distinct users (rollup_totals)
}

// The rollup tables, in the order the writer updates them: users first,
// because whether a user's row is new in a bucket decides the bucket's
// distinct-user count in rollup_totals.
const (
	tableUsers = iota
	tableClients
	tableOps
	tableTotals
	numRollupTables
)

// rollupTables is read-only after initialization.
var rollupTables = [numRollupTables]rollupTable{
	tableUsers:   {name: "rollup_users", keys: []string{"user_id"}, narrow: "user_id"},
	tableClients: {name: "rollup_clients", keys: []string{"client_id"}, narrow: "client_id"},
	tableOps:     {name: "rollup_ops", keys: []string{"method", "tool", "outcome"}, narrow: "tool"},
	tableTotals:  {name: "rollup_totals", users: true},
}

// figureColumns returns the figure columns of a rollup table, in the order
// the statements read and write them.
func (r *rollupTable) figureColumns() []string {
	if r.users {
		return []string{"calls", "errors", "duration_ns", "users", "histogram"}
	}
	return []string{"calls", "errors", "duration_ns", "histogram"}
}

func (r *rollupTable) columns() []string {
	return append(append([]string{"server_id", "width_ns", "bucket_ns"}, r.keys...), r.figureColumns()...)
}

// columnTypes are the SQL types of columns(), for array parameters.
func (r *rollupTable) columnTypes() []string {
	types := []string{"text", "bigint", "bigint"}
	for range r.keys {
		types = append(types, "text")
	}
	for range r.figureColumns()[1:] {
		types = append(types, "bigint")
	}
	return append(types, "bytea")
}

// spanColumns are the columns WriteSpans inserts, in order.
const spanColumns = `server_id, trace_id, span_id, parent_span_id, name, kind, start_ns, duration_ns, status, failed,
	method, tool, user_id, client_id, session_id, error_type, attributes`

const numSpanColumns = 17

// spanColumnTypes are the SQL types of spanColumns, for array parameters.
var spanColumnTypes = []string{"text", "bytea", "bytea", "bytea", "text", "bigint", "bigint", "bigint", "bigint", "boolean",
	"text", "text", "text", "text", "text", "text", "bytea"}

// activeUserColumnTypes are the SQL types of rollup_active_users' columns
// (server_id, bucket_ns, user_id), for array parameters.
var activeUserColumnTypes = []string{"text", "bigint", "text"}

// spanKeyColumns identify a span (spans_key).
const spanKeyColumns = `server_id, start_ns, trace_id, span_id`

// spanRowColumns are the columns a span list reads (all but the attributes).
const spanRowColumns = `trace_id, span_id, parent_span_id, name, kind, start_ns, duration_ns, status,
	method, tool, user_id, client_id, session_id, error_type`

// spanOrder is the order of span lists, the spans_key index read backwards.
const spanOrder = `start_ns DESC, trace_id DESC, span_id DESC`

// rollupStatements are the writer's statements on one rollup table.
type rollupStatements struct {
	existing statement                 // the rows of one bucket (narrowed by key, see rollupTable.narrow)
	upsert   [numSizeClasses]statement // store rows with their new figures, by size class
}

// telemetryQueries are the telemetry store's statements, written once with
// ? placeholders and rebound for the dialect.
type telemetryQueries struct {
	insertSpans [numSizeClasses]statement // RETURNING the keys it inserted unless Dialect.SerialWrites
	maxSpanID   statement                 // Dialect.SerialWrites: the id every row the transaction inserts is above
	spansAbove  statement                 // Dialect.SerialWrites: the keys of the rows above an id
	rollups     [numRollupTables]rollupStatements
	// rows of rollup_active_users, by size class; a row stored already is kept
	insertActiveUsers [numSizeClasses]statement
	lockTenant        string // empty if the dialect needs none

	// reads, by rollup table: the rows of one tier over a bucket range
	rangeRows [numRollupTables]string
	// top lists: the keys with the most calls over 1, 2 or 3 bucket ranges
	// (summed in the database), then the histograms of chosen keys over a range
	topKeys       [numRollupTables][4]string
	topKeysLimit  [numRollupTables][4]string
	keyHists      [numRollupTables]string
	distinctUsers [4]string // COUNT of distinct users over 1, 2 or 3 bucket ranges
	// distinct users per step of a time series, from rollup_users' rows
	// of one tier, or from rollup_active_users (5 minutes); per bucket of
	// rollup_active_users, a count of its rows (they are distinct already)
	usersPerStep, activeUsersPerStep, activeUsersPerBucket string

	trace string

	insertMetric, metricPoints string

	// retention: the next server holding rows in a table, and a bounded delete
	nextServer   map[string]string // by table
	purgeSpans   string
	purgeRollups [numRollupTables]string
	purgeActive  string
	// the users of one 5-minute bucket of rollup_active_users with no
	// minute row left in rollup_users (the purge removed the rest)
	purgeActiveStraddling string
	purgeMetrics          string
}

func newTelemetryQueries(d Dialect) *telemetryQueries {
	r := d.rebind
	q := &telemetryQueries{lockTenant: r(d.LockTenant), nextServer: map[string]string{}}
	for i, n := range sizeClasses {
		ins := `INSERT INTO spans (` + spanColumns + `) ` + rowsSource(d, n, spanColumnTypes) + `
	ON CONFLICT (server_id, start_ns, trace_id, span_id) DO NOTHING`
		if !d.SerialWrites {
			ins += ` RETURNING ` + spanKeyColumns
		}
		q.insertSpans[i].text = r(ins)
		if d.ArrayParams {
			break // one statement takes any number of rows
		}
	}
	q.maxSpanID.text = `SELECT COALESCE(MAX(id), 0) FROM spans`
	q.spansAbove.text = r(`SELECT ` + spanKeyColumns + ` FROM spans WHERE id > ?`)
	for ti := range rollupTables {
		t := &rollupTables[ti]
		cols := t.columns()
		pk := append([]string{"server_id", "width_ns", "bucket_ns"}, t.keys...)
		figures := t.figureColumns()
		sel := strings.Join(append(append([]string{}, t.keys...), figures...), ", ")
		existing := `SELECT ` + sel + ` FROM ` + t.name + ` WHERE server_id = ? AND width_ns = ? AND bucket_ns = ?`
		if t.narrow != "" {
			existing += ` AND ` + t.narrow + d.InJSONList
		}
		q.rollups[ti].existing.text = r(existing)
		sets := make([]string, len(figures))
		for i, f := range figures {
			sets[i] = f + ` = excluded.` + f
		}
		for i, n := range sizeClasses {
			q.rollups[ti].upsert[i].text = r(`INSERT INTO ` + t.name + ` (` + strings.Join(cols, ", ") + `) ` +
				rowsSource(d, n, t.columnTypes()) + ` ON CONFLICT (` + strings.Join(pk, ", ") + `) DO UPDATE SET ` + strings.Join(sets, ", "))
			if d.ArrayParams {
				break
			}
		}
		read := append([]string{"bucket_ns"}, t.keys...)
		read = append(read, "calls", "errors")
		if t.users {
			read = append(read, "users")
		}
		read = append(read, "histogram")
		q.rangeRows[ti] = r(`SELECT ` + strings.Join(read, ", ") + ` FROM ` + t.name + `
	WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ?`)
		if t.narrow != "" {
			part := `SELECT ` + t.narrow + ` AS k, calls, errors FROM ` + t.name + `
	WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ? AND ` + t.narrow + ` <> ''`
			for n := 1; n <= 3; n++ {
				agg := `SELECT k, SUM(calls), SUM(errors) FROM (` + strings.Repeat(part+` UNION ALL `, n-1) + part + `) AS r
	GROUP BY k ORDER BY SUM(calls) DESC, k` + d.ByteOrder
				q.topKeys[ti][n] = r(agg)
				q.topKeysLimit[ti][n] = r(agg + ` LIMIT ?`)
			}
			q.keyHists[ti] = r(`SELECT ` + t.narrow + `, histogram FROM ` + t.name + `
	WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ? AND ` + t.narrow + d.InJSONList)
		}
		q.purgeRollups[ti] = r(`DELETE FROM ` + t.name + ` WHERE (` + strings.Join(pk, ", ") + `) IN (
	SELECT ` + strings.Join(pk, ", ") + ` FROM ` + t.name + ` WHERE server_id = ? AND width_ns = ? AND bucket_ns < ? LIMIT ?)`)
		q.nextServer[t.name] = r(`SELECT server_id FROM ` + t.name + ` WHERE server_id > ? ORDER BY server_id LIMIT 1`)
	}
	const userRange = `SELECT user_id FROM rollup_users WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ?`
	for n := 1; n <= 3; n++ {
		q.distinctUsers[n] = r(`SELECT COUNT(DISTINCT user_id) FROM (` + strings.Repeat(userRange+` UNION ALL `, n-1) + userRange + `) AS u`)
	}
	// Each (step, user) pair once, then a count per step: both databases
	// do this in one pass of hashing, where COUNT(DISTINCT user_id) ... GROUP
	// BY step had PostgreSQL sort every row (spilling to disk).
	q.usersPerStep = r(`SELECT step, COUNT(*) FROM (SELECT DISTINCT (bucket_ns - ?) / ? AS step, user_id FROM rollup_users
	WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ?) AS u GROUP BY step`)
	q.activeUsersPerStep = r(`SELECT step, COUNT(*) FROM (SELECT DISTINCT (bucket_ns - ?) / ? AS step, user_id FROM rollup_active_users
	WHERE server_id = ? AND bucket_ns >= ? AND bucket_ns < ?) AS u GROUP BY step`)
	// In index order, so the count streams: no set of pairs to build.
	q.activeUsersPerBucket = r(`SELECT (bucket_ns - ?) / ? AS step, COUNT(*) FROM rollup_active_users
	WHERE server_id = ? AND bucket_ns >= ? AND bucket_ns < ? GROUP BY bucket_ns`)
	for i, n := range sizeClasses {
		q.insertActiveUsers[i].text = r(`INSERT INTO rollup_active_users (server_id, bucket_ns, user_id) ` +
			rowsSource(d, n, activeUserColumnTypes) + ` ON CONFLICT (server_id, bucket_ns, user_id) DO NOTHING`)
		if d.ArrayParams {
			break
		}
	}
	q.purgeActive = r(`DELETE FROM rollup_active_users WHERE (server_id, bucket_ns, user_id) IN (
	SELECT server_id, bucket_ns, user_id FROM rollup_active_users WHERE server_id = ? AND bucket_ns < ? LIMIT ?)`)
	q.purgeActiveStraddling = r(`DELETE FROM rollup_active_users WHERE (server_id, bucket_ns, user_id) IN (
	SELECT server_id, bucket_ns, user_id FROM rollup_active_users WHERE server_id = ? AND bucket_ns = ? AND user_id NOT IN (
		SELECT user_id FROM rollup_users WHERE server_id = ? AND width_ns = ? AND bucket_ns >= ? AND bucket_ns < ?) LIMIT ?)`)
	q.nextServer["rollup_active_users"] = r(`SELECT server_id FROM rollup_active_users WHERE server_id > ? ORDER BY server_id LIMIT 1`)
	q.trace = r(`SELECT ` + spanRowColumns + `, attributes FROM spans
	WHERE server_id = ? AND start_ns >= ? AND start_ns < ? AND trace_id = ? ORDER BY start_ns, span_id`)
	q.nextServer["spans"] = r(`SELECT server_id FROM spans WHERE server_id > ? ORDER BY server_id LIMIT 1`)
	q.nextServer["metric_points"] = r(`SELECT server_id FROM metric_points WHERE server_id > ? ORDER BY server_id LIMIT 1`)
	q.purgeSpans = r(`DELETE FROM spans WHERE id IN (
	SELECT id FROM spans WHERE server_id = ? AND start_ns < ? ORDER BY start_ns LIMIT ?)`)
	q.purgeMetrics = r(`DELETE FROM metric_points WHERE (server_id, series, start_ns, time_ns) IN (
	SELECT server_id, series, start_ns, time_ns FROM metric_points WHERE server_id = ? AND time_ns < ? ORDER BY time_ns LIMIT ?)`)
	q.insertMetric = r(`INSERT INTO metric_points (server_id, series, start_ns, time_ns, name, attributes, delta, count, sum, bounds, counts)
	VALUES ` + placeholders(1, 11) + ` ON CONFLICT (server_id, series, start_ns, time_ns) DO NOTHING`)
	q.metricPoints = r(`SELECT name, attributes, start_ns, time_ns, delta, count, sum, bounds, counts FROM metric_points
	WHERE server_id = ? AND time_ns >= ? AND time_ns < ? AND name = ? ORDER BY time_ns, series`)
	return q
}

// rowsSource is what a multi-row INSERT of n rows of columns of these SQL
// types takes its rows from: n rows of placeholders, or with
// [Dialect.ArrayParams] one array parameter per column, unnested.
func rowsSource(d Dialect, n int, types []string) string {
	if !d.ArrayParams {
		return `VALUES ` + placeholders(n, len(types))
	}
	arrays := make([]string, len(types))
	for i, t := range types {
		arrays[i] = `CAST(? AS ` + t + `[])`
	}
	return `SELECT * FROM unnest(` + strings.Join(arrays, ", ") + `)`
}

// writeStatements are every statement the writer runs through [txStmt].
func (q *telemetryQueries) writeStatements() []*statement {
	var out []*statement
	for i := range q.insertSpans {
		out = append(out, &q.insertSpans[i])
	}
	out = append(out, &q.maxSpanID, &q.spansAbove)
	for i := range q.insertActiveUsers {
		out = append(out, &q.insertActiveUsers[i])
	}
	for ti := range q.rollups {
		out = append(out, &q.rollups[ti].existing)
		for i := range q.rollups[ti].upsert {
			out = append(out, &q.rollups[ti].upsert[i])
		}
	}
	return out
}

// prepare prepares the write statements on db.
func (q *telemetryQueries) prepare(ctx context.Context, db *sql.DB) error {
	for _, s := range q.writeStatements() {
		if err := s.prepare(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// close releases the prepared statements.
func (q *telemetryQueries) close() error {
	var errs []error
	for _, s := range q.writeStatements() {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

// chunks calls fn for consecutive slices [off, off+size) of n rows, each
// to be written by the statement of size class class: all at once with
// [Dialect.ArrayParams], else by size class (see [bySizeClass]).
func (t *TelemetryStore) chunks(n int, fn func(off, size, class int) error) error {
	if !t.d.ArrayParams {
		return bySizeClass(n, fn)
	}
	if n == 0 {
		return nil
	}
	return fn(0, n, 0)
}

// rowArgs returns the parameters of a multi-row statement for rows given
// row after row in args (each of len(types) columns): args itself, or with
// [Dialect.ArrayParams] one typed slice per column.
func (t *TelemetryStore) rowArgs(args []any, types []string) []any {
	if !t.d.ArrayParams {
		return args
	}
	ncols := len(types)
	rows := len(args) / ncols
	out := make([]any, ncols)
	for j, typ := range types {
		switch typ {
		case "text":
			col := make([]string, rows)
			for i := range col {
				col[i] = args[i*ncols+j].(string)
			}
			out[j] = col
		case "bytea":
			col := make([][]byte, rows)
			for i := range col {
				if v := args[i*ncols+j]; v != nil {
					col[i] = v.([]byte)
				}
			}
			out[j] = col
		case "bigint":
			col := make([]int64, rows)
			for i := range col {
				col[i] = args[i*ncols+j].(int64)
			}
			out[j] = col
		case "boolean":
			col := make([]bool, rows)
			for i := range col {
				col[i] = args[i*ncols+j].(bool)
			}
			out[j] = col
		default:
			panic("sqlstore: no array parameter of type " + typ)
		}
	}
	return out
}

// bySizeClass calls fn for consecutive slices [off, off+size) of n rows,
// each size one of sizeClasses (class its index), largest first.
func bySizeClass(n int, fn func(off, size, class int) error) error {
	off := 0
	for class, size := range sizeClasses {
		for n-off >= size {
			if err := fn(off, size, class); err != nil {
				return err
			}
			off += size
		}
	}
	return nil
}
