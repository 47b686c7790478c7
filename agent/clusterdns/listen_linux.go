package clusterdns

import (
	"fmt"
	"syscall"
)

// freeBind lets a socket bind an address no link holds yet
// (IP_FREEBIND): the pod bridge's, before the first pod makes the bridge.
// The socket receives once the address appears.
func freeBind(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("IP_FREEBIND on %s %s: %w", network, address, err)
	}
	return nil
}
