//go:build !linux

package localapi

import "net"

// connOwner cannot tell the owner of a loopback connection on this
// platform yet (Windows: GetExtendedTcpTable and the owning process's
// token; macOS: the equivalent): connections are served, never
// auto-approved.
func connOwner(net.Conn) peerOwner { return peerUnknown }
