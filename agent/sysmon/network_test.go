package sysmon

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func ipnet(s string) net.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

var (
	loopback = Interface{Name: "lo", Flags: net.FlagUp | net.FlagLoopback, Addrs: []net.Addr{ipnet("127.0.0.1/8"), ipnet("::1/128")}}
	wifiDown = Interface{Name: "wlan0", Flags: net.FlagBroadcast}
	wifiLink = Interface{Name: "wlan0", Flags: net.FlagUp | net.FlagBroadcast, Addrs: []net.Addr{ipnet("fe80::1c2a:4bff:fe11:2233/64")}}
	wifiUp   = Interface{Name: "wlan0", Flags: net.FlagUp | net.FlagBroadcast, Addrs: []net.Addr{
		ipnet("192.168.1.23/24"), ipnet("fe80::1c2a:4bff:fe11:2233/64"), ipnet("2001:db8::23/64")}}
	wifiNewLease = Interface{Name: "wlan0", Flags: net.FlagUp | net.FlagBroadcast, Addrs: []net.Addr{ipnet("10.0.0.7/24")}}
	vpn          = Interface{Name: "tun0", Flags: net.FlagUp | net.FlagPointToPoint, Addrs: []net.Addr{&net.IPAddr{IP: net.ParseIP("10.8.0.2")}}}
)

func TestFingerprintReadsRoutableAddressesOfUpInterfaces(t *testing.T) {
	fp := fingerprintOf([]Interface{loopback, wifiUp, vpn, {Name: "eth0", Flags: 0, Addrs: []net.Addr{ipnet("172.16.0.9/16")}}})
	want := []string{"wlan0 192.168.1.23", "wlan0 2001:db8::23", "tun0 10.8.0.2"}
	if len(fp) != len(want) {
		t.Fatalf("fingerprint %v; want %v", fp, want)
	}
	for _, k := range want {
		if _, ok := fp[k]; !ok {
			t.Errorf("fingerprint %v lacks %q", fp, k)
		}
	}
	if n := len(fingerprintOf([]Interface{loopback, wifiLink, wifiDown})); n != 0 {
		t.Errorf("loopback, link-local and a down interface gave %d addresses; want none", n)
	}
	for _, c := range []struct {
		name          string
		before, after []Interface
		gained        bool
	}{
		{"wifi comes back", []Interface{loopback, wifiDown}, []Interface{loopback, wifiUp}, true},
		{"link up, no lease yet", []Interface{loopback, wifiDown}, []Interface{loopback, wifiLink}, false},
		{"a new lease", []Interface{wifiUp}, []Interface{wifiNewLease}, true},
		{"a VPN connects", []Interface{wifiUp}, []Interface{wifiUp, vpn}, true},
		{"the VPN drops", []Interface{wifiUp, vpn}, []Interface{wifiUp}, false},
		{"nothing changed", []Interface{wifiUp, vpn}, []Interface{vpn, wifiUp}, false},
	} {
		if got := fingerprintOf(c.after).gained(fingerprintOf(c.before)); got != c.gained {
			t.Errorf("%s: gained %v; want %v", c.name, got, c.gained)
		}
	}
}

// fakeInterfaces is an interface lister the test changes, counting the
// listings.
type fakeInterfaces struct {
	mu    sync.Mutex
	ifs   []Interface
	err   error
	calls int
	read  chan struct{} // receives after each listing
}

func newFakeInterfaces(ifs ...Interface) *fakeInterfaces {
	return &fakeInterfaces{ifs: ifs, read: make(chan struct{}, 100)}
}

func (f *fakeInterfaces) list() ([]Interface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	select {
	case f.read <- struct{}{}:
	default:
	}
	return f.ifs, f.err
}

// set changes what the next listings answer; waitReads then waits for
// listings of the new state only.
func (f *fakeInterfaces) set(err error, ifs ...Interface) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ifs, f.err = ifs, err
	for len(f.read) > 0 {
		<-f.read
	}
}

func (f *fakeInterfaces) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// waitReads waits for n more listings.
func (f *fakeInterfaces) waitReads(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-f.read:
		case <-time.After(10 * time.Second):
			t.Fatal("the watcher stopped reading the interfaces")
		}
	}
}

func TestWatchReportsTheNetworkComingBackThenEnds(t *testing.T) {
	ifs := newFakeInterfaces(loopback, wifiDown)
	w := NetworkWatcher{Every: time.Millisecond, Interfaces: ifs.list}
	ch := w.Watch(context.Background())
	ifs.waitReads(t, 3)
	// Losing what was left, and a listing that fails, are no return.
	ifs.set(nil, wifiDown)
	ifs.waitReads(t, 2)
	ifs.set(errors.New("netlink: resource busy"))
	ifs.waitReads(t, 2)
	select {
	case <-ch:
		t.Fatal("reported a change before the network came back")
	default:
	}
	ifs.set(nil, loopback, wifiUp)
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatal("the watch ended without reporting the change")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the network came back and the watch did not notice")
	}
	// One report, then the watch is over: the channel closes and the
	// interfaces are no longer read.
	if _, ok := <-ch; ok {
		t.Fatal("a second report")
	}
	n := ifs.count()
	time.Sleep(20 * time.Millisecond)
	if m := ifs.count(); m != n {
		t.Fatalf("%d listings after the watch ended", m-n)
	}
}

func TestWatchEndsWithItsContextWithoutAReport(t *testing.T) {
	ifs := newFakeInterfaces(wifiUp)
	ctx, cancel := context.WithCancel(context.Background())
	ch := NetworkWatcher{Every: time.Millisecond, Interfaces: ifs.list}.Watch(ctx)
	ifs.waitReads(t, 2)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a change reported though none happened")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
	n := ifs.count()
	time.Sleep(20 * time.Millisecond)
	if m := ifs.count(); m != n {
		t.Fatalf("%d listings after the watch ended", m-n)
	}
}

// The real lister works here and finds at least the loopback interface
// (which the fingerprint then leaves out).
func TestSystemInterfaces(t *testing.T) {
	ifs, err := SystemInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	loop := false
	for _, i := range ifs {
		loop = loop || i.Flags&net.FlagLoopback != 0
	}
	if !loop {
		t.Fatalf("no loopback interface among %v", ifs)
	}
	for k := range fingerprintOf(ifs) {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 && strings.HasPrefix(k, i.Name+" ") {
				t.Errorf("the fingerprint has the loopback interface's %q", k)
			}
		}
	}
}
