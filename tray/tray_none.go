//go:build !(((linux || freebsd || openbsd || netbsd) && !android) || windows || (darwin && cgo))

package tray

import (
	"context"
	"fmt"
	"runtime"
)

// Run has no tray to show in this build: fyne.io/systray needs cgo on
// macOS (a macOS binary with a tray is built on a Mac), and supports no
// other system. The caller goes on headless.
func Run(ctx context.Context, c Client, opts Options) error {
	return fmt.Errorf("%w: this build for %s has no tray (built without cgo)", ErrUnavailable, runtime.GOOS)
}
