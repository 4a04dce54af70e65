package localapi

import (
	"net"
	"testing"
)

// lsof's machine-readable output as macOS prints it for `lsof -n -P -w -a
// -iTCP:PORT -sTCP:ESTABLISHED -F pun` (one field per line: p pid, u uid,
// f file descriptor, n name), read for the connection 127.0.0.1:53011 →
// 127.0.0.1:48613.
func TestLsofOwner(t *testing.T) {
	client := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53011}
	server := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 48613}
	agent := "p701\nu501\nf12\nn127.0.0.1:48613->127.0.0.1:53011\n"
	curl := "p902\nu501\nf5\nn127.0.0.1:53011->127.0.0.1:48613\n"
	cases := []struct {
		name, out string
		uid       int
		want      peerOwner
	}{
		{"both ends are the user's", agent + curl, 501, peerSelf},
		{"the client's end is not listed: another user's", agent, 501, peerOther},
		{"as root, the client's end is another user's", agent + "p903\nu502\nf5\nn127.0.0.1:53011->127.0.0.1:48613\n", 501, peerOther},
		{"lsof saw nothing", "", 501, peerUnknown},
		{"another connection of the same port", "p702\nu501\nf3\nn127.0.0.1:53011->127.0.0.1:443\n", 501, peerUnknown},
		{"unreadable output", "garbage\n\x00\nn\n", 501, peerUnknown},
	}
	for _, c := range cases {
		if got := lsofOwner(c.out, client, server, c.uid); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	c6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 53012}
	s6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 48613}
	out := "p701\nu501\nf12\nn[::1]:48613->[::1]:53012\np902\nu501\nf5\nn[::1]:53012->[::1]:48613\n"
	if got := lsofOwner(out, c6, s6, 501); got != peerSelf {
		t.Errorf("IPv6: %v, want self", got)
	}
}
