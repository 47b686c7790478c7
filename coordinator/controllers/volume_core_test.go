package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func localClass(mode storagev1.VolumeBindingMode) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: LocalPathProvisioner,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(mode)}
}

func testClaim(class string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default", UID: "claim-uid"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(class),
			VolumeMode:       ptr.To(corev1.PersistentVolumeFilesystem),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
}

func testVolume(name, class, size string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   modes,
			StorageClassName:              class,
			VolumeMode:                    ptr.To(corev1.PersistentVolumeFilesystem),
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/" + name}},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
}

func TestDecideClaim_matchesPreCreatedVolumes(t *testing.T) {
	rwo, rwx := corev1.ReadWriteOnce, corev1.ReadWriteMany
	for _, tc := range []struct {
		name    string
		claim   *corev1.PersistentVolumeClaim
		volumes []*corev1.PersistentVolume
		want    string // the volume bound, "" for none
	}{
		{"smallest that fits", testClaim("manual", "1Gi"),
			[]*corev1.PersistentVolume{testVolume("big", "manual", "10Gi", rwo), testVolume("fits", "manual", "2Gi", rwo), testVolume("small", "manual", "512Mi", rwo)}, "fits"},
		{"class must match", testClaim("manual", "1Gi"), []*corev1.PersistentVolume{testVolume("other", "fast", "2Gi", rwo)}, ""},
		{"no class binds classless volumes", testClaim("", "1Gi"), []*corev1.PersistentVolume{testVolume("a", "fast", "2Gi", rwo), testVolume("b", "", "2Gi", rwo)}, "b"},
		{"access modes must be offered", testClaim("manual", "1Gi"), []*corev1.PersistentVolume{testVolume("rwx", "manual", "2Gi", rwx)}, ""},
		{"superset of modes", testClaim("manual", "1Gi"), []*corev1.PersistentVolume{testVolume("both", "manual", "2Gi", rwx, rwo)}, "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := decideClaim(ClaimFacts{Claim: tc.claim, Volumes: tc.volumes})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if plan.BindVolume != nil {
				got = plan.BindVolume.Name
				if r := plan.BindVolume.Spec.ClaimRef; r.Name != "data" || r.UID != "claim-uid" || plan.BindClaim.Spec.VolumeName != got ||
					plan.BindClaim.Annotations[annBindCompleted] != "yes" {
					t.Fatalf("binding: ref %+v claim %+v", r, plan.BindClaim)
				}
			}
			if got != tc.want {
				t.Fatalf("bound %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecideClaim_localPathProvisioning(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", Labels: map[string]string{corev1.LabelHostname: "edge-1"}}}
	other := node.DeepCopy()
	other.Annotations = map[string]string{LocalPathDirAnnotation: "/mnt/ssd/volumes/"}
	wffc := localClass(storagev1.VolumeBindingWaitForFirstConsumer)
	for _, tc := range []struct {
		name      string
		class     *storagev1.StorageClass
		node      *corev1.Node
		claim     *corev1.PersistentVolumeClaim
		wantPath  string
		wantEvent string
	}{
		{"waits for a consumer", wffc, nil, testClaim("local-path", "1Gi"), "", "WaitForFirstConsumer"},
		{"provisions on the consumer's node", wffc, node, testClaim("local-path", "1Gi"), "/var/lib/keel/volumes/pvc-claim-uid", "ProvisioningSucceeded"},
		{"node's own directory", wffc, other, testClaim("local-path", "1Gi"), "/mnt/ssd/volumes/pvc-claim-uid", "ProvisioningSucceeded"},
		{"immediate is refused", localClass(storagev1.VolumeBindingImmediate), node, testClaim("local-path", "1Gi"), "", "ProvisioningFailed"},
		{"missing class", nil, node, testClaim("gone", "1Gi"), "", "ProvisioningFailed"},
		{"other provisioner", &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "ebs"}, Provisioner: "ebs.csi.aws.com",
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}, node, testClaim("ebs", "1Gi"), "", "ExternalProvisioning"},
		{"no class, no volume", nil, nil, testClaim("", "1Gi"), "", "FailedBinding"},
		{"selector", wffc, node, withSelector(testClaim("local-path", "1Gi")), "", "ProvisioningFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := decideClaim(ClaimFacts{Claim: tc.claim, Class: tc.class, Node: tc.node})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Event == nil || plan.Event.Reason != tc.wantEvent {
				t.Fatalf("event %+v, want %s", plan.Event, tc.wantEvent)
			}
			if tc.wantPath == "" {
				if plan.Provision != nil || plan.BindClaim != nil {
					t.Fatalf("provisioned %+v", plan.Provision)
				}
				return
			}
			pv := plan.Provision
			if pv == nil || pv.Name != "pvc-claim-uid" || pv.Spec.Local.Path != tc.wantPath || pv.Spec.ClaimRef.UID != "claim-uid" ||
				pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.Spec.StorageClassName != "local-path" ||
				pv.Annotations[annProvisionedBy] != LocalPathProvisioner {
				t.Fatalf("provisioned %+v", pv)
			}
			if v := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0]; v.Key != corev1.LabelHostname || v.Values[0] != "edge-1" {
				t.Fatalf("node affinity %+v", v)
			}
			c := plan.BindClaim
			if c.Spec.VolumeName != pv.Name || c.Annotations[annSelectedNode] != "edge-1" || c.Annotations[annBindCompleted] != "yes" {
				t.Fatalf("claim %+v", c.ObjectMeta)
			}
		})
	}
}

