package bot

import "time"

// Metrics is told what the bot does, so operators can watch it
// (cmd/seipbot exports these to Prometheus). The engine stays free of any
// metrics library; every method must be cheap and safe for concurrent use.
type Metrics interface {
	// Received counts a message an adapter delivered.
	Received(adapter string)
	// Handled reports a command's run: how long it took and how it ended.
	Handled(command string, d time.Duration, err error)
	// Delivered reports one delivery attempt of the outbox; a nil error
	// means the platform took the message.
	Delivered(adapter string, err error)
}
