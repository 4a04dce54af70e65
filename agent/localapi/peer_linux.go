package localapi

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
)

// socketOwner finds the client's socket in /proc/net/tcp (or tcp6): the
// row whose local address is the client's and whose remote address is the
// server's, and compares its uid with ours.
func socketOwner(client, server *net.TCPAddr) peerOwner {
	file := "/proc/net/tcp"
	if client.IP.To4() == nil {
		file = "/proc/net/tcp6"
	}
	uid, ok := socketUID(file, procAddr(client), procAddr(server))
	switch {
	case !ok:
		return peerUnknown
	case uid == os.Getuid():
		return peerSelf
	default:
		return peerOther
	}
}

// procAddr writes an address as /proc/net/tcp{,6} does: the IP as 32-bit
// words in host (little-endian) order, then the port, in hex.
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		ip = a.IP.To16()
	}
	var b strings.Builder
	for i := 0; i+4 <= len(ip); i += 4 {
		// Each word is printed as a number read in host order: the
		// bytes of 127.0.0.1 (7F 00 00 01) read little-endian are
		// 0x0100007F.
		w := binary.LittleEndian.Uint32(ip[i : i+4])
		b.WriteString(strings.ToUpper(hex.EncodeToString(binary.BigEndian.AppendUint32(nil, w))))
	}
	return b.String() + ":" + strings.ToUpper(strconv.FormatUint(uint64(a.Port)|1<<16, 16)[1:])
}

// socketUID reads the uid of the socket with this local and remote address.
func socketUID(file, local, remote string) (int, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[1] != local || fs[2] != remote {
			continue
		}
		uid, err := strconv.Atoi(fs[7])
		return uid, err == nil
	}
	return 0, false
}
