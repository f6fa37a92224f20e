//go:build unix

package script

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// isolate runs cmd in a process group of its own, and makes cancelling
// cmd kill that whole group: a script's children (a sleep, a scanner it
// started) die with it instead of running on unseen.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

// killGroup kills cmd's process group. The group id is the program's pid,
// which the kernel does not hand out again while any member of the group
// lives, so after the program has exited this reaches only its leftovers.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
