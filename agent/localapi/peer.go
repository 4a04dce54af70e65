package localapi

import (
	"context"
	"net"
)

// Other users of the same computer (a terminal server, a shared lab
// machine, a Linux workstation) reach the loopback API as easily as the
// owner does, and a local process can send any Origin it likes. So the
// server asks the operating system which user owns the other end of each
// connection and refuses every connection that is not its own user's,
// before any other check. Where the owner cannot be told (connOwner answers
// peerUnknown), connections are served as before but never auto-approved
// for pairing.

// peerOwner is whose process is at the other end of a connection.
type peerOwner int

const (
	peerUnknown peerOwner = iota // the operating system could not tell
	peerSelf                     // this process's user
	peerOther                    // another user
)

type peerKey struct{}

// peerContext records the owner of a new connection in its context
// (http.Server.ConnContext).
func peerContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, connOwner(c))
}

// connOwner asks the operating system who owns the client's end of a
// loopback TCP connection (socketOwner, per platform).
func connOwner(c net.Conn) peerOwner {
	client, ok1 := c.RemoteAddr().(*net.TCPAddr)
	server, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return peerUnknown
	}
	return socketOwner(client, server)
}

// peerOf is the owner recorded for the request's connection.
func peerOf(ctx context.Context) peerOwner {
	p, _ := ctx.Value(peerKey{}).(peerOwner)
	return p
}
