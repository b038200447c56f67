package postgres

import "context"

// Ping checks that the write pool can reach the database (and the read pool, when there is one).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.Ping(ctx); err != nil {
		return err
	}
	if db.read != nil && db.read != db.write {
		return db.read.Ping(ctx)
	}
	return nil
}
