package bolt

import bbolt "go.etcd.io/bbolt"

// Records returns how many records s holds, expired ones included, so the
// sweep tests can see what reads hide.
func Records(s *Store) (n int, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error {
			n += b.Stats().KeyN
			return nil
		})
	})
	return n, err
}
