//go:build windows

// Command consoleparent checks that a GUI-subsystem program prints to the
// console of the terminal that started it (.ci/wine-suite). It opens a
// console of its own, as a terminal window has, and starts the program
// detached from it, with no standard handle: what Windows gives a GUI
// program started from a terminal, where only attaching to the parent's
// console makes its output appear. (Wine would otherwise hand the program
// the console's handles, and the check would prove nothing.) It waits for
// the program and prints what the console then shows.
//
//	consoleparent PROGRAM ARGS...
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	kernel32                       = windows.NewLazySystemDLL("kernel32.dll")
	procAllocConsole               = kernel32.NewProc("AllocConsole")
	procReadConsoleOutputCharacter = kernel32.NewProc("ReadConsoleOutputCharacterW")
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: consoleparent PROGRAM ARGS...")
		os.Exit(2)
	}
	text, code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "consoleparent:", err)
		os.Exit(1)
	}
	fmt.Print(text)
	os.Exit(int(code))
}

func run(args []string) (string, uint32, error) {
	if r, _, err := procAllocConsole.Call(); r == 0 {
		return "", 0, fmt.Errorf("open a console: %w", err)
	}
	var quoted []string
	for _, a := range args {
		quoted = append(quoted, syscall.EscapeArg(a))
	}
	line, err := windows.UTF16PtrFromString(strings.Join(quoted, " "))
	if err != nil {
		return "", 0, err
	}
	si := windows.StartupInfo{}
	si.Cb = uint32(unsafe.Sizeof(si))
	var pi windows.ProcessInformation
	if err := windows.CreateProcess(nil, line, nil, nil, false, windows.DETACHED_PROCESS, nil, nil, &si, &pi); err != nil {
		return "", 0, fmt.Errorf("start %s: %w", args[0], err)
	}
	defer windows.CloseHandle(pi.Thread)
	defer windows.CloseHandle(pi.Process)
	if _, err := windows.WaitForSingleObject(pi.Process, windows.INFINITE); err != nil {
		return "", 0, fmt.Errorf("wait for %s: %w", args[0], err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(pi.Process, &code); err != nil {
		return "", 0, fmt.Errorf("exit code of %s: %w", args[0], err)
	}
	out, err := windows.CreateFile(windows.StringToUTF16Ptr("CONOUT$"), windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return "", 0, fmt.Errorf("open the console's screen: %w", err)
	}
	defer windows.CloseHandle(out)
	var info windows.ConsoleScreenBufferInfo
	if err := windows.GetConsoleScreenBufferInfo(out, &info); err != nil {
		return "", 0, fmt.Errorf("read the console's size: %w", err)
	}
	// The rows up to the cursor's, each trimmed.
	var b strings.Builder
	width := int(info.Size.X)
	row := make([]uint16, width)
	for y := 0; y <= int(info.CursorPosition.Y); y++ {
		var n uint32
		coord := uintptr(uint32(y) << 16) // COORD{X: 0, Y: y} passed by value
		if r, _, err := procReadConsoleOutputCharacter.Call(uintptr(out), uintptr(unsafe.Pointer(&row[0])), uintptr(width),
			coord, uintptr(unsafe.Pointer(&n))); r == 0 {
			return "", 0, fmt.Errorf("read row %d of the console: %w", y, err)
		}
		b.WriteString(strings.TrimRight(windows.UTF16ToString(row[:n]), " "))
		b.WriteString("\n")
	}
	return b.String(), code, nil
}
