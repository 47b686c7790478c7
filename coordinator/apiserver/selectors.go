package apiserver

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// filter is a parsed labelSelector and fieldSelector.
type filter struct {
	label labels.Selector
	field fields.Selector
}

func (f filter) empty() bool { return f.label.Empty() && f.field.Empty() }

// parseFilter reads the selectors of a list, watch or deletecollection and
// refuses fields the kind does not support, as Kubernetes does.
func parseFilter(k *kinds.Kind, q url.Values) (filter, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return filter{}, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: labelSelector %q: %v", q.Get("labelSelector"), err))
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return filter{}, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector %q: %v", q.Get("fieldSelector"), err))
	}
	supported := supportedFields(k)
	for _, req := range fs.Requirements() {
		if _, ok := supported[req.Field]; !ok {
			names := make([]string, 0, len(supported))
			for n := range supported {
				names = append(names, n)
			}
			sort.Strings(names)
			return filter{}, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s (supported for %s: %s)", req.Field, k.Resource, strings.Join(names, ", ")))
		}
	}
	return filter{label: ls, field: fs}, nil
}

func supportedFields(k *kinds.Kind) map[string]struct{} {
	s := map[string]struct{}{"metadata.name": {}, "metadata.namespace": {}}
	if k.Fields != nil {
		for f := range k.Fields(k.New()) {
			s[f] = struct{}{}
		}
	}
	return s
}

// fieldSet is the field-selector view of obj.
func fieldSet(k *kinds.Kind, obj kinds.Object) fields.Set {
	set := fields.Set{}
	if k.Fields != nil {
		for f, v := range k.Fields(obj) {
			set[f] = v
		}
	}
	set["metadata.name"] = obj.GetName()
	set["metadata.namespace"] = obj.GetNamespace()
	return set
}

func (f filter) matches(k *kinds.Kind, obj kinds.Object) bool {
	if !f.label.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	return f.field.Empty() || f.field.Matches(fieldSet(k, obj))
}

// exactName returns the name a fieldSelector pins (metadata.name=X), so a
// watch or list can read one key instead of scanning.
func (f filter) exactName() (string, bool) {
	return f.field.RequiresExactMatch("metadata.name")
}
