package localapi

import (
	"encoding/binary"
	"errors"
	"net"
	"unsafe"

	"golang.org/x/sys/windows"
)

// socketOwner finds the client's socket in the system's TCP table
// (GetExtendedTcpTable, with the owning process), opens that process's
// token and compares its user with ours. A process this user cannot open
// is another user's: a user can always open their own.
func socketOwner(client, server *net.TCPAddr) peerOwner {
	pid, ok := owningPID(client, server)
	if !ok || pid == 0 {
		return peerUnknown
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return peerUnknown
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return peerOther
	}
	if err != nil {
		return peerUnknown
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return peerOther
		}
		return peerUnknown
	}
	defer tok.Close()
	them, err := tok.GetTokenUser()
	if err != nil {
		return peerUnknown
	}
	if them.User.Sid.Equals(me.User.Sid) {
		return peerSelf
	}
	return peerOther
}

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

const tcpTableOwnerPIDAll = 5 // TCP_TABLE_OWNER_PID_ALL

// owningPID returns the process of the socket whose local address is
// client and remote address is server.
func owningPID(client, server *net.TCPAddr) (uint32, bool) {
	af := uint32(windows.AF_INET)
	if client.IP.To4() == nil {
		af = windows.AF_INET6
	}
	var size uint32
	var buf []byte
	for range 4 { // the table can grow between the two calls
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		r, _, _ := procGetExtendedTcpTable.Call(p, uintptr(unsafe.Pointer(&size)), 0, uintptr(af), tcpTableOwnerPIDAll, 0)
		if r == 0 && len(buf) > 0 {
			break
		}
		if r != uintptr(windows.ERROR_INSUFFICIENT_BUFFER) && r != 0 {
			return 0, false
		}
		buf = make([]byte, size)
	}
	if len(buf) < 4 {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint32(buf))
	port := func(v uint32) int { return int(v&0xff)<<8 | int(v>>8&0xff) } // network order in the low 16 bits
	if af == windows.AF_INET {
		// MIB_TCPROW_OWNER_PID: state, local addr, local port, remote
		// addr, remote port, pid: six DWORDs.
		for i := range n {
			o := 4 + i*24
			if o+24 > len(buf) {
				break
			}
			w := func(k int) uint32 { return binary.LittleEndian.Uint32(buf[o+4*k:]) }
			la, ra := buf[o+4:o+8], buf[o+12:o+16]
			if net.IP(la).Equal(client.IP) && port(w(2)) == client.Port && net.IP(ra).Equal(server.IP) && port(w(4)) == server.Port {
				return w(5), true
			}
		}
		return 0, false
	}
	// MIB_TCP6ROW_OWNER_PID: local addr[16], local scope, local port,
	// remote addr[16], remote scope, remote port, state, pid.
	for i := range n {
		o := 4 + i*56
		if o+56 > len(buf) {
			break
		}
		w := func(off int) uint32 { return binary.LittleEndian.Uint32(buf[o+off:]) }
		la, ra := buf[o:o+16], buf[o+24:o+40]
		if net.IP(la).Equal(client.IP) && port(w(20)) == client.Port && net.IP(ra).Equal(server.IP) && port(w(44)) == server.Port {
			return w(52), true
		}
	}
	return 0, false
}
