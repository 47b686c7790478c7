package cni

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ARPResponder answers ARP requests for a set of IPv4 addresses on one
// interface with that interface's MAC, the way a host answers for its own
// addresses, without adding them to the interface. It sends a gratuitous
// ARP for each address it takes, so neighbours that cached another
// node's MAC for it update at once. It holds a packet socket only while
// it has addresses.
type ARPResponder struct {
	ifname string
	// addrs is the current set; the reader reads it without the lock.
	addrs atomic.Pointer[map[netip.Addr]bool]

	mu     sync.Mutex // guards the socket and its reader
	conn   *packet.Conn
	mac    net.HardwareAddr
	stop   chan struct{}
	reader sync.WaitGroup
}

// NewARPResponder answers on the interface ifname once it has addresses.
// It opens nothing yet.
func NewARPResponder(ifname string) *ARPResponder {
	r := &ARPResponder{ifname: ifname}
	r.addrs.Store(&map[netip.Addr]bool{})
	return r
}

// Interface is the name of the interface it answers on.
func (r *ARPResponder) Interface() string { return r.ifname }

// Addrs is the addresses it answers for, sorted.
func (r *ARPResponder) Addrs() []netip.Addr {
	var out []netip.Addr
	for a := range *r.addrs.Load() {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Set makes addrs the addresses it answers for: it sends a gratuitous ARP
// for each address it did not have, stops answering for those left out,
// and closes its socket when none are left. IPv6 addresses, which need
// neighbour discovery, are refused with an error and the others still
// set. The socket is opened in the calling thread's network namespace.
func (r *ARPResponder) Set(addrs []netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[netip.Addr]bool{}
	var v6 []string
	for _, a := range addrs {
		a = a.Unmap()
		if !a.Is4() {
			v6 = append(v6, a.String())
			continue
		}
		next[a] = true
	}
	var errs []error
	if len(v6) > 0 {
		errs = append(errs, fmt.Errorf("announce %v on %s: IPv6 addresses need neighbour discovery, which keel does not answer yet", v6, r.ifname))
	}
	if len(next) == 0 {
		r.addrs.Store(&next)
		r.closeLocked()
		return errors.Join(errs...)
	}
	if r.conn == nil {
		if err := r.openLocked(); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	prev := *r.addrs.Load()
	r.addrs.Store(&next)
	for a := range next {
		if prev[a] {
			continue
		}
		if _, err := r.conn.WriteTo(gratuitousARP(r.mac, a).marshal(), &packet.Addr{HardwareAddr: ethernetBroadcast}); err != nil {
			errs = append(errs, fmt.Errorf("gratuitous ARP for %s on %s: %w", a, r.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// Close stops answering and closes the socket. Closing twice is harmless.
func (r *ARPResponder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs.Store(&map[netip.Addr]bool{})
	r.closeLocked()
	return nil
}

func (r *ARPResponder) openLocked() error {
	ifi, err := net.InterfaceByName(r.ifname)
	if err != nil {
		return fmt.Errorf("arp responder: interface %s: %w", r.ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("arp responder: interface %s has no Ethernet address", r.ifname)
	}
	conn, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
	if err != nil {
		return fmt.Errorf("arp responder: packet socket on %s: %w", r.ifname, err)
	}
	r.conn, r.mac, r.stop = conn, ifi.HardwareAddr, make(chan struct{})
	r.reader.Add(1)
	go r.read(conn, ifi.HardwareAddr, r.stop)
	return nil
}

func (r *ARPResponder) closeLocked() {
	if r.conn == nil {
		return
	}
	close(r.stop)
	r.conn.Close()
	r.reader.Wait()
	r.conn = nil
}

// read answers requests for the current addresses until stop is closed.
func (r *ARPResponder) read(conn *packet.Conn, mac net.HardwareAddr, stop <-chan struct{}) {
	defer r.reader.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			// A link going down and up again: try again shortly.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		req, err := parseARP(buf[:n])
		if err != nil || !answers(req, mac, *r.addrs.Load()) {
			continue
		}
		reply := arpPacket{Op: arpReply, SenderMAC: mac, SenderIP: req.TargetIP, TargetMAC: req.SenderMAC, TargetIP: req.SenderIP}
		// A lost reply is asked again by the requester.
		_, _ = conn.WriteTo(reply.marshal(), &packet.Addr{HardwareAddr: req.SenderMAC})
	}
}

// answers reports whether req is a request for one of addrs from another
// host (a packet socket also sees what this host sends).
func answers(req arpPacket, mac net.HardwareAddr, addrs map[netip.Addr]bool) bool {
	return req.Op == arpRequest && addrs[req.TargetIP] && !bytes.Equal(req.SenderMAC, mac)
}

// InterfaceOf is the name of the interface holding address ip: a node's
// uplink, found by its advertise address.
func InterfaceOf(ip netip.Addr) (string, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return "", fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip.Unmap() {
			l, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				return "", fmt.Errorf("interface of %s: %w", ip, err)
			}
			return l.Attrs().Name, nil
		}
	}
	return "", fmt.Errorf("no interface holds %s: is it this machine's address?", ip)
}
