package controllers

import (
	"sort"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

// podIndex reads an Indexed Job pod's completion index.
func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}

// duplicateIndexPods are active pods with no valid index, one out of
// range, or an index another active pod already has.
func duplicateIndexPods(active []*corev1.Pod, completions int) []*corev1.Pod {
	ranked := append([]*corev1.Pod(nil), active...)
	sort.Sort(sort.Reverse(podutils.ActivePods(ranked)))
	seen := map[int]bool{}
	var out []*corev1.Pod
	for _, p := range ranked {
		i, ok := podIndex(p)
		if !ok || i >= completions || seen[i] {
			out = append(out, p)
			continue
		}
		seen[i] = true
	}
	return out
}

// formatIndexes writes a set of indexes as Kubernetes' completedIndexes:
// ascending, consecutive runs as "first-last", separated by commas.
func formatIndexes(set map[int]bool) string {
	idx := make([]int, 0, len(set))
	for i := range set {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := ""
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if out != "" {
			out += ","
		}
		out += strconv.Itoa(idx[i])
		if j > i {
			out += "-" + strconv.Itoa(idx[j])
		}
		i = j + 1
	}
	return out
}

// newJobPod is a pod of job as its template describes it; index is its
// completion index in an Indexed Job, -1 otherwise.
func newJobPod(job *batchv1.Job, index int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{controllerRef(job, jobKind)},
		},
		Spec: t.Spec,
	}
	if index < 0 {
		return p
	}
	s := strconv.Itoa(index)
	p.GenerateName = job.Name + "-" + s + "-"
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[batchv1.JobCompletionIndexAnnotation] = s
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[batchv1.JobCompletionIndexAnnotation] = s
	if p.Spec.Hostname == "" {
		p.Spec.Hostname = job.Name + "-" + s
	}
	env := corev1.EnvVar{Name: jobIndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']"}}}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			cs[i].Env = append(cs[i].Env, env)
		}
	}
	return p
}
