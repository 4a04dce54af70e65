package localapi

import (
	"net"
	"strconv"
	"strings"
)

// macOS keeps no socket table that a program may read for other users'
// processes (the kernel answers proc_pidinfo only for one's own processes
// unless run as root), so the agent asks lsof (/usr/sbin/lsof, part of
// every macOS) for the TCP sockets of the connection's client port, in its
// machine-readable form. lsof shows only this user's processes: the agent's
// own end of the connection (local = the server's address, remote = the
// client's) proves that lsof saw the connection; the client's end (local =
// the client's address) is this user's when listed, another user's when it
// is not. Anything else (lsof missing, refused, its output unreadable)
// leaves the owner unknown.

// lsofOwner reads `lsof -F pun` output for the connection client → server,
// as listed for the user uid.
func lsofOwner(out string, client, server *net.TCPAddr, uid int) peerOwner {
	clientEnd := lsofEndpoint(client) + "->" + lsofEndpoint(server)
	serverEnd := lsofEndpoint(server) + "->" + lsofEndpoint(client)
	procUID := -1
	sawServer, sawClient, clientUID := false, false, -1
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		switch field, val := line[0], line[1:]; field {
		case 'p':
			procUID = -1
		case 'u':
			if n, err := strconv.Atoi(val); err == nil {
				procUID = n
			}
		case 'n':
			switch val {
			case serverEnd:
				sawServer = true
			case clientEnd:
				sawClient, clientUID = true, procUID
			}
		}
	}
	switch {
	case sawClient && clientUID == uid:
		return peerSelf
	case sawClient && clientUID >= 0:
		return peerOther // lsof run as root lists everyone's
	case sawServer:
		return peerOther // lsof saw the connection; the client is not ours
	}
	return peerUnknown
}

// lsofEndpoint writes an address as lsof -n -P does: 127.0.0.1:PORT,
// [::1]:PORT.
func lsofEndpoint(a *net.TCPAddr) string {
	if a.IP.To4() != nil {
		return a.IP.To4().String() + ":" + strconv.Itoa(a.Port)
	}
	return "[" + a.IP.String() + "]:" + strconv.Itoa(a.Port)
}
