// Package autostart starts the vpconnect agent at the user's login, for
// `vpconnect service install|uninstall|start|stop|status` (docs/behaviour.md §9): a
// systemd user unit on Linux and a launchd LaunchAgent on macOS, managed
// through github.com/kardianos/service with its UserService option. The
// files written are the ones the packages ship (package installer), with the
// path of the running binary.
//
// On Windows there is nothing to do here: the MSI's Run value starts the
// agent at every user's login, and every action returns [ErrWindows].
package autostart

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/kardianos/service"

	"vpconnect/installer"
)

// ErrWindows is what every action answers on Windows.
var ErrWindows = errors.New(`on Windows the agent is installed by the MSI: its Run value ` +
	`(HKLM\Software\Microsoft\Windows\CurrentVersion\Run\vpconnect) starts "vpconnect run" at every user's login; ` +
	`install, repair or uninstall vpconnect.msi instead (docs/deployment.md)`)

// ErrUnsupported is answered on a system without a per-user service manager
// kardianos/service supports (systemd --user, launchd).
var ErrUnsupported = errors.New("no per-user service manager here (systemd --user or launchd); " +
	"start the agent at login with the XDG autostart entry instead: copy installer/linux/vpconnect.desktop " +
	"to ~/.config/autostart/ (docs/deployment.md)")

// Status is what `vpconnect service status` prints.
type Status int

const (
	NotInstalled Status = iota
	Stopped
	Running
)

func (s Status) String() string {
	switch s {
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	}
	return "not installed"
}

const description = "vpconnect: Microsoft 365 and Deltek Vantagepoint sync agent"

// Config returns the kardianos/service configuration for goos with the
// agent binary at exe: `exe run` as a user service, with the service file
// rendered from the shipped one. It refuses Windows ([ErrWindows]) and
// systems other than Linux and macOS ([ErrUnsupported]).
func Config(goos, exe string) (*service.Config, error) {
	c := &service.Config{
		DisplayName: "vpconnect",
		Description: description,
		Executable:  exe,
		Arguments:   []string{"run"},
		Option:      service.KeyValue{"UserService": true},
	}
	switch goos {
	case "windows":
		return nil, ErrWindows
	case "linux":
		unit, err := SystemdUnit(exe)
		if err != nil {
			return nil, err
		}
		c.Name = strings.TrimSuffix(installer.SystemdUnitName, ".service")
		c.Option["SystemdScript"] = unit
	case "darwin":
		plist, err := LaunchdPlist(exe)
		if err != nil {
			return nil, err
		}
		c.Name = installer.LaunchdLabel
		// Used when the job is written; KeepAlive and RunAtLoad are in it.
		c.Option["LaunchdConfig"] = plist
	default:
		return nil, ErrUnsupported
	}
	return c, nil
}

// checkPath refuses a binary path that cannot be written into a service
// file: control characters, and "{{", which kardianos/service would take
// for a template action.
func checkPath(exe string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("the agent's path %q is not absolute", exe)
	}
	if strings.ContainsFunc(exe, func(r rune) bool { return r < 0x20 || r == 0x7f }) || strings.Contains(exe, "{{") {
		return fmt.Errorf("the agent's path %q cannot be written into a service file", exe)
	}
	return nil
}

// SystemdUnit returns the shipped user unit with ExecStart running exe.
func SystemdUnit(exe string) (string, error) {
	if err := checkPath(exe); err != nil {
		return "", err
	}
	old := "ExecStart=" + installer.LinuxBinary + " run\n"
	if strings.Count(installer.SystemdUnit, old) != 1 {
		return "", errors.New("installer/linux/vpconnect.service: no single ExecStart line to point at the binary")
	}
	return strings.Replace(installer.SystemdUnit, old, "ExecStart="+systemdQuote(exe)+" run\n", 1), nil
}

// systemdQuote writes a path as one word of a systemd command line:
// specifiers (%) and variables ($) doubled, quoted when it holds a space,
// quote or backslash.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if strings.ContainsAny(s, " \t\"'\\;") {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// LaunchdPlist returns the shipped LaunchAgent with its program at exe.
func LaunchdPlist(exe string) (string, error) {
	if err := checkPath(exe); err != nil {
		return "", err
	}
	old := "<string>" + installer.MacBinary + "</string>"
	if strings.Count(installer.LaunchAgent, old) != 1 {
		return "", errors.New("installer/macos/com.vpconnect.agent.plist: no single program path to point at the binary")
	}
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(exe)); err != nil {
		return "", err
	}
	return strings.Replace(installer.LaunchAgent, old, "<string>"+b.String()+"</string>", 1), nil
}

