package sysmon

import (
	"math"
	"testing"
	"time"
)

// ioregSample is `ioreg -c IOHIDSystem -d 4` on a MacBook (shortened): the
// tree down to IOHIDSystem, then its properties, one of them a dictionary.
const ioregSample = `+-o Root  <class IORegistryEntry, id 0x100000100, retain 26>
  +-o MacBookPro18,3  <class IOPlatformExpertDevice, id 0x10000020f, registered, matched, active, busy 0 (136 ms), retain 39>
    +-o IOResources  <class IOResources, id 0x100000111, registered, matched, active, busy 0 (0 ms), retain 76>
      +-o IOHIDSystem  <class IOHIDSystem, id 0x100000544, registered, matched, active, busy 0 (0 ms), retain 23>
          {
            "IOClass" = "IOHIDSystem"
            "CFBundleIdentifier" = "com.apple.iokit.IOHIDFamily"
            "IOProviderClass" = "IOResources"
            "HIDParameters" = {"HIDClickTime"=500000000,"HIDKeyRepeat"=83333333,"HIDInitialKeyRepeat"=500000000}
            "HIDIdleTime" = 734512083
            "IOMatchCategory" = "IOHIDSystem"
            "IOUserClientClass" = "IOHIDUserClient"
          }
          
`

func TestParseHIDIdleTime(t *testing.T) {
	for _, c := range []struct {
		name string
		out  string
		want time.Duration
		ok   bool
	}{
		{"ioreg's output", ioregSample, 734512083, true},
		{"eleven minutes", `"HIDIdleTime" = 660000000000`, 11 * time.Minute, true},
		{"inside a dictionary, no spaces", `{"HIDIdleTime"=42}`, 42, true},
		{"two IOHIDSystems: the latest input wins", `"HIDIdleTime" = 900` + "\n" + `"HIDIdleTime" = 7`, 7, true},
		{"beyond uint64 clamps", `"HIDIdleTime" = 99999999999999999999999`, math.MaxInt64, true},
		{"no such property", `"IOClass" = "IOHIDSystem"`, 0, false},
		{"not a number", `"HIDIdleTime" = <data>`, 0, false},
		{"empty", "", 0, false},
	} {
		got, err := parseHIDIdleTime([]byte(c.out))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%s: %v, %v; want %v (ok %v)", c.name, got, err, c.want, c.ok)
		}
	}
	if d, _ := parseHIDIdleTime([]byte(ioregSample)); d >= IdleAfter {
		t.Errorf("the sample (%v since the last input) reads as idle", d)
	}
}

// FuzzParseHIDIdleTime: any output of ioreg gives a duration that is not
// negative, or an error; never a panic.
func FuzzParseHIDIdleTime(f *testing.F) {
	f.Add([]byte(`    | |   "HIDIdleTime" = 1234567890`))
	f.Add([]byte(`"HIDIdleTime" = -5`))
	f.Add([]byte(`"HIDIdleTime" = 99999999999999999999999`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, out []byte) {
		d, err := parseHIDIdleTime(out)
		if err == nil && d < 0 {
			t.Fatalf("idle time %v from %q", d, out)
		}
	})
}
