package scheduler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

type eventKind string

const (
	kindPod       eventKind = "pods"
	kindNode      eventKind = "nodes"
	kindNamespace eventKind = "namespaces"
	kindClaim     eventKind = "persistentvolumeclaims"
	kindVolume    eventKind = "persistentvolumes"
	kindClass     eventKind = "storageclasses"
	kindBound     eventKind = "binding result"
)

// event is an informer's notification or a binding's result.
type event struct {
	kind    eventKind
	old     any
	obj     any
	deleted bool
	// For kindBound: the pod, its node and the binding's error.
	key  string
	node string
	err  error
}

// drain applies every event waiting in the inbox.
func (s *Scheduler) drain(ctx context.Context) {
	s.drained = s.inbox.take(s.drained)
	for i := range s.drained {
		s.apply(ctx, &s.drained[i])
	}
	clear(s.drained)
}

func (s *Scheduler) apply(ctx context.Context, e *event) {
	now := s.cfg.Now()
	switch e.kind {
	case kindPod:
		pod, ok := e.obj.(*corev1.Pod)
		if !ok {
			return
		}
		old, _ := e.old.(*corev1.Pod)
		s.podChanged(ctx, old, pod, e.deleted)
	case kindNode:
		node, ok := e.obj.(*corev1.Node)
		if !ok {
			return
		}
		if e.deleted {
			s.cluster.RemoveNode(node.Name)
			return
		}
		old, _ := e.old.(*corev1.Node)
		s.cluster.SetNode(node)
		if old == nil || nodeChanged(old, node) {
			s.queue.MoveAll(now)
		}
	case kindNamespace:
		if ns, ok := e.obj.(*corev1.Namespace); ok {
			if e.deleted {
				s.cluster.RemoveNamespace(ns.Name)
			} else {
				s.cluster.SetNamespace(ns)
				s.queue.MoveAll(now)
			}
		}
	case kindClaim:
		if pvc, ok := e.obj.(*corev1.PersistentVolumeClaim); ok {
			if e.deleted {
				s.cluster.RemoveClaim(pvc.Namespace, pvc.Name)
			} else {
				s.cluster.SetClaim(pvc)
				s.queue.MoveAll(now)
			}
		}
	case kindVolume:
		if pv, ok := e.obj.(*corev1.PersistentVolume); ok {
			if e.deleted {
				s.cluster.RemoveVolume(pv.Name)
			} else {
				s.cluster.SetVolume(pv)
				s.queue.MoveAll(now)
			}
		}
	case kindClass:
		if sc, ok := e.obj.(*storagev1.StorageClass); ok {
			if e.deleted {
				s.cluster.RemoveStorageClass(sc.Name)
			} else {
				s.cluster.SetStorageClass(sc)
				s.queue.MoveAll(now)
			}
		}
	case kindBound:
		s.bound(e)
	}
}

// podChanged follows a pod: bound pods go to the cluster, unbound pods of
// this scheduler to the queue.
func (s *Scheduler) podChanged(ctx context.Context, old, pod *corev1.Pod, deleted bool) {
	now := s.cfg.Now()
	key := podKey(pod)
	if deleted {
		_, wasBound := s.cluster.pods[key]
		s.cluster.RemovePod(key)
		delete(s.pending, key)
		s.queue.Remove(key)
		if wasBound {
			s.queue.MoveAll(now)
		}
		return
	}
	if pod.Spec.NodeName != "" {
		p := s.cluster.pods[key]
		confirmed := p != nil && p.assumed && p.node == pod.Spec.NodeName
		s.cluster.SetPod(pod)
		if _, ok := s.pending[key]; ok {
			delete(s.pending, key)
			s.queue.Remove(key)
		}
		if !confirmed && (old == nil || boundPodChanged(old, pod)) {
			s.queue.MoveAll(now)
		}
		return
	}
	if pod.DeletionTimestamp != nil || !s.responsibleFor(pod) {
		delete(s.pending, key)
		s.queue.Remove(key)
		return
	}
	prev := s.pending[key]
	s.pending[key] = pod
	if len(pod.Spec.SchedulingGates) > 0 {
		// Held until its gates are removed, which is an update.
		s.queue.Remove(key)
		if prev == nil || len(prev.Spec.SchedulingGates) == 0 {
			s.submit(ctx, job{pod: pod, gated: true})
		}
		return
	}
	if prev == nil || podSpecChanged(prev, pod) {
		s.queue.Add(key, corev1helpers.PodPriority(pod), now)
	}
}

func (s *Scheduler) responsibleFor(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == s.cfg.SchedulerName
}

// bound handles a binding's result.
func (s *Scheduler) bound(e *event) {
	now := s.cfg.Now()
	if e.err == nil {
		delete(s.pending, e.key)
		s.queue.Done(e.key, Scheduled, now)
		return
	}
	s.cluster.Forget(e.key)
	if apierrors.IsNotFound(e.err) || apierrors.IsConflict(e.err) {
		// Gone, being deleted or bound by another: the informer will say.
		s.queue.Done(e.key, Scheduled, now)
		return
	}
	s.queue.Done(e.key, Failed, now)
}

// podSpecChanged: the update may change where the pod fits (a status
// update, such as our own PodScheduled condition, does not).
func podSpecChanged(old, pod *corev1.Pod) bool {
	return !apiequality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!apiequality.Semantic.DeepEqual(old.Labels, pod.Labels)
}

// boundPodChanged: a bound pod's update that may let a waiting pod fit.
func boundPodChanged(old, pod *corev1.Pod) bool {
	return old.Spec.NodeName != pod.Spec.NodeName || old.Status.Phase != pod.Status.Phase ||
		!apiequality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
		(old.DeletionTimestamp == nil) != (pod.DeletionTimestamp == nil)
}

// nodeChanged: a node's update that may let a waiting pod fit (heartbeats
// do not).
func nodeChanged(old, node *corev1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(old.Labels, node.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!apiequality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		(notReadyTaint(old) == nil) != (notReadyTaint(node) == nil)
}

// volumeKinds says which volume kinds the API serves.
type volumeKinds struct{ claims, volumes, classes bool }

func (v volumeKinds) missing() string {
	var out []string
	if !v.claims {
		out = append(out, string(kindClaim))
	}
	if !v.volumes {
		out = append(out, string(kindVolume))
	}
	if !v.classes {
		out = append(out, string(kindClass))
	}
	return strings.Join(out, ",")
}

// servedVolumeKinds asks discovery whether PersistentVolumeClaims,
// PersistentVolumes and StorageClasses are served; an API without them
// is not an error.
func servedVolumeKinds(d discovery.DiscoveryInterface) (volumeKinds, error) {
	var v volumeKinds
	core, err := d.ServerResourcesForGroupVersion("v1")
	if err != nil {
		return v, fmt.Errorf("discover v1 resources: %w", err)
	}
	for _, r := range core.APIResources {
		switch r.Name {
		case string(kindClaim):
			v.claims = true
		case string(kindVolume):
			v.volumes = true
		}
	}
	storage, err := d.ServerResourcesForGroupVersion("storage.k8s.io/v1")
	switch {
	case err == nil:
		for _, r := range storage.APIResources {
			if r.Name == string(kindClass) {
				v.classes = true
			}
		}
	case !apierrors.IsNotFound(err):
		return v, fmt.Errorf("discover storage.k8s.io/v1 resources: %w", err)
	}
	return v, nil
}
