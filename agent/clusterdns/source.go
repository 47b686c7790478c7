package clusterdns

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// ErrNotSynced is returned before the Services were read from the API
// once.
var ErrNotSynced = errors.New("services have not been read from the API yet")

// rebuildGap is the least time between two rebuilds of the view: changes
// arriving in a burst are folded into one.
const rebuildGap = 100 * time.Millisecond

// Source keeps the cluster's Services and EndpointSlices through
// client-go informers (the whole cluster) and the View built from them.
// When the API goes away the informers keep their last state, so the
// view keeps answering while they reconnect.
type Source struct {
	opts     Options
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	view     atomic.Pointer[View]
	changed  chan struct{}
	log      *slog.Logger
}

// NewSource watches cs; Run starts it.
func NewSource(cs kubernetes.Interface, opts Options, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.Default()
	}
	f := informers.NewSharedInformerFactory(cs, 0)
	s := &Source{opts: opts, factory: f, changed: make(chan struct{}, 1), log: log}
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
	return s, nil
}

func (s *Source) poke() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run feeds the informers and rebuilds the view after changes until ctx
// ends.
func (s *Source) Run(ctx context.Context) error {
	s.factory.Start(ctx.Done())
	defer s.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil
	}
	for {
		if err := s.rebuild(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rebuildGap):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
		}
	}
}

func (s *Source) rebuild() error {
	svcs, err := s.services.List(labels.Everything())
	if err != nil {
		return err
	}
	slices, err := s.slices.List(labels.Everything())
	if err != nil {
		return err
	}
	s.view.Store(NewView(s.opts, svcs, slices))
	return nil
}

// View is the latest view, nil until the informers first synced.
func (s *Source) View() *View { return s.view.Load() }

// Services lists the services of namespace from the informer's cache.
// The objects are shared: callers must not change them.
func (s *Source) Services(namespace string) ([]*corev1.Service, error) {
	for _, ok := range s.synced {
		if !ok() {
			return nil, ErrNotSynced
		}
	}
	return s.services.Services(namespace).List(labels.Everything())
}
