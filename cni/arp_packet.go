package cni

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// ARP operations (RFC 826).
const (
	arpRequest = 1
	arpReply   = 2
)

// arpLen is the length of an ARP message for Ethernet and IPv4.
const arpLen = 28

var ethernetBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpPacket is an ARP message for IPv4 over Ethernet, without the
// Ethernet header (packet sockets of type SOCK_DGRAM add and strip it).
type arpPacket struct {
	Op        uint16
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// marshal encodes p; the addresses must be 6-byte MACs and IPv4.
func (p arpPacket) marshal() []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[0:2], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(b[2:4], 0x0800) // protocol: IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], p.Op)
	copy(b[8:14], p.SenderMAC)
	s, t := p.SenderIP.As4(), p.TargetIP.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], p.TargetMAC)
	copy(b[24:28], t[:])
	return b
}

// parseARP decodes an Ethernet/IPv4 ARP message. Bytes after the message
// (Ethernet padding) are ignored.
func parseARP(b []byte) (arpPacket, error) {
	if len(b) < arpLen {
		return arpPacket{}, fmt.Errorf("arp: %d bytes, want at least %d", len(b), arpLen)
	}
	if h, p := binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]); h != 1 || p != 0x0800 {
		return arpPacket{}, fmt.Errorf("arp: hardware type %d and protocol %#04x, want Ethernet (1) and IPv4 (0x0800)", h, p)
	}
	if b[4] != 6 || b[5] != 4 {
		return arpPacket{}, fmt.Errorf("arp: address lengths %d and %d, want 6 and 4", b[4], b[5])
	}
	p := arpPacket{
		Op:        binary.BigEndian.Uint16(b[6:8]),
		SenderMAC: net.HardwareAddr(append([]byte(nil), b[8:14]...)),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: net.HardwareAddr(append([]byte(nil), b[18:24]...)),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}
	if p.Op != arpRequest && p.Op != arpReply {
		return arpPacket{}, fmt.Errorf("arp: operation %d, want request (1) or reply (2)", p.Op)
	}
	return p, nil
}

// gratuitousARP announces that ip is at mac to every host on the link:
// an unsolicited reply sent to the broadcast address.
func gratuitousARP(mac net.HardwareAddr, ip netip.Addr) arpPacket {
	return arpPacket{Op: arpReply, SenderMAC: mac, SenderIP: ip, TargetMAC: ethernetBroadcast, TargetIP: ip}
}
