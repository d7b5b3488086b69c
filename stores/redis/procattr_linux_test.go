package redis

import "syscall"

// procAttr ends a test's redis-server with the test process, even when
// the test binary is killed before its cleanups run.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
