//go:build !unix

package redis

import "time"

func processCPU() time.Duration { return 0 }
