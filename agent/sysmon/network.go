package sysmon

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Interface is what the network's fingerprint reads of one network
// interface.
type Interface struct {
	Name  string
	Flags net.Flags
	Addrs []net.Addr
}

// SystemInterfaces lists this computer's network interfaces with their
// addresses. It asks the operating system only; nothing is sent.
func SystemInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list the network interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		i := Interface{Name: ifc.Name, Flags: ifc.Flags}
		if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagLoopback == 0 {
			if i.Addrs, err = ifc.Addrs(); err != nil {
				return nil, fmt.Errorf("list the addresses of %s: %w", ifc.Name, err)
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// fingerprint is the set of "interface address" pairs that can reach
// another host: on interfaces that are up and not loopback, without
// link-local addresses (an interface has those as soon as its link is up,
// before it has a route anywhere).
type fingerprint map[string]struct{}

func fingerprintOf(ifs []Interface) fingerprint {
	fp := fingerprint{}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		for _, a := range i.Addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			}
			if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				continue
			}
			fp[i.Name+" "+ip.String()] = struct{}{}
		}
	}
	return fp
}

// gained reports whether fp has an address that before did not: the
// network came back (a link up, a new lease, a VPN). An address lost is no
// reason to try again.
func (fp fingerprint) gained(before fingerprint) bool {
	for k := range fp {
		if _, ok := before[k]; !ok {
			return true
		}
	}
	return false
}

// NetworkWatcher notices the network coming back, by reading the
// interfaces and their addresses every few seconds. It reads only while
// someone watches (the agent watches only while a service cannot be
// reached), so that nothing polls while all is well.
type NetworkWatcher struct {
	// Every is how often the interfaces are read while watching; 5 s when
	// zero.
	Every time.Duration
	// Interfaces lists the interfaces; SystemInterfaces when nil.
	Interfaces func() ([]Interface, error)
}

// Watch reads the interfaces now, then every Every, until an address
// appears that was not there before or ctx ends. The returned channel
// receives one value on such a change, and is closed when the watch ends
// either way: the caller owns the watch's goroutine, stops it with ctx and
// waits for it by reading the channel until it is closed.
func (w NetworkWatcher) Watch(ctx context.Context) <-chan struct{} {
	every, list := w.Every, w.Interfaces
	if every <= 0 {
		every = 5 * time.Second
	}
	if list == nil {
		list = SystemInterfaces
	}
	changed := make(chan struct{}, 1)
	go func() {
		defer close(changed)
		// A listing that fails says nothing about the network: the
		// fingerprint before it is kept.
		before, err := list()
		var last fingerprint
		if err == nil {
			last = fingerprintOf(before)
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ifs, err := list()
			if err != nil {
				continue
			}
			now := fingerprintOf(ifs)
			if last != nil && now.gained(last) {
				changed <- struct{}{}
				return
			}
			last = now
		}
	}()
	return changed
}
