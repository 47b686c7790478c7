package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// ServiceMaps are the load balancer's maps as the applier writes them: a
// frontend leads to a service port (by id), a service port has a lookup
// table of backend ids, a backend is an address of one service port.
// bpf.SocketLB implements it; MemoryServiceMaps is its in-memory twin.
type ServiceMaps interface {
	// PutService makes frontend f lead to service port svc, with client
	// affinity for that long when positive.
	PutService(f netip.AddrPort, proto uint8, svc uint32, affinity time.Duration) error
	// DeleteService removes a frontend (a missing one is no error).
	DeleteService(f netip.AddrPort, proto uint8) error
	// PutBackend stores backend id of service port svc; local is an
	// endpoint on this node. An id keeps its address: an endpoint that
	// moves is a new backend.
	PutBackend(id uint32, addr netip.AddrPort, svc uint32, local bool) error
	// DeleteBackend removes a backend (a missing one is no error).
	DeleteBackend(id uint32) error
	// PutTable replaces the lookup table of service port svc: count
	// backends, slots (at most LBTableSize) naming them; 0 refuses. The
	// backends it names are put first (the table holds their addresses).
	PutTable(svc uint32, count uint32, slots []uint32) error
	// DeleteTable removes a table (a missing one is no error).
	DeleteTable(svc uint32) error
	// PutExternal makes traffic from outside the node to frontend f lead
	// to service port svc; local is externalTrafficPolicy Local.
	PutExternal(f netip.AddrPort, proto uint8, svc uint32, local bool) error
	// DeleteExternal removes an external frontend (a missing one is no
	// error).
	DeleteExternal(f netip.AddrPort, proto uint8) error
}

// LBMapsContent is what the maps held when the agent started: pinned
// maps outlive the agent, and it takes them over instead of starting
// anew, so nothing routes differently during a restart.
type LBMapsContent struct {
	Frontends []LBMapFrontend
	External  []LBMapExternal
	Backends  []LBMapBackend
	// Tables are the service ports that have a table.
	Tables []uint32
}

// LBMapFrontend is a frontend in the maps.
type LBMapFrontend struct {
	LBFrontend
	Service  uint32
	Affinity time.Duration
}

// LBMapExternal is a frontend of traffic from outside in the maps.
type LBMapExternal struct {
	LBFrontend
	Service uint32
	Local   bool
}

// LBMapBackend is a backend in the maps.
type LBMapBackend struct {
	ID      uint32
	Addr    netip.AddrPort
	Service uint32
	Local   bool
}

// lbApplier brings the maps from what it last wrote to a new table, one
// write per changed thing: a changed endpoint is a backend write (or
// delete) and a table write. It is not safe for concurrent use.
type lbApplier struct {
	maps   ServiceMaps
	ports  map[string]*appliedPort    // by LBPort.Key
	keysOf map[string]map[string]bool // service NS/NAME -> its ports' keys
	orphan map[uint32]*appliedPort    // found in the maps, not claimed yet
	owner  map[LBFrontend]*appliedPort
	// extOwner is the port each external frontend leads to.
	extOwner map[LBFrontend]*appliedPort
	strays   []uint32 // duplicate backends found in the maps
	nextID   uint32
}

type appliedPort struct {
	id        uint32
	frontends map[LBFrontend]time.Duration
	external  map[LBFrontend]bool       // external frontend -> externalTrafficPolicy Local
	backends  map[netip.AddrPort]uint32 // address -> backend id
	local     map[netip.AddrPort]bool   // backends on this node
	table     bool                      // the maps hold its table
	tableOf   []LBBackend               // the backends the table was made of
	maglev    bool
}

func newAppliedPort(id uint32) *appliedPort {
	return &appliedPort{id: id, frontends: map[LBFrontend]time.Duration{}, external: map[LBFrontend]bool{},
		backends: map[netip.AddrPort]uint32{}, local: map[netip.AddrPort]bool{}}
}

// newLBApplier starts from the maps' content.
func newLBApplier(maps ServiceMaps, c LBMapsContent) *lbApplier {
	a := &lbApplier{maps: maps, ports: map[string]*appliedPort{}, keysOf: map[string]map[string]bool{}, orphan: map[uint32]*appliedPort{},
		owner: map[LBFrontend]*appliedPort{}, extOwner: map[LBFrontend]*appliedPort{}, nextID: 1}
	port := func(id uint32) *appliedPort {
		a.nextID = max(a.nextID, id+1)
		p := a.orphan[id]
		if p == nil {
			p = newAppliedPort(id)
			a.orphan[id] = p
		}
		return p
	}
	for _, f := range c.Frontends {
		p := port(f.Service)
		p.frontends[f.LBFrontend] = f.Affinity
		a.owner[f.LBFrontend] = p
	}
	for _, f := range c.External {
		p := port(f.Service)
		p.external[f.LBFrontend] = f.Local
		a.extOwner[f.LBFrontend] = p
	}
	for _, b := range c.Backends {
		p := port(b.Service)
		a.nextID = max(a.nextID, b.ID+1)
		if _, dup := p.backends[b.Addr]; dup {
			a.strays = append(a.strays, b.ID)
			continue
		}
		p.backends[b.Addr] = b.ID
		p.local[b.Addr] = b.Local
	}
	for _, id := range c.Tables {
		port(id).table = true
	}
	return a
}

