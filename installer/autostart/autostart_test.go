package autostart

import (
	"errors"
	"strings"
	"testing"

	"vpconnect/installer"
)

func TestConfigLinuxIsTheShippedUserUnit(t *testing.T) {
	c, err := Config("linux", "/opt/vp connect/100%/vpconnect")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "vpconnect" || c.Executable != "/opt/vp connect/100%/vpconnect" {
		t.Errorf("Name %q, Executable %q", c.Name, c.Executable)
	}
	if len(c.Arguments) != 1 || c.Arguments[0] != "run" {
		t.Errorf("Arguments %q, want [run]", c.Arguments)
	}
	if c.Option["UserService"] != true {
		t.Errorf("UserService %v, want true", c.Option["UserService"])
	}
	unit, _ := c.Option["SystemdScript"].(string)
	want := strings.Replace(installer.SystemdUnit, "ExecStart=/usr/bin/vpconnect run\n",
		`ExecStart="/opt/vp connect/100%%/vpconnect" run`+"\n", 1)
	if unit != want {
		t.Errorf("unit:\n%s\nwant:\n%s", unit, want)
	}
	for _, line := range []string{"Restart=on-failure", "WantedBy=default.target", "Type=simple"} {
		if !strings.Contains(unit, "\n"+line+"\n") {
			t.Errorf("unit lacks %q", line)
		}
	}
	if strings.Contains(unit, "{{") {
		t.Error("the unit holds a template action; kardianos/service would expand it")
	}
	// A plain path is written as is.
	if u, _ := SystemdUnit("/usr/local/bin/vpconnect"); !strings.Contains(u, "\nExecStart=/usr/local/bin/vpconnect run\n") {
		t.Errorf("plain path: %s", u)
	}
}

func TestConfigDarwinIsTheShippedLaunchAgent(t *testing.T) {
	c, err := Config("darwin", "/Users/ann/bin/vp&connect")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != installer.LaunchdLabel || c.Option["UserService"] != true || len(c.Arguments) != 1 || c.Arguments[0] != "run" {
		t.Errorf("config %+v", c)
	}
	plist, _ := c.Option["LaunchdConfig"].(string)
	want := strings.Replace(installer.LaunchAgent, "<string>/usr/local/bin/vpconnect</string>", "<string>/Users/ann/bin/vp&amp;connect</string>", 1)
	if plist != want {
		t.Errorf("plist:\n%s\nwant:\n%s", plist, want)
	}
}

func TestConfigRefusesWindowsAndOthers(t *testing.T) {
	if _, err := Config("windows", `C:\Program Files\vpconnect\vpconnect.exe`); !errors.Is(err, ErrWindows) {
		t.Errorf("windows: %v, want ErrWindows", err)
	}
	if !strings.Contains(ErrWindows.Error(), `CurrentVersion\Run\vpconnect`) || !strings.Contains(ErrWindows.Error(), "vpconnect.msi") {
		t.Errorf("ErrWindows does not say what to do: %v", ErrWindows)
	}
	if _, err := Config("plan9", "/bin/vpconnect"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("plan9: %v, want ErrUnsupported", err)
	}
	for _, bad := range []string{"vpconnect", "/tmp/a\nb", "/tmp/{{Path}}"} {
		if _, err := Config("linux", bad); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

func TestStatusWords(t *testing.T) {
	for s, want := range map[Status]string{NotInstalled: "not installed", Stopped: "stopped", Running: "running"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}
