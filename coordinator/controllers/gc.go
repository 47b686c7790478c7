package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	// byOwnerUID indexes objects by the UIDs of their owners.
	byOwnerUID = "gc-owner-uid"
	// byUID indexes objects by their own UID.
	byUID = "gc-uid"
	// gcWaitRequeue is how often an owner deleted in the foreground is
	// looked at again while its dependents go, besides their events.
	gcWaitRequeue = 5 * time.Second
)

// gcResource is one resource the garbage collector knows: its owners are
// looked up in it and, when it has an informer, its objects are collected.
type gcResource struct {
	name       string // "apps/replicasets", "pods" for the core group
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	client     func() rest.Interface
	informer   cache.SharedIndexInformer // nil: owners only (nodes, namespaces)
}

// GarbageCollector deletes objects whose owners are all gone and carries
// out the Orphan and Foreground propagation policies the API server
// records as finalizers, over the kinds in gcResources.
type GarbageCollector struct {
	cfg       Config
	loop      *loop
	resources []*gcResource
	byName    map[string]*gcResource
	byKind    map[schema.GroupKind]*gcResource
	synced    []cache.InformerSynced
}

// gcResources lists the resources the collector watches, with the
// informers of f that watch them.
func gcResources(cs kubernetes.Interface, f informers.SharedInformerFactory) []*gcResource {
	core := func() rest.Interface { return cs.CoreV1().RESTClient() }
	apps := func() rest.Interface { return cs.AppsV1().RESTClient() }
	batch := func() rest.Interface { return cs.BatchV1().RESTClient() }
	disc := func() rest.Interface { return cs.DiscoveryV1().RESTClient() }
	r := func(group, version, resource, kind string, namespaced bool, client func() rest.Interface, inf cache.SharedIndexInformer) *gcResource {
		name := resource
		if group != "" {
			name = group + "/" + resource
		}
		return &gcResource{name: name, gvr: schema.GroupVersionResource{Group: group, Version: version, Resource: resource},
			kind: kind, namespaced: namespaced, client: client, informer: inf}
	}
	return []*gcResource{
		r("", "v1", "pods", "Pod", true, core, f.Core().V1().Pods().Informer()),
		r("", "v1", "services", "Service", true, core, f.Core().V1().Services().Informer()),
		r("", "v1", "endpoints", "Endpoints", true, core, f.Core().V1().Endpoints().Informer()),
		r("", "v1", "configmaps", "ConfigMap", true, core, f.Core().V1().ConfigMaps().Informer()),
		r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, core, f.Core().V1().PersistentVolumeClaims().Informer()),
		r("", "v1", "nodes", "Node", false, core, nil),
		r("", "v1", "namespaces", "Namespace", false, core, nil),
		r("apps", "v1", "replicasets", "ReplicaSet", true, apps, f.Apps().V1().ReplicaSets().Informer()),
		r("apps", "v1", "deployments", "Deployment", true, apps, f.Apps().V1().Deployments().Informer()),
		r("apps", "v1", "daemonsets", "DaemonSet", true, apps, f.Apps().V1().DaemonSets().Informer()),
		r("apps", "v1", "statefulsets", "StatefulSet", true, apps, f.Apps().V1().StatefulSets().Informer()),
		r("apps", "v1", "controllerrevisions", "ControllerRevision", true, apps, f.Apps().V1().ControllerRevisions().Informer()),
		r("batch", "v1", "jobs", "Job", true, batch, f.Batch().V1().Jobs().Informer()),
		r("batch", "v1", "cronjobs", "CronJob", true, batch, f.Batch().V1().CronJobs().Informer()),
		r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, disc, f.Discovery().V1().EndpointSlices().Informer()),
	}
}

func ownerUIDIndex(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, r := range m.GetOwnerReferences() {
		out = append(out, string(r.UID))
	}
	return out, nil
}

func uidIndex(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	return []string{string(m.GetUID())}, nil
}

