package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
)

// Protocols of frontends, as the kernel numbers them.
const (
	TCP uint8 = 6
	UDP uint8 = 17
)

const (
	svcAffinity  = 1 // SVC_F_AFFINITY
	backendLocal = 1 // BE_F_LOCAL
)

// The maps hold addresses and ports as the hooks see them: in network
// byte order, read as native integers.
func addr4(a netip.Addr) (uint32, error) {
	if !a.Is4() {
		return 0, fmt.Errorf("%s is not an IPv4 address", a)
	}
	b := a.As4()
	return binary.NativeEndian.Uint32(b[:]), nil
}

func fromAddr4(v uint32) netip.Addr {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func port16(p uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], p)
	return binary.NativeEndian.Uint16(b[:])
}

func fromPort16(v uint16) uint16 { return port16(v) }

func svcKey(f netip.AddrPort, proto uint8) (sockSvcKey, error) {
	if proto != TCP && proto != UDP {
		return sockSvcKey{}, fmt.Errorf("frontend %s: protocol %d is neither TCP nor UDP", f, proto)
	}
	a, err := addr4(f.Addr())
	if err != nil {
		return sockSvcKey{}, fmt.Errorf("frontend %s: %w", f, err)
	}
	return sockSvcKey{Addr: a, Port: port16(f.Port()), Proto: proto}, nil
}

// PutService makes the frontend f (address, port, protocol) lead to the
// service port svc: its table and backends. A positive affinity keeps a
// client (a network namespace) on its backend while it keeps connecting
// within that time.
func (s *SocketLB) PutService(f netip.AddrPort, proto uint8, svc uint32, affinity time.Duration) error {
	k, err := svcKey(f, proto)
	if err != nil {
		return err
	}
	v := sockSvcValue{Id: svc}
	if affinity > 0 {
		secs := affinity.Seconds()
		v.Flags = svcAffinity
		v.AffinityTimeout = uint32(min(math.Ceil(secs), math.MaxUint32))
	}
	if err := s.objs.KeelServices.Put(&k, &v); err != nil {
		return fmt.Errorf("put service %s/%d: %w", f, proto, err)
	}
	return nil
}

// DeleteService removes a frontend; deleting a missing one is no error.
func (s *SocketLB) DeleteService(f netip.AddrPort, proto uint8) error {
	k, err := svcKey(f, proto)
	if err != nil {
		return err
	}
	return deleteKey(s.objs.KeelServices, &k, fmt.Sprintf("service %s/%d", f, proto))
}

// PutBackend stores backend id, an endpoint address of service port svc;
// local says it runs on this node (traffic from outside reaches it without
// source translation). Tables hold the address of each backend they name,
// so an id keeps its address: an endpoint that moves is a new backend.
func (s *SocketLB) PutBackend(id uint32, addr netip.AddrPort, svc uint32, local bool) error {
	a, err := addr4(addr.Addr())
	if err != nil {
		return fmt.Errorf("backend %d: %w", id, err)
	}
	v := sockBackend{Addr: a, Port: port16(addr.Port()), Svc: svc}
	if local {
		v.Flags = backendLocal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.backends[id]; ok && (old.Addr != v.Addr || old.Port != v.Port) {
		return fmt.Errorf("put backend %d (%s): it has address %s: put a new backend instead",
			id, addr, netip.AddrPortFrom(fromAddr4(old.Addr), fromPort16(old.Port)))
	}
	if err := s.objs.KeelBackends.Put(&id, &v); err != nil {
		return fmt.Errorf("put backend %d (%s): %w", id, addr, err)
	}
	s.backends[id] = v
	return nil
}

// DeleteBackend removes a backend; deleting a missing one is no error.
func (s *SocketLB) DeleteBackend(id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := deleteKey(s.objs.KeelBackends, &id, fmt.Sprintf("backend %d", id)); err != nil {
		return err
	}
	delete(s.backends, id)
	return nil
}

// backend is a backend's entry, from this process's copy or else from the
// map. The caller holds s.mu.
func (s *SocketLB) backend(id uint32) (sockBackend, error) {
	if b, ok := s.backends[id]; ok {
		return b, nil
	}
	var b sockBackend
	if err := s.objs.KeelBackends.Lookup(&id, &b); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return b, fmt.Errorf("backend %d is not in the maps: put it before a table naming it", id)
		}
		return b, fmt.Errorf("backend %d: %w", id, err)
	}
	s.backends[id] = b
	return b, nil
}

