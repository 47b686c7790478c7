package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// MemoryServiceMaps keeps the load balancer's maps in memory, for tests
// without a kernel: it counts writes and answers which backends a
// frontend leads to.
type MemoryServiceMaps struct {
	mu        sync.Mutex
	writes    int
	frontends map[LBFrontend]LBMapFrontend
	external  map[LBFrontend]LBMapExternal
	backends  map[uint32]LBMapBackend
	tables    map[uint32]memoryTable
}

type memoryTable struct {
	count uint32
	slots []uint32
}

var _ ServiceMaps = (*MemoryServiceMaps)(nil)

// NewMemoryServiceMaps returns empty maps.
func NewMemoryServiceMaps() *MemoryServiceMaps {
	return &MemoryServiceMaps{frontends: map[LBFrontend]LBMapFrontend{}, external: map[LBFrontend]LBMapExternal{}, backends: map[uint32]LBMapBackend{},
		tables: map[uint32]memoryTable{}}
}

func (m *MemoryServiceMaps) PutService(f netip.AddrPort, proto uint8, svc uint32, affinity time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	k := LBFrontend{Addr: f, Proto: proto}
	m.frontends[k] = LBMapFrontend{LBFrontend: k, Service: svc, Affinity: affinity}
	return nil
}

func (m *MemoryServiceMaps) DeleteService(f netip.AddrPort, proto uint8) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	delete(m.frontends, LBFrontend{Addr: f, Proto: proto})
	return nil
}

func (m *MemoryServiceMaps) PutBackend(id uint32, addr netip.AddrPort, svc uint32, local bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	m.backends[id] = LBMapBackend{ID: id, Addr: addr, Service: svc, Local: local}
	return nil
}

func (m *MemoryServiceMaps) PutExternal(f netip.AddrPort, proto uint8, svc uint32, local bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	k := LBFrontend{Addr: f, Proto: proto}
	m.external[k] = LBMapExternal{LBFrontend: k, Service: svc, Local: local}
	return nil
}

func (m *MemoryServiceMaps) DeleteExternal(f netip.AddrPort, proto uint8) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	delete(m.external, LBFrontend{Addr: f, Proto: proto})
	return nil
}

func (m *MemoryServiceMaps) DeleteBackend(id uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	delete(m.backends, id)
	return nil
}

func (m *MemoryServiceMaps) PutTable(svc uint32, count uint32, slots []uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(slots) > LBTableSize {
		return fmt.Errorf("table of service %d: %d slots, at most %d", svc, len(slots), LBTableSize)
	}
	m.writes++
	m.tables[svc] = memoryTable{count: count, slots: slices.Clone(slots)}
	return nil
}

func (m *MemoryServiceMaps) DeleteTable(svc uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	delete(m.tables, svc)
	return nil
}

// Writes is the number of writes and deletes so far.
func (m *MemoryServiceMaps) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Content is what the maps hold, as an agent finds it when it starts.
func (m *MemoryServiceMaps) Content() LBMapsContent {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c LBMapsContent
	for _, f := range m.frontends {
		c.Frontends = append(c.Frontends, f)
	}
	for _, f := range m.external {
		c.External = append(c.External, f)
	}
	for _, b := range m.backends {
		c.Backends = append(c.Backends, b)
	}
	for id := range m.tables {
		c.Tables = append(c.Tables, id)
	}
	return c
}

// Resolve is what the programs would do with a connection to f: the
// backends its table names and how many slots each has (nil for no
// service). A slot naming a backend that is missing or of another
// service is an error.
func (m *MemoryServiceMaps) Resolve(f LBFrontend) (map[netip.AddrPort]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fe, ok := m.frontends[f]
	if !ok {
		return nil, nil
	}
	t := m.tables[fe.Service]
	out := map[netip.AddrPort]int{}
	if t.count == 0 {
		return out, nil
	}
	for _, id := range t.slots {
		b, ok := m.backends[id]
		if !ok || b.Service != fe.Service {
			return nil, fmt.Errorf("frontend %s: slot names backend %d, which is not one of service %d", f, id, fe.Service)
		}
		out[b.Addr]++
	}
	return out, nil
}

// ResolveExternal is what the tc programs would do with traffic from
// outside to f: the backends its table names, how many slots each has,
// and whether it keeps the client's address (nil for no frontend).
func (m *MemoryServiceMaps) ResolveExternal(f LBFrontend) (map[netip.AddrPort]int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ext, ok := m.external[f]
	if !ok {
		return nil, false, nil
	}
	t := m.tables[ext.Service]
	out := map[netip.AddrPort]int{}
	if t.count == 0 {
		return out, ext.Local, nil
	}
	for _, id := range t.slots {
		b, ok := m.backends[id]
		if !ok || b.Service != ext.Service {
			return nil, false, fmt.Errorf("external frontend %s: slot names backend %d, which is not one of service %d", f, id, ext.Service)
		}
		out[b.Addr]++
	}
	return out, ext.Local, nil
}

// Frontends is the number of frontends held.
func (m *MemoryServiceMaps) Frontends() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.frontends)
}
