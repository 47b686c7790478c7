package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
)

// Keys of the volume controller's queue: a claim or a volume.
const (
	claimKeyPrefix  = "pvc:"
	volumeKeyPrefix = "pv:"
)

// VolumeController binds PersistentVolumeClaims to PersistentVolumes,
// provisions node-local volumes for claims of the keel.dev/local-path
// provisioner once a pod using them is on a node, and keeps volume phases
// and reclaim policies.
type VolumeController struct {
	cfg     Config
	loop    *loop
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	synced  []cache.InformerSynced
	record  *recorder
}

// NewVolumeController registers a volume controller on the informers of
// f; start f after creating every controller.
func NewVolumeController(cfg Config, f informers.SharedInformerFactory) (*VolumeController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pvcInf := f.Core().V1().PersistentVolumeClaims()
	pvInf := f.Core().V1().PersistentVolumes()
	scInf := f.Storage().V1().StorageClasses()
	podInf := f.Core().V1().Pods()
	nodeInf := f.Core().V1().Nodes()
	c := &VolumeController{
		cfg: cfg, claims: pvcInf.Lister(), volumes: pvInf.Lister(), classes: scInf.Lister(),
		pods: podInf.Lister(), nodes: nodeInf.Lister(),
		synced: []cache.InformerSynced{pvcInf.Informer().HasSynced, pvInf.Informer().HasSynced,
			scInf.Informer().HasSynced, podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		record: newRecorder("persistentvolume-controller"),
	}
	c.loop = newLoop("volume", cfg.Log, c.sync)
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		fn  func(any)
	}{
		{pvcInf.Informer(), c.claimChanged},
		{pvInf.Informer(), c.volumeChanged},
		{podInf.Informer(), c.podChanged},
		{scInf.Informer(), func(any) { c.allClaims() }},
	} {
		fn := h.fn
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: fn, UpdateFunc: func(_, obj any) { fn(obj) }, DeleteFunc: fn,
		}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run syncs claims and volumes until ctx ends.
func (c *VolumeController) Run(ctx context.Context) error {
	defer c.record.start(c.cfg)()
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func tombstone(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

func (c *VolumeController) claimChanged(obj any) {
	pvc, ok := tombstone(obj).(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	c.loop.queue.Add(claimKeyPrefix + pvc.Namespace + "/" + pvc.Name)
	if pvc.Spec.VolumeName != "" {
		c.loop.queue.Add(volumeKeyPrefix + pvc.Spec.VolumeName)
	}
	// A volume pre-bound to this claim by name waits for it.
	if vols, err := c.volumes.List(labels.Everything()); err == nil {
		for _, pv := range vols {
			if refersTo(pv, pvc) {
				c.loop.queue.Add(volumeKeyPrefix + pv.Name)
			}
		}
	}
}

func (c *VolumeController) volumeChanged(obj any) {
	pv, ok := tombstone(obj).(*corev1.PersistentVolume)
	if !ok {
		return
	}
	c.loop.queue.Add(volumeKeyPrefix + pv.Name)
	if r := pv.Spec.ClaimRef; r != nil {
		c.loop.queue.Add(claimKeyPrefix + r.Namespace + "/" + r.Name)
	} else {
		c.allClaims()
	}
}

// podChanged queues the claims of a pod bound to a node: its node is
// where WaitForFirstConsumer claims get their volume.
func (c *VolumeController) podChanged(obj any) {
	pod, ok := tombstone(obj).(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			c.loop.queue.Add(claimKeyPrefix + pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName)
		}
	}
}

// allClaims queues every unbound claim.
func (c *VolumeController) allClaims() {
	pvcs, err := c.claims.List(labels.Everything())
	if err != nil {
		return
	}
	for _, pvc := range pvcs {
		if pvc.Spec.VolumeName == "" {
			c.loop.queue.Add(claimKeyPrefix + pvc.Namespace + "/" + pvc.Name)
		}
	}
}

func (c *VolumeController) sync(ctx context.Context, key string) (time.Duration, error) {
	if name, ok := strings.CutPrefix(key, volumeKeyPrefix); ok {
		return 0, c.syncVolume(ctx, name)
	}
	if k, ok := strings.CutPrefix(key, claimKeyPrefix); ok {
		return 0, c.syncClaim(ctx, k)
	}
	return 0, nil
}

func (c *VolumeController) syncVolume(ctx context.Context, name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var claim *corev1.PersistentVolumeClaim
	if r := pv.Spec.ClaimRef; r != nil {
		claim, err = c.claims.PersistentVolumeClaims(r.Namespace).Get(r.Name)
		if apierrors.IsNotFound(err) {
			// Confirm with a live read before releasing or deleting.
			claim, err = c.cfg.Client.CoreV1().PersistentVolumeClaims(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				claim, err = nil, nil
			}
		}
		if err != nil {
			return fmt.Errorf("claim of volume %s: %w", name, err)
		}
	}
	plan := decideVolume(pv, claim)
	pvs := c.cfg.Client.CoreV1().PersistentVolumes()
	if plan.Delete {
		if err := pvs.Delete(ctx, pv.Name, deleteUID(pv.UID)); ignoreNotFound(err) != nil {
			return fmt.Errorf("delete released volume %s: %w", pv.Name, err)
		}
		c.cfg.Log.Info("deleted released volume", "pv", pv.Name, "path", localPath(pv))
		return nil
	}
	if plan.Status != nil {
		if _, err := pvs.UpdateStatus(ctx, plan.Status, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("volume %s status: %w", pv.Name, err)
		}
	}
	return nil
}

func localPath(pv *corev1.PersistentVolume) string {
	if pv.Spec.Local != nil {
		return pv.Spec.Local.Path
	}
	return ""
}

func (c *VolumeController) syncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pvc := cached.DeepCopy()
	vols, err := c.volumes.List(labels.Everything())
	if err != nil {
		return err
	}
	facts := ClaimFacts{Claim: pvc, Volumes: vols}
	if cn := pvc.Spec.StorageClassName; cn != nil && *cn != "" {
		sc, err := c.classes.Get(*cn)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		facts.Class = sc
	}
	if pvc.Spec.VolumeName == "" {
		facts.Node, err = c.consumerNode(pvc)
		if err != nil {
			return err
		}
	}
	plan, err := decideClaim(facts)
	if err != nil {
		return err
	}
	return c.apply(ctx, pvc, plan)
}

// consumerNode is the node of the claim's first consumer: the one its
// selected-node annotation names, else that of a pod using it that is
// bound to a node.
func (c *VolumeController) consumerNode(pvc *corev1.PersistentVolumeClaim) (*corev1.Node, error) {
	name := pvc.Annotations[annSelectedNode]
	if name == "" {
		pods, err := c.pods.Pods(pvc.Namespace).List(labels.Everything())
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || !isActivePod(p) {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
					name = p.Spec.NodeName
				}
			}
		}
	}
	if name == "" {
		return nil, nil
	}
	n, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return n, err
}