// PutTable replaces service port svc's lookup table: count distinct
// backends, and slots, at most TableSize backend ids, repeated to fill
// the table when shorter. A count of 0 refuses connections
// (ECONNREFUSED). Each slot holds its backend's address too, so the
// backends must be in the maps first.
func (s *SocketLB) PutTable(svc uint32, count uint32, slots []uint32) error {
	if len(slots) > TableSize {
		return fmt.Errorf("table of service %d: %d slots, at most %d", svc, len(slots), TableSize)
	}
	if count > 0 && len(slots) == 0 {
		return fmt.Errorf("table of service %d: %d backends but no slots", svc, count)
	}
	v := sockTable{Count: count}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The few backends of a table are looked up once each, the last
	// ones found first.
	type found struct {
		id uint32
		b  sockBackend
	}
	var few [16]found
	n := 0
	for i := range v.Slot {
		if len(slots) == 0 {
			break
		}
		id := slots[i%len(slots)]
		k := 0
		for k < n && few[k].id != id {
			k++
		}
		if k == n {
			b, err := s.backend(id)
			if err != nil {
				return fmt.Errorf("table of service %d: %w", svc, err)
			}
			if n < len(few) {
				n++
			} else {
				k = i % len(few)
			}
			few[k] = found{id, b}
		}
		b := few[k].b
		v.Slot[i].Addr, v.Slot[i].Port, v.Slot[i].Backend = b.Addr, b.Port, id
	}
	if err := s.objs.KeelTables.Put(&svc, &v); err != nil {
		return fmt.Errorf("put table of service %d: %w", svc, err)
	}
	return nil
}

// DeleteTable removes service port svc's table; deleting a missing one is
// no error.
func (s *SocketLB) DeleteTable(svc uint32) error {
	return deleteKey(s.objs.KeelTables, &svc, fmt.Sprintf("table of service %d", svc))
}

func deleteKey(m *ebpf.Map, key any, what string) error {
	if err := m.Delete(key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	return nil
}

// Frontend is a service address in the maps.
type Frontend struct {
	Addr     netip.AddrPort
	Proto    uint8
	Service  uint32
	Affinity time.Duration
}

// Backend is an endpoint address in the maps.
type Backend struct {
	ID      uint32
	Addr    netip.AddrPort
	Service uint32
	// Local is a backend on this node.
	Local bool
}

// Table is a service port's lookup table in the maps.
type Table struct {
	Service uint32
	Count   uint32
	Slots   []uint32
}

// Snapshot is the content of the maps, read back after a restart.
type Snapshot struct {
	Frontends []Frontend
	// External are the frontends served to traffic from outside.
	External []ExternalFrontend
	Backends []Backend
	Tables   []Table
}

// Dump reads the maps' services, backends and tables (not the LRU state
// of affinity and reverse translation).
func (s *SocketLB) Dump() (Snapshot, error) {
	var snap Snapshot
	var err error
	var k sockSvcKey
	var v sockSvcValue
	it := s.objs.KeelServices.Iterate()
	for it.Next(&k, &v) {
		f := Frontend{
			Addr:    netip.AddrPortFrom(fromAddr4(k.Addr), fromPort16(k.Port)),
			Proto:   k.Proto,
			Service: v.Id,
		}
		if v.Flags&svcAffinity != 0 {
			f.Affinity = time.Duration(v.AffinityTimeout) * time.Second
		}
		snap.Frontends = append(snap.Frontends, f)
	}
	if err := it.Err(); err != nil {
		return snap, fmt.Errorf("dump services: %w", err)
	}
	var id uint32
	var b sockBackend
	bit := s.objs.KeelBackends.Iterate()
	for bit.Next(&id, &b) {
		snap.Backends = append(snap.Backends, Backend{
			ID: id, Addr: netip.AddrPortFrom(fromAddr4(b.Addr), fromPort16(b.Port)), Service: b.Svc,
			Local: b.Flags&backendLocal != 0,
		})
	}
	if err := bit.Err(); err != nil {
		return snap, fmt.Errorf("dump backends: %w", err)
	}
	if snap.External, err = s.dumpExternal(); err != nil {
		return snap, err
	}
	var t sockTable
	tit := s.objs.KeelTables.Iterate()
	for tit.Next(&id, &t) {
		ids := make([]uint32, len(t.Slot))
		for i, sl := range t.Slot {
			ids[i] = sl.Backend
		}
		snap.Tables = append(snap.Tables, Table{Service: id, Count: t.Count, Slots: ids})
	}
	if err := tit.Err(); err != nil {
		return snap, fmt.Errorf("dump tables: %w", err)
	}
	return snap, nil
}
