//go:build !windows

package cli

import (
	"context"
	"log/slog"
)

// stopOnClose is the Windows way of being asked to stop (closewindow_windows.go);
// elsewhere SIGTERM and SIGINT end the context already (main.go).
func stopOnClose(ctx context.Context, _ *slog.Logger) (context.Context, func()) {
	return ctx, func() {}
}
