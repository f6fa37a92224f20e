//go:build !unix

package script

import "os/exec"

// isolate leaves cmd as it is: without process groups only the program
// itself is killed on timeout. seipbot ships for Unix; this keeps the
// module building elsewhere for development.
func isolate(*exec.Cmd) {}

func killGroup(*exec.Cmd) error { return nil }
