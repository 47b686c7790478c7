package bpf

import (
	"fmt"
	"net/netip"
)

const externalLocal = 1 // EXT_F_LOCAL

// ExternalFrontend is a frontend the tc programs serve to traffic from
// outside the node: a node address and NodePort, a load balancer address
// or an external IP.
type ExternalFrontend struct {
	Addr    netip.AddrPort
	Proto   uint8
	Service uint32
	// Local is externalTrafficPolicy Local: the service port's table holds
	// only this node's backends, the client's address is kept, and a
	// packet with no backend is dropped.
	Local bool
}

// PutExternal makes traffic from outside to frontend f lead to service
// port svc's table; local is externalTrafficPolicy Local.
func (s *SocketLB) PutExternal(f netip.AddrPort, proto uint8, svc uint32, local bool) error {
	k, err := svcKey(f, proto)
	if err != nil {
		return err
	}
	v := sockExtValue{Id: svc}
	if local {
		v.Flags = externalLocal
	}
	if err := s.objs.KeelExternal.Put(&k, &v); err != nil {
		return fmt.Errorf("put external frontend %s/%d: %w", f, proto, err)
	}
	return nil
}

// DeleteExternal removes an external frontend; deleting a missing one is
// no error.
func (s *SocketLB) DeleteExternal(f netip.AddrPort, proto uint8) error {
	k, err := svcKey(f, proto)
	if err != nil {
		return err
	}
	return deleteKey(s.objs.KeelExternal, &k, fmt.Sprintf("external frontend %s/%d", f, proto))
}

func (s *SocketLB) dumpExternal() ([]ExternalFrontend, error) {
	var out []ExternalFrontend
	var k sockSvcKey
	var v sockExtValue
	it := s.objs.KeelExternal.Iterate()
	for it.Next(&k, &v) {
		out = append(out, ExternalFrontend{
			Addr:    netip.AddrPortFrom(fromAddr4(k.Addr), fromPort16(k.Port)),
			Proto:   k.Proto,
			Service: v.Id,
			Local:   v.Flags&externalLocal != 0,
		})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("dump external frontends: %w", err)
	}
	return out, nil
}