// NewGarbageCollector registers the garbage collector on the informers of
// f; start f after creating every controller.
func NewGarbageCollector(cfg Config, f informers.SharedInformerFactory) (*GarbageCollector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	gc := &GarbageCollector{cfg: cfg, byName: map[string]*gcResource{}, byKind: map[schema.GroupKind]*gcResource{}}
	gc.loop = newLoop("garbagecollector", cfg.Log, gc.sync)
	for _, r := range gcResources(cfg.Client, f) {
		gc.resources = append(gc.resources, r)
		gc.byName[r.name] = r
		gc.byKind[schema.GroupKind{Group: r.gvr.Group, Kind: r.kind}] = r
		if r.informer == nil {
			continue
		}
		if err := r.informer.AddIndexers(cache.Indexers{byOwnerUID: ownerUIDIndex, byUID: uidIndex}); err != nil {
			return nil, fmt.Errorf("garbage collector index of %s: %w", r.name, err)
		}
		gc.synced = append(gc.synced, r.informer.HasSynced)
		if _, err := r.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { gc.changed(r, nil, obj) },
			UpdateFunc: func(old, obj any) {
				gc.changed(r, old, obj)
			},
			DeleteFunc: func(obj any) { gc.deleted(obj) },
		}); err != nil {
			return nil, err
		}
	}
	return gc, nil
}

// Run collects garbage until ctx ends.
func (gc *GarbageCollector) Run(ctx context.Context) error {
	return gc.loop.run(ctx, gc.cfg.Workers, gc.synced...)
}

func (gc *GarbageCollector) key(r *gcResource, m metav1.Object) string {
	return r.name + "|" + m.GetNamespace() + "/" + m.GetName()
}

// changed queues an object that has owners or waits for the collector,
// and the owners it names (or named) that wait for their dependents.
func (gc *GarbageCollector) changed(r *gcResource, old, obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if len(m.GetOwnerReferences()) > 0 {
		gc.loop.queue.Add(gc.key(r, m))
	}
	if m.GetDeletionTimestamp() != nil && hasGCFinalizer(m) {
		// An owner now waiting: it, and its dependents, which see it so.
		gc.loop.queue.Add(gc.key(r, m))
		for _, d := range gc.dependents(m.GetUID()) {
			gc.loop.queue.Add(d.Resource + "|" + d.Namespace + "/" + d.Name)
		}
	}
	if o, ok := old.(metav1.Object); ok {
		gc.queueDeletingOwners(o)
	}
}

// deleted queues the dependents of a deleted object and its owners that
// wait for their dependents.
func (gc *GarbageCollector) deleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	for _, d := range gc.dependents(m.GetUID()) {
		gc.loop.queue.Add(d.Resource + "|" + d.Namespace + "/" + d.Name)
	}
	gc.queueDeletingOwners(m)
}

func (gc *GarbageCollector) queueDeletingOwners(m metav1.Object) {
	for _, ref := range m.GetOwnerReferences() {
		r, owner := gc.cached(ref.UID)
		if owner != nil && owner.GetDeletionTimestamp() != nil && hasGCFinalizer(owner) {
			gc.loop.queue.Add(gc.key(r, owner))
		}
	}
}

// cached finds the object with uid in any informer's cache.
func (gc *GarbageCollector) cached(uid types.UID) (*gcResource, metav1.Object) {
	for _, r := range gc.resources {
		if r.informer == nil {
			continue
		}
		objs, err := r.informer.GetIndexer().ByIndex(byUID, string(uid))
		if err == nil && len(objs) > 0 {
			if m, ok := objs[0].(metav1.Object); ok {
				return r, m
			}
		}
	}
	return nil, nil
}

// dependents lists the cached objects naming uid as an owner.
func (gc *GarbageCollector) dependents(uid types.UID) []gcNode {
	var out []gcNode
	for _, r := range gc.resources {
		if r.informer == nil {
			continue
		}
		objs, err := r.informer.GetIndexer().ByIndex(byOwnerUID, string(uid))
		if err != nil {
			continue
		}
		for _, o := range objs {
			if m, ok := o.(metav1.Object); ok {
				out = append(out, gcNodeOf(r.name, m))
			}
		}
	}
	return out
}

func (gc *GarbageCollector) sync(ctx context.Context, key string) (time.Duration, error) {
	resName, nsName, ok := strings.Cut(key, "|")
	r := gc.byName[resName]
	if !ok || r == nil || r.informer == nil {
		return 0, nil
	}
	obj, exists, err := r.informer.GetIndexer().GetByKey(nsName)
	if err != nil || !exists {
		return 0, err
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return 0, nil
	}
	node := gcNodeOf(r.name, m)
	owners := map[types.UID]ownerState{}
	if !node.Deleting {
		for _, ref := range node.Owners {
			st, err := gc.ownerState(ctx, node, ref)
			if err != nil {
				return 0, err
			}
			owners[ref.UID] = st
		}
	}
	deps := gc.dependents(node.UID)
	acts := decideGC(node, owners, deps)
	for _, a := range acts {
		if err := gc.act(ctx, a); err != nil {
			return 0, err
		}
	}
	if node.Deleting && slices.Contains(node.Finalizers, metav1.FinalizerDeleteDependents) && len(acts) == 0 {
		return gcWaitRequeue, nil
	}
	return 0, nil
}