func TestDecideClaim_completesBinding(t *testing.T) {
	pvc := testClaim("local-path", "1Gi")
	pvc.Spec.VolumeName = "pvc-claim-uid"
	pvc.Annotations = map[string]string{annBindCompleted: "yes"}
	pv := testVolume("pvc-claim-uid", "local-path", "1Gi", corev1.ReadWriteOnce)
	pv.Spec.ClaimRef = claimRef(pvc)
	pv.Status.Phase = corev1.VolumePending
	plan, err := decideClaim(ClaimFacts{Claim: pvc, Volumes: []*corev1.PersistentVolume{pv}})
	if err != nil {
		t.Fatal(err)
	}
	if plan.VolumeStatus == nil || plan.VolumeStatus.Status.Phase != corev1.VolumeBound || plan.ClaimStatus == nil ||
		plan.ClaimStatus.Status.Phase != corev1.ClaimBound || plan.ClaimStatus.Status.Capacity.Storage().String() != "1Gi" || plan.BindClaim != nil {
		t.Fatalf("plan %+v", plan)
	}
	// A claim whose volume went is lost.
	pvc.Status.Phase = corev1.ClaimBound
	plan, _ = decideClaim(ClaimFacts{Claim: pvc})
	if plan.ClaimStatus == nil || plan.ClaimStatus.Status.Phase != corev1.ClaimLost || plan.Event.Reason != "ClaimLost" {
		t.Fatalf("lost: %+v", plan)
	}
	// A volume bound to another claim is not taken.
	pv.Spec.ClaimRef.UID = "someone-else"
	plan, _ = decideClaim(ClaimFacts{Claim: pvc, Volumes: []*corev1.PersistentVolume{pv}})
	if plan.Event == nil || plan.Event.Reason != "FailedBinding" || plan.VolumeStatus != nil {
		t.Fatalf("other claim's volume: %+v", plan)
	}
}

func TestDecideVolume_phasesAndReclaim(t *testing.T) {
	pvc := testClaim("local-path", "1Gi")
	bound := testVolume("v", "local-path", "1Gi", corev1.ReadWriteOnce)
	bound.Spec.ClaimRef = claimRef(pvc)
	pvc.Spec.VolumeName = "v"
	deleting := bound.DeepCopy()
	deleting.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	prebound := testVolume("v", "", "1Gi")
	prebound.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "later"}
	prebound.Status.Phase = corev1.VolumePending
	for _, tc := range []struct {
		name       string
		pv         *corev1.PersistentVolume
		claim      *corev1.PersistentVolumeClaim
		wantPhase  corev1.PersistentVolumePhase
		wantDelete bool
	}{
		{"bound", bound, pvc, corev1.VolumeBound, false},
		{"retain releases", bound, nil, corev1.VolumeReleased, false},
		{"delete deletes", deleting, nil, "", true},
		{"pre-bound waits available", prebound, nil, corev1.VolumeAvailable, false},
		{"free", testVolume("f", "", "1Gi"), nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := decideVolume(tc.pv, tc.claim)
			var phase corev1.PersistentVolumePhase
			if plan.Status != nil {
				phase = plan.Status.Status.Phase
			}
			if phase != tc.wantPhase || plan.Delete != tc.wantDelete {
				t.Fatalf("phase %q delete %v, want %q %v", phase, plan.Delete, tc.wantPhase, tc.wantDelete)
			}
		})
	}
}

func withSelector(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolumeClaim {
	c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"disk": "ssd"}}
	return c
}

func TestDecideClaim_selectorPicksVolumes(t *testing.T) {
	ssd := testVolume("ssd", "manual", "1Gi", corev1.ReadWriteOnce)
	ssd.Labels = map[string]string{"disk": "ssd"}
	plan, err := decideClaim(ClaimFacts{Claim: withSelector(testClaim("manual", "1Gi")),
		Volumes: []*corev1.PersistentVolume{testVolume("hdd", "manual", "1Gi", corev1.ReadWriteOnce), ssd}})
	if err != nil || plan.BindVolume == nil || plan.BindVolume.Name != "ssd" {
		t.Fatalf("bound %+v, %v", plan.BindVolume, err)
	}
}
