package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// inbox collects informer events for the loop's goroutine.
type inbox struct {
	mu      sync.Mutex
	updates map[string]*corev1.Pod // nil pod: deleted
	kick    chan struct{}
}

func (b *inbox) put(uid string, p *corev1.Pod) {
	b.mu.Lock()
	b.updates[uid] = p
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *inbox) take() map[string]*corev1.Pod {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.updates
	b.updates = map[string]*corev1.Pod{}
	return u
}

// workResult is what a pod worker hands back: changes to the pod's
// state, applied by the loop's goroutine, which owns it.
type workResult struct {
	uid    string
	apply  []func(*podState)
	forget bool
}

// loop is the state of one Run, owned by its goroutine.
type loop struct {
	*Pods
	state    *localState
	pods     map[string]*podState
	busy     map[string]bool
	inbox    *inbox
	results  chan workResult
	sem      chan struct{}
	events   record.EventRecorder
	status   *statusWriter
	probes   *prober
	reported map[string]map[string]bool
	// refreshed is when each pod's volumes were last rewritten.
	refreshed     map[string]time.Time
	runtimeEvents <-chan struct{}
}

// Run runs the node's pods until ctx ends. It starts from the local
// state, so pods keep running (and start after a reboot) while the
// coordinator is unreachable.
func (p *Pods) Run(ctx context.Context) error {
	st, err := openLocalState(filepath.Join(p.cfg.StateDir, "pods.db"))
	if err != nil {
		return err
	}
	defer st.close()
	pods, bad, err := st.load()
	if err != nil {
		return err
	}
	for _, uid := range bad {
		p.cfg.Log.Warn("dropping unreadable local pod state", "pod", uid)
		if err := st.forget(uid); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bc := record.NewBroadcaster(record.WithContext(ctx))
	defer bc.Shutdown()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.cs.CoreV1().Events("")})
	l := &loop{
		Pods: p, state: st, pods: pods, busy: map[string]bool{},
		inbox:    &inbox{updates: map[string]*corev1.Pod{}, kick: make(chan struct{}, 1)},
		results:  make(chan workResult),
		sem:      make(chan struct{}, p.cfg.Workers),
		events:   bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: p.cfg.NodeName}),
		reported: map[string]map[string]bool{}, refreshed: map[string]time.Time{},
	}
	l.status = newStatusWriter(p.cs, p.cfg.Log)
	l.probes = newProber(p.rt, p.cfg.Clock, p.cfg.Workers)

	factory := informers.NewSharedInformerFactoryWithOptions(p.cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName=" + p.cfg.NodeName
	}))
	podInf := factory.Core().V1().Pods().Informer()
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.podEvent(obj, false) },
		UpdateFunc: func(_, obj any) { l.podEvent(obj, false) },
		DeleteFunc: func(obj any) { l.podEvent(obj, true) },
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	factory.Start(gctx.Done())
	defer factory.Shutdown()
	if p.cfg.BindUnscheduled {
		b, err := newBinder(p.cs, p.cfg.NodeName, l.events)
		if err != nil {
			return err
		}
		b.start(gctx)
		defer b.stop()
	}
	if ev, ok := p.rt.(ContainerEventer); ok {
		l.runtimeEvents = ev.ContainerEvents(gctx)
	}
	g.Go(func() error { l.status.run(gctx); return nil })
	g.Go(func() error { return l.run(gctx, podInf) })
	g.Go(func() error { return sweepLocalVolumes(gctx, p.cs, p.cfg.NodeName, p.cfg.Log) })
	err = g.Wait()
	l.probes.wait()
	return err
}

// podEvent queues an informer event; it returns at once.
func (l *loop) podEvent(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if deleted {
		l.inbox.put(string(pod.UID), nil)
		return
	}
	l.inbox.put(string(pod.UID), pod)
}

// run is the loop's goroutine: it owns pods, busy and the prober's state.
func (l *loop) run(ctx context.Context, podInf cache.SharedIndexInformer) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(l.cfg.SyncInterval)
	defer tick.Stop()
	reconciled := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-l.results:
			l.applyResult(r)
		case res := <-l.probes.results:
			l.probes.record(res, l.events, l.pods)
		case <-l.inbox.kick:
		case <-l.runtimeEvents:
		case <-tick.C:
		}
		l.takeUpdates()
		if !reconciled && podInf.HasSynced() {
			reconciled = true
			l.dropMissing(podInf)
		}
		l.sync(ctx, &wg)
	}
}

// takeUpdates folds informer events into the pods' states.
func (l *loop) takeUpdates() {
	now := l.cfg.Clock.Now()
	for uid, pod := range l.inbox.take() {
		st := l.pods[uid]
		switch {
		case pod == nil && st != nil:
			st.Deleted = true
		case pod == nil:
			continue
		case st == nil:
			if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				// A finished pod this node no longer knows: nothing to run.
				continue
			}
			st = &podState{Pod: pod, StartTime: now}
			if pod.Status.StartTime != nil {
				st.StartTime = pod.Status.StartTime.Time
			}
			l.pods[uid] = st
		default:
			st.Pod = pod
		}
		if pod != nil && pod.DeletionTimestamp != nil {
			st.Deleted = true
		}
		l.save(uid, st)
	}
}

// dropMissing marks deleted the kept pods the API no longer has.
func (l *loop) dropMissing(podInf cache.SharedIndexInformer) {
	present := map[string]bool{}
	for _, obj := range podInf.GetStore().List() {
		if p, ok := obj.(*corev1.Pod); ok {
			present[string(p.UID)] = true
		}
	}
	for uid, st := range l.pods {
		if !present[uid] && !st.Deleted {
			st.Deleted = true
			l.save(uid, st)
		}
	}
}

