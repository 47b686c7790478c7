package apiserver

import (
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/keel-edge/keel/coordinator/kinds"
)

var nameColumn = metav1.TableColumnDefinition{
	Name: "Name", Type: "string", Format: "name",
	Description: "Name must be unique within a namespace.",
}

// includeObject is what a table row embeds: None, Metadata (the default)
// or Object.
func includeObject(q string) string {
	switch q {
	case "None", "Object":
		return q
	}
	return "Metadata"
}

// toTable prints objects as kubectl get shows them.
func toTable(k *kinds.Kind, version string, objs []kinds.Object, rv string, include string, now time.Time) (*metav1.Table, error) {
	cols := append([]metav1.TableColumnDefinition{nameColumn}, k.Columns...)
	if k.NoNameColumn {
		cols = k.Columns
	}
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + version},
		ListMeta:          metav1.ListMeta{ResourceVersion: rv},
		ColumnDefinitions: cols,
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for _, obj := range objs {
		row := metav1.TableRow{Cells: k.Row(obj, now)}
		if !k.NoNameColumn {
			row.Cells = append([]any{obj.GetName()}, row.Cells...)
		}
		var embed any
		switch include {
		case "Object":
			embed = obj
		case "Metadata":
			embed = partialMeta(obj, version)
		}
		if embed != nil {
			raw, err := json.Marshal(embed)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: raw}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func partialMeta(obj kinds.Object, version string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/" + version}}
	m.Name = obj.GetName()
	m.GenerateName = obj.GetGenerateName()
	m.Namespace = obj.GetNamespace()
	m.UID = obj.GetUID()
	m.ResourceVersion = obj.GetResourceVersion()
	m.Generation = obj.GetGeneration()
	m.CreationTimestamp = obj.GetCreationTimestamp()
	m.DeletionTimestamp = obj.GetDeletionTimestamp()
	m.DeletionGracePeriodSeconds = obj.GetDeletionGracePeriodSeconds()
	m.Labels = obj.GetLabels()
	m.Annotations = obj.GetAnnotations()
	m.OwnerReferences = obj.GetOwnerReferences()
	m.Finalizers = obj.GetFinalizers()
	return m
}

func partialList(objs []kinds.Object, rv, version string) *metav1.PartialObjectMetadataList {
	l := &metav1.PartialObjectMetadataList{
		TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/" + version},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Items:    make([]metav1.PartialObjectMetadata, 0, len(objs)),
	}
	for _, o := range objs {
		l.Items = append(l.Items, *partialMeta(o, version))
	}
	return l
}