// ownerState looks the owner ref names up, in the caches first and then,
// since a cache may lag behind, with a live read before calling it absent.
func (gc *GarbageCollector) ownerState(ctx context.Context, dep gcNode, ref metav1.OwnerReference) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ownerSolid, nil
	}
	r := gc.byKind[schema.GroupKind{Group: gv.Group, Kind: ref.Kind}]
	if r == nil {
		return ownerSolid, nil
	}
	if _, m := gc.cached(ref.UID); m != nil {
		return ownerStateOf(m), nil
	}
	ns := ""
	if r.namespaced {
		ns = dep.Namespace
	}
	client, err := r.restClient()
	if err != nil {
		return ownerSolid, err
	}
	live, err := client.Get().NamespaceIfScoped(ns, r.namespaced).Resource(r.gvr.Resource).Name(ref.Name).Do(ctx).Get()
	if apierrors.IsNotFound(err) {
		return ownerAbsent, nil
	}
	if err != nil {
		return ownerSolid, fmt.Errorf("look up owner %s %s of %s %s/%s: %w", ref.Kind, ref.Name, dep.Resource, dep.Namespace, dep.Name, err)
	}
	lm, err := meta.Accessor(live)
	if err != nil {
		return ownerSolid, err
	}
	if lm.GetUID() != ref.UID {
		return ownerAbsent, nil
	}
	return ownerStateOf(lm), nil
}

// act carries one action out. An object already gone, or replaced by one
// with another UID, counts as done.
func (gc *GarbageCollector) act(ctx context.Context, a gcAction) error {
	r := gc.byName[a.Target.Resource]
	if r == nil {
		return fmt.Errorf("garbage collector: unknown resource %s", a.Target.Resource)
	}
	client, err := r.restClient()
	if err != nil {
		return err
	}
	t := a.Target
	switch a.Kind {
	case gcDelete:
		gc.cfg.Log.Info("garbage collector deletes", "resource", r.name, "ns", t.Namespace, "name", t.Name, "propagation", a.Policy)
		opts := deleteUID(t.UID)
		opts.PropagationPolicy = &a.Policy
		err = client.Delete().NamespaceIfScoped(t.Namespace, r.namespaced).Resource(r.gvr.Resource).Name(t.Name).
			Body(&opts).Do(ctx).Error()
	case gcRemoveOwners:
		var refs []metav1.OwnerReference
		for _, o := range t.Owners {
			if !slices.Contains(a.OwnerUIDs, o.UID) {
				refs = append(refs, o)
			}
		}
		err = gc.patchMeta(ctx, r, t, map[string]any{"ownerReferences": refs})
	case gcRemoveFinalizer:
		var fins []string
		for _, f := range t.Finalizers {
			if f != a.Finalizer {
				fins = append(fins, f)
			}
		}
		err = gc.patchMeta(ctx, r, t, map[string]any{"finalizers": fins})
	}
	if apierrors.IsNotFound(err) || (apierrors.IsConflict(err) && a.Kind == gcDelete) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("garbage collector on %s %s/%s: %w", r.name, t.Namespace, t.Name, err)
	}
	return nil
}

// patchMeta merge-patches metadata fields of t, refused if t changed
// since it was seen.
func (gc *GarbageCollector) patchMeta(ctx context.Context, r *gcResource, t gcNode, fields map[string]any) error {
	fields["uid"] = t.UID
	if t.ResourceVersion != "" {
		fields["resourceVersion"] = t.ResourceVersion
	}
	body, err := json.Marshal(map[string]any{"metadata": fields})
	if err != nil {
		return err
	}
	client, err := r.restClient()
	if err != nil {
		return err
	}
	return client.Patch(types.MergePatchType).NamespaceIfScoped(t.Namespace, r.namespaced).
		Resource(r.gvr.Resource).Name(t.Name).Body(body).Do(ctx).Error()
}

// restClient is the REST client of r's group, which fake clientsets lack.
func (r *gcResource) restClient() (rest.Interface, error) {
	c := r.client()
	if rc, ok := c.(*rest.RESTClient); c == nil || (ok && rc == nil) {
		return nil, fmt.Errorf("garbage collector: the client has no REST client for %s", r.name)
	}
	return c, nil
}

// deleteUID deletes only the object with this UID, never a successor
// of the same name.
func deleteUID(uid types.UID) metav1.DeleteOptions {
	bg := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