// apply carries a claim's plan out.
func (c *VolumeController) apply(ctx context.Context, pvc *corev1.PersistentVolumeClaim, plan ClaimPlan) error {
	core := c.cfg.Client.CoreV1()
	if plan.Event != nil {
		c.record.Event(pvc, plan.Event.Type, plan.Event.Reason, plan.Event.Message)
	}
	if pv := plan.Provision; pv != nil {
		if _, err := core.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			c.record.Event(pvc, corev1.EventTypeWarning, "ProvisioningFailed", err.Error())
			return fmt.Errorf("provision volume %s for claim %s/%s: %w", pv.Name, pvc.Namespace, pvc.Name, err)
		}
		c.cfg.Log.Info("provisioned local volume", "pv", pv.Name, "ns", pvc.Namespace, "pvc", pvc.Name, "path", localPath(pv))
	}
	if pv := plan.BindVolume; pv != nil {
		if _, err := core.PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("bind volume %s to claim %s/%s: %w", pv.Name, pvc.Namespace, pvc.Name, err)
		}
	}
	if pv := plan.VolumeStatus; pv != nil {
		if _, err := core.PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("volume %s status: %w", pv.Name, err)
		}
	}
	if cl := plan.BindClaim; cl != nil {
		out, err := core.PersistentVolumeClaims(cl.Namespace).Update(ctx, cl, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("bind claim %s/%s to volume %s: %w", cl.Namespace, cl.Name, cl.Spec.VolumeName, err)
		}
		if plan.ClaimStatus != nil {
			plan.ClaimStatus.ResourceVersion = out.ResourceVersion
		}
	}
	if cl := plan.ClaimStatus; cl != nil {
		if _, err := core.PersistentVolumeClaims(cl.Namespace).UpdateStatus(ctx, cl, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("claim %s/%s status: %w", cl.Namespace, cl.Name, err)
		}
	}
	return nil
}
