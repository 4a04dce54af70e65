//go:build !linux && !windows

package localapi

import "net"

// connOwner cannot tell the owner of a loopback connection on this
// platform yet (macOS would need the equivalent of Linux's and Windows'
// socket tables): connections are served, never auto-approved.
func connOwner(net.Conn) peerOwner { return peerUnknown }
