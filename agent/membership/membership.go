// Package membership is the agent's gossip layer: hashicorp/serf (and
// memberlist underneath) with the cluster's key, its members and the
// tags they announce. It knows nothing of what the tags mean; the agent
// turns the view into elections, Node conditions and routes.
package membership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/serf/serf"
)

// KeySize is the length of the gossip key: AES-256.
const KeySize = 32

// Config configures a member.
type Config struct {
	NodeName string
	// Bind is the gossip listen address (host:port; port 0 picks one).
	Bind string
	// Advertise is the address other members reach this one at; the
	// bind address when empty.
	Advertise string
	// Key encrypts and authenticates all gossip; KeySize bytes.
	Key  []byte
	Tags Tags
	// SnapshotPath keeps the last known members, so a restarted agent
	// rejoins by itself; none when empty.
	SnapshotPath string
	// Fast shortens failure detection for small clusters on fast
	// networks (a dead member is declared within about two seconds).
	Fast bool
	Log  *slog.Logger
}

// Status is a member's liveness as gossip sees it.
type Status string

const (
	Alive  Status = "alive"
	Failed Status = "failed"
	Left   Status = "left"
)

// Member is one member of the cluster.
type Member struct {
	Name   string
	Addr   netip.AddrPort
	Status Status
	Tags   Tags
	// TagErr says why the member's tags could not be read; its Tags are
	// then empty and it is never a candidate.
	TagErr error
}

// Membership is a running member.
type Membership struct {
	serf   *serf.Serf
	log    *slog.Logger
	events chan serf.Event
	done   chan struct{}

	mu   sync.Mutex
	tags Tags
	subs []chan struct{}
}

// Start creates the member and starts gossiping; Join connects it to the
// others.
func Start(cfg Config) (*Membership, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("membership: a node name is required")
	}
	if len(cfg.Key) != KeySize {
		return nil, fmt.Errorf("membership: the gossip key must be %d bytes, not %d", KeySize, len(cfg.Key))
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	bindHost, bindPort, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("membership: bind address: %w", err)
	}
	lg := log.New(&logWriter{log: cfg.Log}, "", 0)

	ml := memberlist.DefaultLANConfig()
	ml.BindAddr, ml.BindPort = bindHost, bindPort
	ml.AdvertisePort = bindPort
	if cfg.Advertise != "" {
		h, p, err := splitHostPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("membership: advertise address: %w", err)
		}
		ml.AdvertiseAddr, ml.AdvertisePort = h, p
	}
	ml.SecretKey = slices.Clone(cfg.Key)
	ml.GossipVerifyIncoming, ml.GossipVerifyOutgoing = true, true
	ml.Logger = lg
	if cfg.Fast {
		ml.ProbeInterval = 500 * time.Millisecond
		ml.ProbeTimeout = 250 * time.Millisecond
		ml.GossipInterval = 100 * time.Millisecond
		ml.SuspicionMult = 2
		ml.PushPullInterval = 5 * time.Second
	}

	sc := serf.DefaultConfig()
	sc.NodeName = cfg.NodeName
	sc.MemberlistConfig = ml
	sc.Tags = cfg.Tags.Encode()
	sc.Logger = lg
	sc.SnapshotPath = cfg.SnapshotPath
	sc.RejoinAfterLeave = true
	sc.ReapInterval = 5 * time.Second
	sc.ReconnectInterval = 5 * time.Second
	sc.ReconnectTimeout = time.Hour
	sc.TombstoneTimeout = time.Hour
	sc.EnableNameConflictResolution = true
	events := make(chan serf.Event, 256)
	sc.EventCh = events

	s, err := serf.Create(sc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.Bind, err)
	}
	m := &Membership{serf: s, log: cfg.Log, events: events, done: make(chan struct{}), tags: cfg.Tags}
	go m.loop()
	return m, nil
}

