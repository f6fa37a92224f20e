package memory

// Len returns how many records s holds, expired ones included, so the sweep
// test can see what reads hide.
func Len(s *Store) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.records)
}
