//go:build !linux && !windows && !darwin

package localapi

import "net"

// socketOwner cannot tell the owner of a loopback connection on this
// platform yet (macOS would need the equivalent of Linux's and Windows'
// socket tables): connections are served, never auto-approved.
func socketOwner(_, _ *net.TCPAddr) peerOwner { return peerUnknown }