// Manager installs and controls the agent's user service on this computer.
type Manager struct {
	goos string
	exe  string
	svc  service.Service
}

type program struct{}

func (program) Start(service.Service) error { return nil }
func (program) Stop(service.Service) error  { return nil }

// New returns the manager for the running binary on this operating system.
func New() (*Manager, error) {
	if runtime.GOOS == "windows" {
		return nil, ErrWindows
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the agent's binary: %w", err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return nil, fmt.Errorf("%s is a temporary binary of 'go run': install vpconnect and run its 'service install'", exe)
	}
	c, err := Config(runtime.GOOS, exe)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS == "linux" {
		if sys := service.ChosenSystem(); sys == nil || sys.String() != "linux-systemd" {
			return nil, ErrUnsupported
		}
	}
	svc, err := service.New(program{}, c)
	if err != nil {
		if errors.Is(err, service.ErrNoServiceSystemDetected) {
			return nil, ErrUnsupported
		}
		return nil, err
	}
	return &Manager{goos: runtime.GOOS, exe: exe, svc: svc}, nil
}

// File is the service file of the current user.
func (m *Manager) File() string {
	home, _ := os.UserHomeDir()
	if m.goos == "darwin" {
		return filepath.Join(home, "Library", "LaunchAgents", installer.LaunchdLabel+".plist")
	}
	return filepath.Join(home, ".config", "systemd", "user", installer.SystemdUnitName)
}

// byPkg reports whether the macOS pkg installed the job for every user.
func (m *Manager) byPkg() bool {
	if m.goos != "darwin" {
		return false
	}
	_, err := os.Stat(installer.MacSystemLaunchAgent)
	return err == nil
}

// Status says whether the agent's service is installed and running.
func (m *Manager) Status() (Status, error) {
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		if m.byPkg() {
			return Stopped, nil
		}
		return NotInstalled, nil
	case err != nil && st == service.StatusUnknown:
		if _, serr := os.Stat(m.File()); serr == nil {
			return Stopped, nil // installed, e.g. systemd's "failed" state
		}
		return NotInstalled, err
	case st == service.StatusRunning:
		return Running, nil
	}
	return Stopped, nil
}

// Install writes and enables the service, which starts the agent at the
// next login; the message says what was done.
func (m *Manager) Install() (string, error) {
	if m.byPkg() {
		return "already installed for every user by the vpconnect pkg (" + installer.MacSystemLaunchAgent + ")", nil
	}
	if _, err := os.Stat(m.File()); err == nil {
		return "already installed (" + m.File() + ")", nil
	}
	if err := m.svc.Install(); err != nil {
		return "", err
	}
	return "installed " + m.File() + " (running " + m.exe + "): the agent starts at every login; 'vpconnect service start' starts it now", nil
}

// Uninstall stops and removes the service; per-user data is kept.
func (m *Manager) Uninstall() (string, error) {
	if m.byPkg() {
		return "", errors.New("installed for every user by the vpconnect pkg: remove it with 'sudo installer/macos/uninstall.sh' (docs/deployment.md)")
	}
	if _, err := os.Stat(m.File()); err != nil {
		return "not installed; nothing to do", nil
	}
	_ = m.svc.Stop()
	if err := m.svc.Uninstall(); err != nil {
		return "", err
	}
	return "uninstalled " + m.File() + " (your configuration, data and sign-ins are kept)", nil
}

// Start starts the agent now.
func (m *Manager) Start() error {
	if st, _ := m.Status(); st == NotInstalled {
		return errors.New("not installed: run 'vpconnect service install' first")
	}
	if m.byPkg() {
		return launchctlGUI("bootstrap", installer.MacSystemLaunchAgent)
	}
	return m.svc.Start()
}

// Stop stops the agent until the next login or 'vpconnect service start'.
func (m *Manager) Stop() error {
	if st, _ := m.Status(); st == NotInstalled {
		return errors.New("not installed")
	}
	if m.byPkg() {
		return launchctlGUI("bootout", installer.MacSystemLaunchAgent)
	}
	return m.svc.Stop()
}

// launchctlGUI runs `launchctl bootstrap|bootout gui/<uid> <plist>` for the
// job the pkg installed, in the current user's GUI domain.
func launchctlGUI(action, plist string) error {
	out, err := exec.Command("/bin/launchctl", action, "gui/"+strconv.Itoa(os.Getuid()), plist).CombinedOutput()
	if err != nil {
		return fmt.Errorf("launchctl %s: %v: %s", action, err, strings.TrimSpace(string(out)))
	}
	return nil
}
