package sysmon

import (
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	kernel32             = windows.NewLazySystemDLL("kernel32.dll")
	procGetLastInputInfo = user32.NewProc("GetLastInputInfo")
	procOpenInputDesktop = user32.NewProc("OpenInputDesktop")
	procCloseDesktop     = user32.NewProc("CloseDesktop")
	procGetTickCount     = kernel32.NewProc("GetTickCount")
)

// lastInputInfo is LASTINPUTINFO.
type lastInputInfo struct {
	cbSize uint32
	dwTime uint32
}

func platformIdle() (idleSource, time.Duration) {
	// Two calls into user32: cheap, no caching.
	return lastInput{}, 0
}

// lastInput asks user32 for the time of the last keyboard or mouse input
// of this session, and whether the workstation is locked.
type lastInput struct{}

func (lastInput) idle() (bool, error) {
	if workstationLocked() {
		return true, nil
	}
	info := lastInputInfo{cbSize: uint32(unsafe.Sizeof(lastInputInfo{}))}
	if ok, _, err := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); ok == 0 {
		return false, fmt.Errorf("read the time of the last input (GetLastInputInfo): %w", err)
	}
	now, _, _ := procGetTickCount.Call()
	// Both are milliseconds since boot in 32 bits: the unsigned difference
	// stays right when the count wraps after 49.7 days.
	since := time.Duration(uint32(now)-info.dwTime) * time.Millisecond
	return since >= IdleAfter, nil
}

// workstationLocked reports whether the lock screen is up: the input
// desktop is then Winlogon's secure desktop, which a user's process cannot
// open.
func workstationLocked() bool {
	const desktopSwitchDesktop = 0x0100 // DESKTOP_SWITCHDESKTOP
	h, _, _ := procOpenInputDesktop.Call(0, 0, desktopSwitchDesktop)
	if h == 0 {
		return true
	}
	procCloseDesktop.Call(h)
	return false
}

func (lastInput) close() error { return nil }
