package controllers

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	storagehelpers "k8s.io/component-helpers/storage/volume"
)

// LocalPathProvisioner names the node-local provisioner of the coordinator.
const LocalPathProvisioner = "keel.dev/local-path"

// Local volumes live in DefaultLocalPathDir/pvc-<claim uid> on their node,
// or under the directory a node names in its LocalPathDirAnnotation.
const (
	DefaultLocalPathDir    = "/var/lib/keel/volumes"
	LocalPathDirAnnotation = "volumes.keel.dev/local-path-dir"
)

// Annotations of the Kubernetes volume binding protocol.
const (
	annBindCompleted     = "pv.kubernetes.io/bind-completed"
	annBoundByController = "pv.kubernetes.io/bound-by-controller"
	annProvisionedBy     = "pv.kubernetes.io/provisioned-by"
	annSelectedNode      = "volume.kubernetes.io/selected-node"
	annStorageProvisoner = "volume.kubernetes.io/storage-provisioner"
)

// event is one Kubernetes event a volume decision reports on its object.
type event struct {
	Type, Reason, Message string
}

// ClaimFacts is what decideClaim looks at for one claim.
type ClaimFacts struct {
	Claim   *corev1.PersistentVolumeClaim
	Volumes []*corev1.PersistentVolume
	// Class is the claim's StorageClass, nil when it names none or the
	// class does not exist.
	Class *storagev1.StorageClass
	// Node is the node chosen for the claim's first consumer: the node a
	// pod using the claim is bound to, or the one the claim's
	// volume.kubernetes.io/selected-node annotation names. Nil when none.
	Node *corev1.Node
}

// ClaimPlan is what to write for one claim, in this order: create
// Provision, update BindVolume (spec), VolumeStatus (status), BindClaim
// (spec and annotations), ClaimStatus (status); then report Event.
type ClaimPlan struct {
	Provision    *corev1.PersistentVolume
	BindVolume   *corev1.PersistentVolume
	VolumeStatus *corev1.PersistentVolume
	BindClaim    *corev1.PersistentVolumeClaim
	ClaimStatus  *corev1.PersistentVolumeClaim
	Event        *event
}

