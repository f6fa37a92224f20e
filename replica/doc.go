// Package replica coordinates replicas of one bot: claims, so that a
// message every replica receives is handled by one, and a leader lease,
// so that what must run once (the scheduler, a single-connection adapter)
// runs on one replica at a time.
//
// Each has an in-process form, for one process with several connections to
// a platform and for tests, and a Redis form shared by every replica using
// the same server and key prefix.
package replica
