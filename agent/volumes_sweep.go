package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// provisionedName is the name of a provisioned volume: pvc-<claim uid>.
var provisionedName = regexp.MustCompile(`^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// deletedVolumeDir is the directory to remove for a deleted volume: one
// the local-path provisioner made on this node (its affinity names
// hostname), whose path ends in the volume's own name.
func deletedVolumeDir(pv *corev1.PersistentVolume, hostname string) (string, bool) {
	if pv.Annotations["pv.kubernetes.io/provisioned-by"] != localPathProvisioner || pv.Spec.Local == nil ||
		!provisionedName.MatchString(pv.Name) {
		return "", false
	}
	dir := pv.Spec.Local.Path
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || filepath.Base(dir) != pv.Name {
		return "", false
	}
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil {
		return "", false
	}
	for _, term := range na.Required.NodeSelectorTerms {
		for _, r := range term.MatchExpressions {
			if r.Key == corev1.LabelHostname && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 && r.Values[0] == hostname {
				return dir, true
			}
		}
	}
	return "", false
}

// removeVolumeDir removes a volume directory unless something is mounted
// on it.
func removeVolumeDir(dir string) error {
	if isMountPoint(dir) {
		return fmt.Errorf("volume directory %s is a mount point; left in place", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove volume directory: %w", err)
	}
	return nil
}

// sweepLocalVolumes removes the directory of each of this node's
// local-path volumes whose PersistentVolume it sees deleted. Volumes
// deleted while the agent is not running keep their directory: a
// directory alone does not tell which cluster made it. It returns when
// ctx ends.
func sweepLocalVolumes(ctx context.Context, cs kubernetes.Interface, node string, log *slog.Logger) error {
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().PersistentVolumes().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		pv, ok := obj.(*corev1.PersistentVolume)
		if !ok {
			return
		}
		if dir, ok := deletedVolumeDir(pv, node); ok {
			if err := removeVolumeDir(dir); err != nil {
				log.Warn("deleted volume", "pv", pv.Name, "err", err)
				return
			}
			log.Info("removed the directory of a deleted volume", "pv", pv.Name, "path", dir)
		}
	}}); err != nil {
		return fmt.Errorf("watch volumes: %w", err)
	}
	f.Start(ctx.Done())
	<-ctx.Done()
	f.Shutdown()
	return nil
}
