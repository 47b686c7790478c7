package kinds

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func localPV(name string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: "/var/lib/keel/volumes/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}},
			StorageClassName: "local-path",
		},
	}
}

func claim(name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: nsMeta(name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func TestStorageKinds_validate(t *testing.T) {
	noAffinity := localPV("a")
	noAffinity.Spec.NodeAffinity = nil
	twoSources := localPV("a")
	twoSources.Spec.HostPath = &corev1.HostPathVolumeSource{Path: "/x"}
	noCapacity := localPV("a")
	noCapacity.Spec.Capacity = nil
	badReclaim := localPV("a")
	badReclaim.Spec.PersistentVolumeReclaimPolicy = "Keep"
	relative := localPV("a")
	relative.Spec.Local.Path = "data"
	noModes := claim("c")
	noModes.Spec.AccessModes = nil
	noSize := claim("c")
	noSize.Spec.Resources.Requests = nil
	zero := claim("c")
	zero.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
	badMode := claim("c")
	badMode.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
	badClass := claim("c")
	badClass.Spec.StorageClassName = ptr.To("Local_Path")
	sc := func(prov string, mode storagev1.VolumeBindingMode, reclaim corev1.PersistentVolumeReclaimPolicy) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: prov,
			VolumeBindingMode: ptr.To(mode), ReclaimPolicy: ptr.To(reclaim)}
	}
	for _, tc := range []struct {
		name     string
		resource string
		obj      Object
		want     []string
	}{
		{"pv", "persistentvolumes", localPV("a"), nil},
		{"pv local without affinity", "persistentvolumes", noAffinity, []string{"spec.nodeAffinity: Required value: Local volumes require node affinity"}},
		{"pv two sources", "persistentvolumes", twoSources, []string{"spec.hostPath: Forbidden: may not specify more than 1 volume type"}},
		{"pv no source", "persistentvolumes", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: corev1.PersistentVolumeSpec{Capacity: localPV("a").Spec.Capacity, AccessModes: localPV("a").Spec.AccessModes}},
			[]string{"spec: Required value: must specify a volume type"}},
		{"pv no capacity", "persistentvolumes", noCapacity, []string{"spec.capacity: Required value"}},
		{"pv bad reclaim", "persistentvolumes", badReclaim, []string{`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep"`}},
		{"pv relative path", "persistentvolumes", relative, []string{"spec.local.path: Invalid value"}},
		{"pvc", "persistentvolumeclaims", claim("c"), nil},
		{"pvc no modes", "persistentvolumeclaims", noModes, []string{"spec.accessModes: Required value: at least 1 access mode is required"}},
		{"pvc no size", "persistentvolumeclaims", noSize, []string{"spec.resources[storage]: Required value"}},
		{"pvc zero size", "persistentvolumeclaims", zero, []string{"spec.resources[storage]: Invalid value: \"0\": must be greater than zero"}},
		{"pvc bad mode", "persistentvolumeclaims", badMode, []string{`spec.accessModes[0]: Unsupported value: "ReadWriteSometimes"`}},
		{"pvc bad class", "persistentvolumeclaims", badClass, []string{"spec.storageClassName: Invalid value"}},
		{"sc", "storageclasses", sc("keel.dev/local-path", storagev1.VolumeBindingWaitForFirstConsumer, corev1.PersistentVolumeReclaimDelete), nil},
		{"sc no provisioner", "storageclasses", sc("", storagev1.VolumeBindingImmediate, corev1.PersistentVolumeReclaimDelete), []string{"provisioner: Required value"}},
		{"sc bad binding", "storageclasses", sc("x.io/y", "Later", corev1.PersistentVolumeReclaimDelete), []string{`volumeBindingMode: Unsupported value: "Later"`}},
		{"sc recycle", "storageclasses", sc("x.io/y", storagev1.VolumeBindingImmediate, corev1.PersistentVolumeReclaimRecycle), []string{`reclaimPolicy: Unsupported value: "Recycle"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := storageKind(t, tc.resource)
			k.Default(tc.obj)
			checkErrors(t, k.Validate(tc.obj), tc.want)
		})
	}
}

func TestStorageKinds_validateUpdate(t *testing.T) {
	bound := claim("c")
	bound.Spec.VolumeName = "pv-1"
	grown := bound.DeepCopy()
	grown.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	shrunk := bound.DeepCopy()
	shrunk.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("1Mi")
	moved := bound.DeepCopy()
	moved.Spec.VolumeName = "pv-2"
	pv := localPV("a")
	pvMoved := pv.DeepCopy()
	pvMoved.Spec.Local.Path = "/elsewhere"
	pvClaimed := pv.DeepCopy()
	pvClaimed.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "c"}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Provisioner: "keel.dev/local-path"}
	sc2 := sc.DeepCopy()
	sc2.Provisioner = "other.io/p"
	for _, tc := range []struct {
		name     string
		resource string
		old, obj Object
		want     []string
	}{
		{"pvc binds", "persistentvolumeclaims", claim("c"), bound, nil},
		{"pvc grows", "persistentvolumeclaims", bound, grown, nil},
		{"pvc shrinks", "persistentvolumeclaims", bound, shrunk, []string{"spec.resources.requests.storage: Forbidden"}},
		{"pvc rebinds", "persistentvolumeclaims", bound, moved, []string{"spec: Forbidden: spec is immutable after creation"}},
		{"pv claimed", "persistentvolumes", pv, pvClaimed, nil},
		{"pv source", "persistentvolumes", pv, pvMoved, []string{"spec.persistentvolumesource: Forbidden"}},
		{"sc provisioner", "storageclasses", sc, sc2, []string{"provisioner: Forbidden: updates to provisioner are forbidden."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := storageKind(t, tc.resource)
			for _, o := range []Object{tc.old, tc.obj} {
				o.SetResourceVersion("1")
				k.Default(o)
			}
			checkErrors(t, k.ValidateUpdate(tc.obj, tc.old), tc.want)
		})
	}
}

func TestStorageKinds_rows(t *testing.T) {
	created := metav1.NewTime(tableNow.Add(-3 * time.Minute))
	pv := localPV("pvc-1")
	pv.CreationTimestamp = created
	pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data-db-0"}
	pv.Status.Phase = corev1.VolumeBound
	pvc := claim("data-db-0")
	pvc.CreationTimestamp = created
	pvc.Spec.StorageClassName = ptr.To("local-path")
	pvc.Status.Phase = corev1.ClaimPending
	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pvc-1"
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pvc.Spec.AccessModes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path", CreationTimestamp: created,
		Annotations: map[string]string{IsDefaultClassAnnotation: "true"}}, Provisioner: "keel.dev/local-path",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
	for _, tc := range []struct {
		resource string
		obj      Object
		want     string
	}{
		{"persistentvolumes", pv, "1Gi|RWO|Delete|Bound|default/data-db-0|local-path|<unset>||3m|Filesystem"},
		{"persistentvolumeclaims", pvc, "Pending||||local-path|<unset>|3m|Filesystem"},
		{"persistentvolumeclaims", bound, "Bound|pvc-1|1Gi|RWO|local-path|<unset>|3m|Filesystem"},
		{"storageclasses", sc, "local-path (default)|keel.dev/local-path|Delete|WaitForFirstConsumer|false|3m"},
	} {
		k := storageKind(t, tc.resource)
		k.Default(tc.obj)
		cells := k.Row(tc.obj, tableNow)
		if len(cells) != len(k.Columns) {
			t.Fatalf("%s: %d cells for %d columns", tc.resource, len(cells), len(k.Columns))
		}
		var s []string
		for _, c := range cells {
			s = append(s, fmt.Sprint(c))
		}
		if got := strings.Join(s, "|"); got != tc.want {
			t.Errorf("%s row\n got %s\nwant %s", tc.resource, got, tc.want)
		}
	}
}

// FuzzStorageKinds decodes arbitrary JSON into a storage kind and runs it
// through defaulting, validation and the table; nothing may panic.
func FuzzStorageKinds(f *testing.F) {
	ks := storageKinds()
	seeds := []string{
		`{"metadata":{"name":"p"},"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"local":{"path":"/x"},"nodeAffinity":{"required":{"nodeSelectorTerms":[{}]}},"claimRef":{"name":"c"}}}`,
		`{"metadata":{"name":"c","namespace":"d"},"spec":{"accessModes":["ReadWriteOncePod","ReadWriteOnce"],"resources":{"requests":{"storage":"-1"}},"volumeName":"p","storageClassName":""},"status":{"capacity":{"storage":"1Gi"}}}`,
		`{"metadata":{"name":"s","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"a/b","parameters":{"":"x"},"volumeBindingMode":"x"}`,
		`{}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := ks[int(which)%len(ks)]
		old := k.New()
		if err := json.Unmarshal(data, old); err != nil {
			return
		}
		obj := old.DeepCopyObject().(Object)
		k.Default(obj)
		if k.InitStatus != nil {
			k.InitStatus(obj)
		}
		_ = k.Validate(obj)
		_ = k.ValidateUpdate(obj, old)
		_ = k.ValidateUpdate(old, obj)
		if cells := k.Row(obj, tableNow); len(cells) != len(k.Columns) {
			t.Fatalf("%s: %d cells for %d columns", k.Resource, len(cells), len(k.Columns))
		}
		_ = k.Row(old, tableNow)
		if k.Fields != nil {
			_ = k.Fields(obj)
		}
	})
}

// checkErrors wants exactly one error starting with each of want.
func checkErrors(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if len(got) != len(want) {
		t.Fatalf("errors %q, want %q", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no error %q in %q", w, got)
		}
	}
}

func storageKind(t *testing.T, resource string) *Kind {
	t.Helper()
	for _, k := range storageKinds() {
		if k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no kind %s", resource)
	return nil
}

func TestValidateStatefulSet_mountsClaimTemplates(t *testing.T) {
	s := webStatefulSet()
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	k := appsKind(t, "statefulsets")
	k.Default(s)
	checkErrors(t, k.Validate(s), []string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`})
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{*claim("data")}
	s.Spec.VolumeClaimTemplates[0].Namespace = ""
	k.Default(s)
	checkErrors(t, k.Validate(s), nil)
}
