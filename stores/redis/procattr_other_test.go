//go:build !linux

package redis

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
