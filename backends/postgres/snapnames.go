package postgres

import (
	"context"

	"rose-ash.com/persist/ops"
)

// snapshotNames answers ops.SnapshotNames: the names of the stored
// snapshots, in byte order, each once however many generations it keeps.
func (s *Store) snapshotNames(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, ops.ErrClosed
	}
	rows, err := s.pool.Query(ctx, `SELECT name FROM `+quote(s.schema)+`.snapshots GROUP BY name ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, s.dbErr(ops.NameSnapshotNames, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, s.dbErr(ops.NameSnapshotNames, err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, s.dbErr(ops.NameSnapshotNames, err)
	}
	return names, nil
}
