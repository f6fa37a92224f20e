package replica

// LocalClaims returns how many claims c holds, live or not yet swept.
func LocalClaims(c *LocalClaimer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.until)
}
