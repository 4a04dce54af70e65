package localapi

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// socketOwner asks lsof which of this user's processes hold the TCP
// sockets of the client's port (see lsofOwner). The answer comes within
// two seconds or not at all (unknown).
func socketOwner(client, server *net.TCPAddr) peerOwner {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// -n -P: numeric hosts and ports; -w: no warnings; -a: all conditions;
	// -F pun: process id, user id and name fields, one per line.
	out, err := exec.CommandContext(ctx, "/usr/sbin/lsof", "-n", "-P", "-w", "-a",
		"-iTCP:"+strconv.Itoa(client.Port), "-sTCP:ESTABLISHED", "-F", "pun").Output()
	if err != nil && len(out) == 0 {
		return peerUnknown
	}
	return lsofOwner(string(out), client, server, os.Getuid())
}
