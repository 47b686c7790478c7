package bpf

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// revnatEntries counts keel_revnat's entries.
func (x *lbTest) revnatEntries() int {
	x.t.Helper()
	var k sockRevnatKey
	var v sockRevnatValue
	n := 0
	it := x.lb.objs.KeelRevnat.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		x.t.Fatal(err)
	}
	return n
}

func TestSocketLB_connectedSocketsKeepTheirOwnTranslation(t *testing.T) {
	x := newLBTest(t)
	x.service(8, 0, backends...)
	// TCP: each connection's peer reads as the service (tally checks it).
	x.tally(20)
	var buf [64]byte
	x.net.do(t, func() error {
		// Connected UDP: getpeername and replies show the service.
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(vip.Port()), Addr: vip.Addr().As4()}); err != nil {
			return err
		}
		if peer := peerOf(t, fd); peer != vip {
			t.Errorf("connected UDP peer %s, want %s", peer, vip)
		}
		if _, err := syscall.Write(fd, []byte("hi")); err != nil {
			return err
		}
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: 2})
		n, from, err := syscall.Recvfrom(fd, buf[:], 0)
		if err != nil {
			return err
		}
		if got := sockaddrPort(from); got != vip {
			t.Errorf("connected UDP reply from %s, want %s", got, vip)
		}
		// Connected again, straight to the backend that answered: the
		// socket no longer shows the service.
		be := netip.MustParseAddrPort(string(buf[:n]))
		if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(be.Port()), Addr: be.Addr().As4()}); err != nil {
			return err
		}
		if peer := peerOf(t, fd); peer != be {
			t.Errorf("UDP connected again to %s: peer %s", be, peer)
		}
		return nil
	})
	// None of this used the shared map of datagrams.
	if n := x.revnatEntries(); n != 0 {
		t.Errorf("keel_revnat holds %d entries after connected sockets only, want 0", n)
	}
	// An unconnected datagram does.
	x.net.do(t, func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		return syscall.Sendto(fd, []byte("hi"), 0, &syscall.SockaddrInet4{Port: int(vip.Port()), Addr: vip.Addr().As4()})
	})
	if n := x.revnatEntries(); n != 1 {
		t.Errorf("keel_revnat holds %d entries after one datagram, want 1", n)
	}
}

func TestSocketLB_tablesNeedTheirBackends(t *testing.T) {
	x := newLBTest(t)
	err := x.lb.PutTable(9, 1, []uint32{900})
	if err == nil || !strings.Contains(err.Error(), "backend 900 is not in the maps") {
		t.Errorf("table naming a missing backend: %v", err)
	}
	a := netip.MustParseAddrPort("10.77.0.1:8080")
	if err := x.lb.PutBackend(901, a, 9, false); err != nil {
		t.Fatal(err)
	}
	if err := x.lb.PutBackend(901, a, 9, true); err != nil {
		t.Errorf("backend becoming local: %v", err)
	}
	err = x.lb.PutBackend(901, netip.MustParseAddrPort("10.77.0.2:8080"), 9, false)
	if err == nil || !strings.Contains(err.Error(), "has address 10.77.0.1:8080") {
		t.Errorf("backend changing its address: %v", err)
	}
	if err := x.lb.DeleteBackend(901); err != nil {
		t.Fatal(err)
	}
	if err := x.lb.PutBackend(901, netip.MustParseAddrPort("10.77.0.2:8080"), 9, false); err != nil {
		t.Errorf("id reused after a delete: %v", err)
	}
}

func peerOf(t *testing.T, fd int) netip.AddrPort {
	t.Helper()
	sa, err := syscall.Getpeername(fd)
	if err != nil {
		t.Fatalf("getpeername: %v", err)
	}
	return sockaddrPort(sa)
}

func sockaddrPort(sa syscall.Sockaddr) netip.AddrPort {
	if in, ok := sa.(*syscall.SockaddrInet4); ok {
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
	}
	return netip.AddrPort{}
}