// loop turns serf's events into change notifications.
func (m *Membership) loop() {
	defer close(m.done)
	for {
		select {
		case e := <-m.events:
			if me, ok := e.(serf.MemberEvent); ok {
				for _, mb := range me.Members {
					m.log.Info("member "+strings.TrimPrefix(me.Type.String(), "member-"), "member", mb.Name, "addr", net.JoinHostPort(mb.Addr.String(), strconv.Itoa(int(mb.Port))))
				}
			}
			m.notify()
		case <-m.serf.ShutdownCh():
			return
		}
	}
}

func (m *Membership) notify() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel of the caller's own that receives a value
// (coalesced) whenever a member joins, leaves, fails, recovers or changes
// its tags. Each consumer subscribes once.
func (m *Membership) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs = append(m.subs, c)
	m.mu.Unlock()
	return c
}

// Join contacts the given members (host:port) and returns how many
// answered; it fails only when none did.
func (m *Membership) Join(addrs []string) (int, error) {
	n, err := m.serf.Join(addrs, true)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = errors.New("no member answered")
	}
	return 0, fmt.Errorf("join %s: %w", strings.Join(addrs, ","), err)
}

// JoinUntil retries Join until one member answers or ctx ends.
func (m *Membership) JoinUntil(ctx context.Context, addrs []string, every time.Duration) error {
	for {
		_, err := m.Join(addrs)
		if err == nil {
			return nil
		}
		m.log.Warn("join failed; retrying", "err", err, "in", every)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(every):
		}
	}
}

// Members is the current view, this member included, sorted by name.
func (m *Membership) Members() []Member {
	var out []Member
	for _, sm := range m.serf.Members() {
		mb := Member{Name: sm.Name, Status: status(sm.Status)}
		if a, ok := netip.AddrFromSlice(sm.Addr); ok {
			mb.Addr = netip.AddrPortFrom(a.Unmap(), sm.Port)
		}
		mb.Tags, mb.TagErr = DecodeTags(sm.Tags)
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Local is this member's name and gossip address.
func (m *Membership) Local() Member {
	l := m.serf.LocalMember()
	mb := Member{Name: l.Name, Status: Alive, Tags: m.Tags()}
	if a, ok := netip.AddrFromSlice(l.Addr); ok {
		mb.Addr = netip.AddrPortFrom(a.Unmap(), l.Port)
	}
	return mb
}

// Tags is what this member announces now.
func (m *Membership) Tags() Tags {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tags
}

// SetTags announces new tags (gossiped to every member within seconds).
func (m *Membership) SetTags(t Tags) error {
	return m.UpdateTags(func(cur *Tags) { *cur = t })
}

// UpdateTags changes some tags, atomically with respect to other
// updates, and announces the result.
func (m *Membership) UpdateTags(change func(*Tags)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tags
	change(&t)
	if t == m.tags {
		return nil
	}
	if err := m.serf.SetTags(t.Encode()); err != nil {
		return fmt.Errorf("announce tags: %w", err)
	}
	m.tags = t
	return nil
}

// Leave tells the others this member leaves on purpose (they mark it
// left, not failed), then stops gossip.
func (m *Membership) Leave() error {
	err := m.serf.Leave()
	return errors.Join(err, m.Shutdown())
}

// Shutdown stops gossip without telling anyone: the others see a
// failure.
func (m *Membership) Shutdown() error {
	err := m.serf.Shutdown()
	<-m.done
	return err
}

func status(s serf.MemberStatus) Status {
	switch s {
	case serf.StatusAlive:
		return Alive
	case serf.StatusLeft, serf.StatusLeaving:
		return Left
	default:
		return Failed
	}
}

func splitHostPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", hp)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, port, nil
}

// logWriter passes serf's and memberlist's log lines ("[LEVEL] text") to
// slog at the matching level.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	for prefix, l := range map[string]slog.Level{"[ERR]": slog.LevelError, "[ERROR]": slog.LevelError, "[WARN]": slog.LevelWarn, "[INFO]": slog.LevelDebug} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			line, level = strings.TrimSpace(rest), l
			break
		}
	}
	line = strings.TrimPrefix(line, "[DEBUG] ")
	w.log.Log(context.Background(), level, line, "component", "gossip")
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
