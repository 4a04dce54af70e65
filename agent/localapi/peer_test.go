package localapi

import (
	"net"
	"runtime"
	"testing"
)

// The owner's own connections are known as its own, on IPv4 and IPv6.
func TestConnOwnerKnowsItsOwnUser(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		host := map[string]string{"tcp4": "127.0.0.1", "tcp6": "::1"}[network]
		ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan peerOwner, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- peerUnknown
				return
			}
			defer c.Close()
			got <- connOwner(c)
		}()
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		want := peerSelf // Linux: /proc/net/tcp; Windows: GetExtendedTcpTable
		if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
			want = peerUnknown
		}
		o := <-got
		if runtime.GOOS == "windows" && network == "tcp6" && o == peerUnknown {
			// Wine 8's GetExtendedTcpTable lists IPv6 sockets without
			// their process (pid 0); Windows fills it in.
			continue
		}
		if o != want {
			t.Errorf("%s: own connection seen as %d, want %d", network, o, want)
		}
	}
}
