package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"vpconnect/installer/autostart"
)

func init() {
	register("service", command{synopsis: "service install|uninstall|start|stop|status", order: 30,
		help: "start the agent at login (systemd user unit, launchd agent; on Windows the MSI does it)", run: (*cli).runService})
}

// autostartManager is what `vpconnect service` drives: autostart.Manager, or
// a stand-in in tests.
type autostartManager interface {
	Install() (string, error)
	Uninstall() (string, error)
	Start() error
	Stop() error
	Status() (autostart.Status, error)
}

// serviceGOOS is the operating system `vpconnect service` acts for, and
// newAutostart builds its manager; tests replace both.
var (
	serviceGOOS  = runtime.GOOS
	newAutostart = func() (autostartManager, error) { return autostart.New() }
)

func (c *cli) runService(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usageLine = "usage: vpconnect service install|uninstall|start|stop|status"
	fs := c.newFlags("service", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usageLine) }
	if err := parse(fs, args, 1); err != nil {
		if fs.NArg() > 1 {
			fmt.Fprintln(stderr, usageLine)
		}
		return err
	}
	action := fs.Arg(0)
	switch action {
	case "install", "uninstall", "start", "stop", "status":
	case "":
		fmt.Fprintln(stderr, usageLine)
		return fmt.Errorf("%w: name an action", errUsage)
	default:
		fmt.Fprintf(stderr, "vpconnect service: unknown action %q\n%s\n", action, usageLine)
		return fmt.Errorf("%w: unknown action %q", errUsage, action)
	}
	if serviceGOOS == "windows" {
		return autostart.ErrWindows
	}
	m, err := newAutostart()
	if err != nil {
		return err
	}
	var msg string
	switch action {
	case "install":
		msg, err = m.Install()
	case "uninstall":
		msg, err = m.Uninstall()
	case "start":
		err = m.Start()
		msg = "started"
	case "stop":
		err = m.Stop()
		msg = "stopped"
	case "status":
		var st autostart.Status
		st, err = m.Status()
		msg = st.String()
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, msg)
	return nil
}