func (a *lbApplier) newID() uint32 {
	id := a.nextID
	a.nextID++
	if a.nextID == 0 {
		a.nextID = 1
	}
	return id
}

// apply writes what changed between the maps and t. After an error the
// maps hold part of the change and the applier knows which part: applying
// again finishes it.
func (a *lbApplier) apply(t ServiceTable) error {
	keys := make([]string, 0, len(t.Ports))
	for k := range t.Ports {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// First what is new or changed, so a frontend that moves between
	// services is never missing; then what went.
	for _, k := range keys {
		if err := a.put(t.Ports[k]); err != nil {
			return err
		}
	}
	gone := []string{}
	for k := range a.ports {
		if _, ok := t.Ports[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		if err := a.remove(a.ports[k]); err != nil {
			return err
		}
		a.forget(k)
	}
	orphans := make([]uint32, 0, len(a.orphan))
	for id := range a.orphan {
		orphans = append(orphans, id)
	}
	slices.Sort(orphans)
	for _, id := range orphans {
		if err := a.remove(a.orphan[id]); err != nil {
			return err
		}
		delete(a.orphan, id)
	}
	for len(a.strays) > 0 {
		if err := a.maps.DeleteBackend(a.strays[0]); err != nil {
			return err
		}
		a.strays = a.strays[1:]
	}
	return nil
}

// applyService writes what changed in the ports of one service, name
// (NS/NAME), whose ports are now those of t (none when it is gone).
func (a *lbApplier) applyService(name string, t ServiceTable) error {
	keys := make([]string, 0, len(t.Ports))
	for k, p := range t.Ports {
		if serviceOfKey(k) != name {
			return fmt.Errorf("service %s: port %s is another service's", name, p.Key)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := a.put(t.Ports[k]); err != nil {
			return err
		}
	}
	gone := []string{}
	for k := range a.keysOf[name] {
		if _, ok := t.Ports[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		if err := a.remove(a.ports[k]); err != nil {
			return err
		}
		a.forget(k)
	}
	return nil
}

// serviceOfKey is the NS/NAME of a port key NS/NAME:PORT/PROTO.
func serviceOfKey(k string) string {
	name, _, _ := strings.Cut(k, ":")
	return name
}

func (a *lbApplier) forget(k string) {
	delete(a.ports, k)
	name := serviceOfKey(k)
	delete(a.keysOf[name], k)
	if len(a.keysOf[name]) == 0 {
		delete(a.keysOf, name)
	}
}

func (a *lbApplier) remember(k string, ap *appliedPort) {
	a.ports[k] = ap
	name := serviceOfKey(k)
	if a.keysOf[name] == nil {
		a.keysOf[name] = map[string]bool{}
	}
	a.keysOf[name][k] = true
}

// claim finds the state of port p: known, or found in the maps under one
// of its frontends, or new.
func (a *lbApplier) claim(p *LBPort) *appliedPort {
	if ap := a.ports[p.Key]; ap != nil {
		return ap
	}
	for _, f := range p.Frontends {
		if o := a.owner[f]; o != nil && a.orphan[o.id] == o {
			delete(a.orphan, o.id)
			a.remember(p.Key, o)
			return o
		}
	}
	for _, f := range p.External {
		if o := a.extOwner[f]; o != nil && a.orphan[o.id] == o {
			delete(a.orphan, o.id)
			a.remember(p.Key, o)
			return o
		}
	}
	ap := newAppliedPort(a.newID())
	a.remember(p.Key, ap)
	return ap
}

func (a *lbApplier) put(p *LBPort) error {
	ap := a.claim(p)
	want := map[netip.AddrPort]bool{}
	for _, b := range p.Backends {
		want[b.Addr] = true
		id, ok := ap.backends[b.Addr]
		if ok && ap.local[b.Addr] == b.Local {
			continue
		}
		if !ok {
			id = a.newID()
		}
		if err := a.maps.PutBackend(id, b.Addr, ap.id, b.Local); err != nil {
			return fmt.Errorf("service port %s: %w", p.Key, err)
		}
		ap.backends[b.Addr] = id
		ap.local[b.Addr] = b.Local
	}
	if !ap.table || ap.maglev != p.Maglev || !slices.Equal(ap.tableOf, p.Backends) {
		slots := make([]uint32, 0, LBTableSize)
		for _, i := range lbSlots(p.Backends, LBTableSize, p.Maglev) {
			slots = append(slots, ap.backends[p.Backends[i].Addr])
		}
		if err := a.maps.PutTable(ap.id, uint32(len(p.Backends)), slots); err != nil {
			return fmt.Errorf("service port %s: %w", p.Key, err)
		}
		ap.table, ap.maglev, ap.tableOf = true, p.Maglev, slices.Clone(p.Backends)
	}
	for _, addr := range sortedAddrs(ap.backends) {
		if want[addr] {
			continue
		}
		if err := a.maps.DeleteBackend(ap.backends[addr]); err != nil {
			return fmt.Errorf("service port %s: %w", p.Key, err)
		}
		delete(ap.backends, addr)
		delete(ap.local, addr)
	}
	err := syncFrontends(ap, ap.frontends, a.owner, p.Frontends, p.Affinity,
		func(o *appliedPort) map[LBFrontend]time.Duration { return o.frontends },
		func(f LBFrontend) error { return a.maps.PutService(f.Addr, f.Proto, ap.id, p.Affinity) },
		func(f LBFrontend) error { return a.maps.DeleteService(f.Addr, f.Proto) })
	if err == nil {
		err = syncFrontends(ap, ap.external, a.extOwner, p.External, p.ExternalLocal,
			func(o *appliedPort) map[LBFrontend]bool { return o.external },
			func(f LBFrontend) error { return a.maps.PutExternal(f.Addr, f.Proto, ap.id, p.ExternalLocal) },
			func(f LBFrontend) error { return a.maps.DeleteExternal(f.Addr, f.Proto) })
	}
	if err != nil {
		return fmt.Errorf("service port %s: %w", p.Key, err)
	}
	return nil
}

// syncFrontends makes port ap hold exactly the frontends want, each with
// value v (a service frontend's affinity, an external one's Local
// policy), in have and owner: it puts those missing, changed or held by
// another port (taking them from it, as of held), and deletes the rest.
func syncFrontends[V comparable](ap *appliedPort, have map[LBFrontend]V, owner map[LBFrontend]*appliedPort, want []LBFrontend, v V,
	held func(*appliedPort) map[LBFrontend]V, put, del func(LBFrontend) error) error {
	wanted := map[LBFrontend]bool{}
	for _, f := range want {
		wanted[f] = true
		if cur, ok := have[f]; ok && cur == v && owner[f] == ap {
			continue
		}
		if err := put(f); err != nil {
			return err
		}
		if o := owner[f]; o != nil && o != ap {
			delete(held(o), f)
		}
		have[f] = v
		owner[f] = ap
	}
	for _, f := range sortedKeys(have) {
		if wanted[f] {
			continue
		}
		if err := del(f); err != nil {
			return err
		}
		delete(have, f)
		delete(owner, f)
	}
	return nil
}

// remove deletes a port's frontends, then its table, then its backends.
func (a *lbApplier) remove(ap *appliedPort) error {
	for _, f := range sortedKeys(ap.external) {
		if a.extOwner[f] == ap {
			if err := a.maps.DeleteExternal(f.Addr, f.Proto); err != nil {
				return err
			}
			delete(a.extOwner, f)
		}
		delete(ap.external, f)
	}
	for _, f := range sortedKeys(ap.frontends) {
		if a.owner[f] == ap {
			if err := a.maps.DeleteService(f.Addr, f.Proto); err != nil {
				return err
			}
			delete(a.owner, f)
		}
		delete(ap.frontends, f)
	}
	if ap.table {
		if err := a.maps.DeleteTable(ap.id); err != nil {
			return err
		}
		ap.table = false
	}
	for _, addr := range sortedAddrs(ap.backends) {
		if err := a.maps.DeleteBackend(ap.backends[addr]); err != nil {
			return err
		}
		delete(ap.backends, addr)
		delete(ap.local, addr)
	}
	return nil
}

func sortedAddrs(m map[netip.AddrPort]uint32) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y netip.AddrPort) int { return x.Compare(y) })
	return out
}

// sortedKeys are a port's frontends in a fixed order.
func sortedKeys[V any](m map[LBFrontend]V) []LBFrontend {
	out := make([]LBFrontend, 0, len(m))
	for f := range m {
		out = append(out, f)
	}
	return sortFrontends(out)
}
