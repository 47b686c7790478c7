package clusterdns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// ErrNotSynced is returned before the Services were read from the API
// or from a saved snapshot once.
var ErrNotSynced = errors.New("services have not been read from the API yet")

const (
	// rebuildGap is the least time between two rebuilds of the view:
	// changes arriving in a burst are folded into one.
	rebuildGap = 100 * time.Millisecond
	// saveGap is how often a changed state is saved to the snapshot.
	saveGap = 5 * time.Second
)

// Source keeps the cluster's Services and EndpointSlices through
// client-go informers (the whole cluster) and the View built from them.
// When the API goes away the informers keep their last state, so the
// view keeps answering while they reconnect; with a snapshot file, the
// last state also survives a restart of the agent without the API.
type Source struct {
	opts     Options
	snapshot string
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	view     atomic.Pointer[View]
	saved    atomic.Pointer[state] // the snapshot's state until the informers sync
	changed  chan struct{}
	log      *slog.Logger
}

// state is what a snapshot holds.
type state struct {
	Services       []*corev1.Service            `json:"services"`
	EndpointSlices []*discoveryv1.EndpointSlice `json:"endpointSlices"`
}

// NewSource watches the Services and EndpointSlices of f (shared with
// the node's other watchers of them); Run starts it. snapshot is a file
// keeping the last state across restarts ("" keeps none): read here, so
// the view and Services answer from it at once.
func NewSource(f informers.SharedInformerFactory, opts Options, snapshot string, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Source{opts: opts, snapshot: snapshot, factory: f, changed: make(chan struct{}, 1), log: log}
	svc := f.Core().V1().Services()
	eps := f.Discovery().V1().EndpointSlices()
	s.services, s.slices = svc.Lister(), eps.Lister()
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.poke() },
		UpdateFunc: func(any, any) { s.poke() },
		DeleteFunc: func(any) { s.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{svc.Informer(), eps.Informer()} {
		if _, err := inf.AddEventHandler(poke); err != nil {
			return nil, err
		}
		s.synced = append(s.synced, inf.HasSynced)
	}
	if st, err := s.load(); err != nil {
		log.Warn("cluster DNS snapshot unreadable; starting empty", "file", snapshot, "err", err)
	} else if st != nil {
		s.saved.Store(st)
		s.view.Store(NewView(opts, st.Services, st.EndpointSlices))
		log.Info("cluster DNS serving its snapshot until the API answers", "services", len(st.Services))
	}
	return s, nil
}

func (s *Source) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run feeds the informers and rebuilds the view after changes until ctx
// ends, then saves the snapshot.
func (s *Source) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil
	}
	s.saved.Store(nil)
	tick := time.NewTicker(saveGap)
	defer tick.Stop()
	dirty := true
	for {
		if err := s.rebuild(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return s.save(dirty)
		case <-time.After(rebuildGap):
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return s.save(dirty)
			case <-tick.C:
				if err := s.save(dirty); err != nil {
					s.log.Warn("save cluster DNS snapshot", "file", s.snapshot, "err", err)
				}
				dirty = false
			case <-s.changed:
				dirty, waiting = true, false
			}
		}
	}
}

func (s *Source) current() (*state, error) {
	svcs, err := s.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	slices, err := s.slices.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return &state{Services: svcs, EndpointSlices: slices}, nil
}

func (s *Source) rebuild() error {
	st, err := s.current()
	if err != nil {
		return err
	}
	s.view.Store(NewView(s.opts, st.Services, st.EndpointSlices))
	return nil
}

// save writes the current state to the snapshot file when dirty.
func (s *Source) save(dirty bool) error {
	if s.snapshot == "" || !dirty {
		return nil
	}
	st, err := s.current()
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.snapshot), 0o700); err != nil {
		return err
	}
	tmp := s.snapshot + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.snapshot)
}

// load reads the snapshot; nil without one.
func (s *Source) load() (*state, error) {
	if s.snapshot == "" {
		return nil, nil
	}
	data, err := os.ReadFile(s.snapshot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", s.snapshot, err)
	}
	return &st, nil
}

// View is the latest view, nil until the informers first synced or a
// snapshot was read.
func (s *Source) View() *View { return s.view.Load() }

// Services lists the services of namespace from the informer's cache, or
// from the snapshot until the informers sync. The objects are shared:
// callers must not change them.
func (s *Source) Services(namespace string) ([]*corev1.Service, error) {
	synced := true
	for _, ok := range s.synced {
		synced = synced && ok()
	}
	if synced {
		return s.services.Services(namespace).List(labels.Everything())
	}
	st := s.saved.Load()
	if st == nil {
		return nil, ErrNotSynced
	}
	var out []*corev1.Service
	for _, svc := range st.Services {
		if svc.Namespace == namespace {
			out = append(out, svc)
		}
	}
	return out, nil
}
