package alerts

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// New returns the notifier of macOS: Notification Center through
// osascript's "display notification", which needs no cgo (the agent is
// built without it) and no bundle of its own. Such a notification has no
// button, so its text says where the fix is; open is never called.
func New(open func(Alert)) Notifier { return osascriptNotifier{} }

type osascriptNotifier struct{}

func (osascriptNotifier) Notify(ctx context.Context, a Alert) error {
	script := fmt.Sprintf("display notification %s with title %s subtitle %s",
		appleString(a.Body+" Open Sync Options from the menu bar icon to "+lowerFirst(a.Action)+"."),
		appleString("vpconnect"), appleString(a.Title))
	if out, err := exec.CommandContext(ctx, "/usr/bin/osascript", "-e", script).CombinedOutput(); err != nil {
		return fmt.Errorf("osascript: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (osascriptNotifier) Close() error { return nil }

// appleString quotes s as an AppleScript string literal.
func appleString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ").Replace(s) + `"`
}
