//go:build !unix

package oidcauth

import "time"

func processCPU() time.Duration { return 0 }
