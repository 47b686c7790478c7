package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// localPathProvisioner marks volumes the coordinator's node-local
// provisioner made: their directory is created on first use.
const localPathProvisioner = "keel.dev/local-path"

// claimObjects finds the claims and volumes behind a pod's
// persistentVolumeClaim volumes.
type claimObjects interface {
	PersistentVolumeClaim(namespace, name string) (*corev1.PersistentVolumeClaim, error)
	PersistentVolume(name string) (*corev1.PersistentVolume, error)
}

func (o apiObjects) PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	return o.cs.CoreV1().PersistentVolumeClaims(ns).Get(o.ctx, name, metav1.GetOptions{})
}

func (o apiObjects) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	return o.cs.CoreV1().PersistentVolumes().Get(o.ctx, name, metav1.GetOptions{})
}

// claimDir resolves a persistentVolumeClaim volume to the host directory
// of its bound volume: a local or hostPath volume. A directory the
// local-path provisioner made is created here, mode 0777, the first time
// a pod uses it; other local volumes must exist.
func claimDir(pod *corev1.Pod, src *corev1.PersistentVolumeClaimVolumeSource, objs Objects) (string, error) {
	co, ok := objs.(claimObjects)
	if !ok {
		return "", configErrorf("persistentVolumeClaim %s: this node cannot look claims up", src.ClaimName)
	}
	pvc, err := co.PersistentVolumeClaim(pod.Namespace, src.ClaimName)
	if apierrors.IsNotFound(err) {
		return "", configErrorf("persistentvolumeclaim %q not found", src.ClaimName)
	}
	if err != nil {
		return "", fmt.Errorf("persistentvolumeclaim %q: %w", src.ClaimName, err)
	}
	if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
		return "", configErrorf("persistentvolumeclaim %q is not bound yet", src.ClaimName)
	}
	pv, err := co.PersistentVolume(pvc.Spec.VolumeName)
	if err != nil {
		return "", fmt.Errorf("persistentvolume %q of claim %q: %w", pvc.Spec.VolumeName, src.ClaimName, err)
	}
	return volumeDirOf(pv, pvc)
}

// volumeDirOf is the host directory of pv, bound to pvc.
func volumeDirOf(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) (string, error) {
	if r := pv.Spec.ClaimRef; r == nil || r.UID != pvc.UID {
		return "", configErrorf("persistentvolume %q is not bound to claim %q", pv.Name, pvc.Name)
	}
	switch {
	case pv.Spec.Local != nil:
		dir := pv.Spec.Local.Path
		if !filepath.IsAbs(dir) {
			return "", configErrorf("persistentvolume %q: local path %q is not absolute", pv.Name, dir)
		}
		if pv.Annotations["pv.kubernetes.io/provisioned-by"] == localPathProvisioner {
			return dir, makeSharedDir(dir)
		}
		info, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return "", configErrorf("persistentvolume %q: local path %s does not exist on this node", pv.Name, dir)
		}
		if err != nil {
			return "", err
		}
		if !info.IsDir() {
			return "", configErrorf("persistentvolume %q: local path %s is not a directory", pv.Name, dir)
		}
		return dir, nil
	case pv.Spec.HostPath != nil:
		if err := checkHostPath(pv.Spec.HostPath); err != nil {
			return "", configErrorf("persistentvolume %q: %v", pv.Name, err)
		}
		return pv.Spec.HostPath.Path, nil
	}
	return "", configErrorf("persistentvolume %q: this node mounts local and hostPath volumes only", pv.Name)
}

// makeSharedDir creates dir writable by every user, as local-path
// provisioners do, so that containers running as any user can write.
func makeSharedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return fmt.Errorf("create volume directory: %w", err)
	}
	return nil
}