// decideClaim binds a claim as Kubernetes' PV controller does: to the
// volume it names, else to the smallest matching available volume, else
// to a volume the local-path provisioner makes on its consumer's node.
func decideClaim(f ClaimFacts) (ClaimPlan, error) {
	pvc := f.Claim
	var plan ClaimPlan
	if pvc.DeletionTimestamp != nil {
		return plan, nil
	}
	if pvc.Spec.VolumeName != "" {
		return boundClaim(f), nil
	}
	var candidates []*corev1.PersistentVolume
	for _, pv := range f.Volumes {
		if storagehelpers.CheckAccessModes(pvc, pv) {
			candidates = append(candidates, pv)
		}
	}
	delay := f.Class != nil && f.Class.VolumeBindingMode != nil && *f.Class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	pv, err := storagehelpers.FindMatchingVolume(pvc, candidates, f.Node, nil, delay && f.Node == nil, false)
	if err != nil {
		return plan, fmt.Errorf("match volumes for claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	if pv != nil {
		plan.BindVolume = bindVolume(pv, pvc)
		plan.BindClaim = bindClaim(pvc, pv)
		return plan, nil
	}
	className := storagehelpers.GetPersistentVolumeClaimClass(pvc)
	switch {
	case className == "":
		plan.Event = &event{corev1.EventTypeNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set"}
	case f.Class == nil:
		plan.Event = &event{corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf("storageclass.storage.k8s.io %q not found", className)}
	case f.Class.Provisioner != LocalPathProvisioner:
		plan.Event = &event{corev1.EventTypeNormal, "ExternalProvisioning", fmt.Sprintf(
			"Waiting for a volume to be created either by the external provisioner '%s' or manually by the system administrator. "+
				"If volume creation is delayed, please verify that the provisioner is running and correctly registered.", f.Class.Provisioner)}
	case !delay:
		plan.Event = &event{corev1.EventTypeWarning, "ProvisioningFailed", fmt.Sprintf(
			"storage class %q: the %s provisioner needs volumeBindingMode WaitForFirstConsumer, since a local volume exists on one node only",
			className, LocalPathProvisioner)}
	case pvc.Spec.Selector != nil && len(pvc.Spec.Selector.MatchLabels)+len(pvc.Spec.Selector.MatchExpressions) > 0:
		plan.Event = &event{corev1.EventTypeWarning, "ProvisioningFailed", "claim Selector is not supported"}
	case f.Node == nil:
		plan.Event = &event{corev1.EventTypeNormal, "WaitForFirstConsumer", "waiting for first consumer to be created before binding"}
	default:
		pv := localVolume(pvc, f.Class, f.Node)
		plan.Provision = pv
		plan.BindClaim = bindClaim(pvc, pv)
		plan.BindClaim.Annotations[annSelectedNode] = f.Node.Name
		plan.BindClaim.Annotations[annStorageProvisoner] = LocalPathProvisioner
		plan.Event = &event{corev1.EventTypeNormal, "ProvisioningSucceeded",
			fmt.Sprintf("Successfully provisioned volume %s on node %s", pv.Name, f.Node.Name)}
	}
	return plan, nil
}

// boundClaim completes the binding of a claim that names its volume.
func boundClaim(f ClaimFacts) ClaimPlan {
	pvc := f.Claim
	var plan ClaimPlan
	var pv *corev1.PersistentVolume
	for _, v := range f.Volumes {
		if v.Name == pvc.Spec.VolumeName {
			pv = v
		}
	}
	switch {
	case pv == nil:
		if pvc.Status.Phase == corev1.ClaimBound {
			lost := pvc.DeepCopy()
			lost.Status.Phase = corev1.ClaimLost
			plan.ClaimStatus = lost
			plan.Event = &event{corev1.EventTypeWarning, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!"}
		}
		return plan
	case pv.Spec.ClaimRef == nil || (pv.Spec.ClaimRef.UID == "" && refersTo(pv, pvc)):
		plan.BindVolume = bindVolume(pv, pvc)
		return plan
	case !refersTo(pv, pvc) || pv.Spec.ClaimRef.UID != pvc.UID:
		plan.Event = &event{corev1.EventTypeWarning, "FailedBinding", fmt.Sprintf("volume %q already bound to a different claim.", pv.Name)}
		return plan
	}
	if pv.Status.Phase != corev1.VolumeBound {
		v := pv.DeepCopy()
		v.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}
		plan.VolumeStatus = v
	}
	if pvc.Annotations[annBindCompleted] != "yes" {
		plan.BindClaim = bindClaim(pvc, pv)
	}
	if pvc.Status.Phase != corev1.ClaimBound || len(pvc.Status.Capacity) == 0 {
		c := pvc.DeepCopy()
		c.Status.Phase = corev1.ClaimBound
		c.Status.AccessModes = pv.Spec.AccessModes
		c.Status.Capacity = pv.Spec.Capacity.DeepCopy()
		plan.ClaimStatus = c
	}
	return plan
}

func refersTo(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) bool {
	r := pv.Spec.ClaimRef
	return r != nil && r.Namespace == pvc.Namespace && r.Name == pvc.Name
}

func claimRef(pvc *corev1.PersistentVolumeClaim) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace,
		Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
}

// bindVolume is pv with its claimRef on pvc.
func bindVolume(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	v := pv.DeepCopy()
	if v.Spec.ClaimRef == nil {
		if v.Annotations == nil {
			v.Annotations = map[string]string{}
		}
		v.Annotations[annBoundByController] = "yes"
	}
	v.Spec.ClaimRef = claimRef(pvc)
	return v
}

// bindClaim is pvc naming pv, with the annotations of a completed bind.
func bindClaim(pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) *corev1.PersistentVolumeClaim {
	c := pvc.DeepCopy()
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	if c.Spec.VolumeName == "" {
		c.Annotations[annBoundByController] = "yes"
	}
	c.Annotations[annBindCompleted] = "yes"
	c.Spec.VolumeName = pv.Name
	return c
}

// localPathDir is where node keeps local volumes.
func localPathDir(node *corev1.Node) string {
	if d := node.Annotations[LocalPathDirAnnotation]; path.IsAbs(d) {
		return path.Clean(d)
	}
	return DefaultLocalPathDir
}

// localVolume is the volume the local-path provisioner makes for pvc on
// node: a directory named after the claim's UID, reachable from that node
// only, bound to the claim from the start.
func localVolume(pvc *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) *corev1.PersistentVolume {
	name := "pvc-" + string(pvc.UID)
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	mode := corev1.PersistentVolumeFilesystem
	if pvc.Spec.VolumeMode != nil {
		mode = *pvc.Spec.VolumeMode
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: LocalPathProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    &mode,
			MountOptions:                  class.MountOptions,
			ClaimRef:                      claimRef(pvc),
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{
				Path: path.Join(localPathDir(node), name)}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn,
					Values: []string{hostnameOf(node)}}}}}}},
		},
	}
}

func hostnameOf(n *corev1.Node) string {
	if h := n.Labels[corev1.LabelHostname]; h != "" {
		return h
	}
	return n.Name
}

// VolumePlan is what to do with one volume: set its status, or delete
// it.
type VolumePlan struct {
	Status *corev1.PersistentVolume
	Delete bool
}

// decideVolume keeps a volume's phase (Available, Bound, Released) in line
// with its claim, and deletes a released volume whose reclaim policy is
// Delete. claim is the claim its claimRef names, nil when there is none.
func decideVolume(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) VolumePlan {
	var plan VolumePlan
	if pv.DeletionTimestamp != nil {
		return plan
	}
	phase := corev1.VolumeAvailable
	ref := pv.Spec.ClaimRef
	switch {
	case ref == nil:
	case claim == nil || (ref.UID != "" && claim.UID != ref.UID):
		if ref.UID == "" {
			break // pre-bound to a claim that does not exist yet
		}
		if pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			plan.Delete = true
			return plan
		}
		phase = corev1.VolumeReleased
	case claim.Spec.VolumeName == pv.Name:
		phase = corev1.VolumeBound
	default:
		return plan // the claim's binding is in progress
	}
	if pv.Status.Phase != phase {
		v := pv.DeepCopy()
		v.Status = corev1.PersistentVolumeStatus{Phase: phase}
		plan.Status = v
	}
	return plan
}
