//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly || windows)

package auth

import (
	"os"
	"sync"
)

// Systems without flock or LockFileEx serialize within the process only.
var processLock sync.Mutex

func tryLock(*os.File) (bool, error) { return processLock.TryLock(), nil }

func unlock(*os.File) { processLock.Unlock() }
