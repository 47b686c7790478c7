package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FuzzRevisionTemplate reads templates back from arbitrary revision data,
// as the StatefulSet controller does with what the API holds; nothing may
// panic, and the data of a template reads back as that template.
func FuzzRevisionTemplate(f *testing.F) {
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}}}
	f.Add(templatePatch(&tmpl))
	f.Add([]byte(`{"spec":{"template":null}}`))
	f.Add([]byte(`{"spec":[]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}}
		got, err := revisionTemplate(r)
		if err != nil {
			return
		}
		again, err := revisionTemplate(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: templatePatch(got)}})
		if err != nil {
			t.Fatalf("a template's own data does not read back: %v", err)
		}
		if !sameData(templatePatch(got), templatePatch(again)) {
			t.Fatal("template changed on a round trip")
		}
		_ = sameData(data, templatePatch(got))
	})
}