func (l *loop) save(uid string, st *podState) {
	if err := l.state.save(uid, st); err != nil {
		l.cfg.Log.Error("keep pod state", "pod", podKey(st.Pod), "err", err)
	}
}

// sync plans and hands each idle pod's actions to a worker.
func (l *loop) sync(ctx context.Context, wg *sync.WaitGroup) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	observed, err := l.rt.Containers(lctx)
	cancel()
	if err != nil {
		l.cfg.Log.Warn("list containers", "err", err)
		return
	}
	now := l.cfg.Clock.Now()
	l.probes.sync(ctx, l.pods, observed, now)
	acts := decide(world{Now: now, BootID: l.cfg.BootID, Allocatable: l.cfg.Allocatable, Pods: l.pods,
		Containers: observed, Unhealthy: l.probes.unhealthy(), Started: l.probes.view().Started})
	byPod := map[string][]action{}
	var order []string
	for _, a := range acts {
		switch a.Kind {
		case actAdmit:
			l.pods[a.UID].Admitted = true
			l.save(a.UID, l.pods[a.UID])
			continue
		case actReject:
			st := l.pods[a.UID]
			st.Rejected = &failure{Reason: a.Reason, Message: a.Message, At: now}
			l.save(a.UID, st)
			l.events.Event(st.Pod, corev1.EventTypeWarning, a.Reason, a.Message)
			continue
		}
		if _, ok := byPod[a.UID]; !ok {
			order = append(order, a.UID)
		}
		byPod[a.UID] = append(byPod[a.UID], a)
	}
	for uid, st := range l.pods {
		if _, planned := byPod[uid]; planned || !l.refreshDue(uid, st, now) {
			continue
		}
		l.refreshed[uid] = now
		order = append(order, uid)
		byPod[uid] = []action{{Kind: actRefresh, UID: uid}}
	}
	obs := byPodAndName(observed)
	for _, uid := range order {
		if l.busy[uid] {
			continue
		}
		l.busy[uid] = true
		var st podState
		if cur := l.pods[uid]; cur != nil {
			st = *cur
		} else {
			st = podState{Pod: &corev1.Pod{}}
		}
		var mine []ContainerState
		for _, h := range obs[uid] {
			mine = append(mine, h...)
		}
		wg.Add(1)
		go func(acts []action) {
			defer wg.Done()
			r := l.work(ctx, uid, &st, acts, mine)
			select {
			case l.results <- r:
			case <-ctx.Done():
			}
		}(byPod[uid])
	}
	l.reportStatus(obs, now)
}

// refreshDue reports a running pod whose API-sourced volumes are due to
// be rewritten.
func (l *loop) refreshDue(uid string, st *podState, now time.Time) bool {
	if l.busy[uid] || st.Deleted || !st.Admitted || st.Sandbox.BootID != l.cfg.BootID {
		return false
	}
	last, ok := l.refreshed[uid]
	if !ok {
		l.refreshed[uid] = now
		return false
	}
	if now.Sub(last) < l.cfg.VolumeRefresh {
		return false
	}
	for _, v := range st.Pod.Spec.Volumes {
		if v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil {
			return true
		}
	}
	return false
}

// applyResult folds a worker's changes into the pod's state.
func (l *loop) applyResult(r workResult) {
	delete(l.busy, r.uid)
	st := l.pods[r.uid]
	if r.forget {
		delete(l.pods, r.uid)
		delete(l.reported, r.uid)
		delete(l.refreshed, r.uid)
		l.status.forget(r.uid)
		if err := l.state.forget(r.uid); err != nil {
			l.cfg.Log.Error("forget pod state", "pod", r.uid, "err", err)
		}
		return
	}
	if st == nil {
		return
	}
	for _, f := range r.apply {
		f(st)
	}
	l.save(r.uid, st)
}

// reportStatus queues the status of every live pod that changed.
func (l *loop) reportStatus(obs map[string]map[string]history, now time.Time) {
	for uid, st := range l.pods {
		if st.Deleted {
			continue
		}
		if !st.Admitted && st.Rejected == nil {
			continue
		}
		prev := l.status.last(uid, st.Pod.Status)
		ns := podStatus(st, obs[uid], l.probes.view(), l.cfg.HostIP, prev, now)
		if apiequality.Semantic.DeepEqual(ns, prev) {
			continue
		}
		l.status.put(st.Pod, ns)
		l.noteBackOff(st, ns)
	}
}

// noteBackOff records a BackOff event once per back-off of a container.
func (l *loop) noteBackOff(st *podState, ns corev1.PodStatus) {
	for _, cs := range append(append([]corev1.ContainerStatus(nil), ns.InitContainerStatuses...), ns.ContainerStatuses...) {
		w := cs.State.Waiting
		if w == nil || (w.Reason != "CrashLoopBackOff" && w.Reason != "ImagePullBackOff") {
			continue
		}
		uid := string(st.Pod.UID)
		key := fmt.Sprintf("%s/%d/%s", cs.Name, cs.RestartCount, w.Reason)
		if l.reported[uid][key] {
			continue
		}
		if l.reported[uid] == nil {
			l.reported[uid] = map[string]bool{}
		}
		l.reported[uid][key] = true
		msg := fmt.Sprintf("Back-off restarting failed container %s in pod %s", cs.Name, podKey(st.Pod))
		if w.Reason == "ImagePullBackOff" {
			msg = fmt.Sprintf("Back-off pulling image %q", cs.Image)
		}
		l.events.Event(st.Pod, corev1.EventTypeWarning, "BackOff", msg)
	}
}
