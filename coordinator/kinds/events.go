package kinds

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var eventTypes = sets.New(corev1.EventTypeNormal, corev1.EventTypeWarning)

func eventKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Event"),
		Resource:   "events",
		Singular:   "event",
		ShortNames: []string{"ev"},
		Namespaced: true,
		New:        func() Object { return &corev1.Event{} },
		NewList:    func() runtime.Object { return &corev1.EventList{} },
		Validate:   func(obj Object) field.ErrorList { return validateEvent(obj.(*corev1.Event)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			e, o := obj.(*corev1.Event), old.(*corev1.Event)
			errs := ValidateObjectMetaUpdate(&e.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
			return append(errs, validateEvent(e)...)
		},
		Columns:      eventColumns,
		Row:          eventRow,
		Fields:       func(obj Object) fields.Set { return eventFields(obj.(*corev1.Event)) },
		NoNameColumn: true,
	}
}

func validateEvent(e *corev1.Event) field.ErrorList {
	errs := ValidateObjectMeta(&e.ObjectMeta, true, field.NewPath("metadata"))
	io := field.NewPath("involvedObject")
	if e.InvolvedObject.Kind == "" && e.InvolvedObject.Name == "" {
		errs = append(errs, field.Required(io, "must name the object the event is about"))
	}
	if e.InvolvedObject.Kind == "" && e.InvolvedObject.Name != "" {
		errs = append(errs, field.Required(io.Child("kind"), ""))
	}
	if ns := e.InvolvedObject.Namespace; ns != "" && ns != e.Namespace {
		errs = append(errs, field.Invalid(io.Child("namespace"), ns, "does not match event.namespace"))
	}
	if e.Type != "" && !eventTypes.Has(e.Type) {
		errs = append(errs, field.NotSupported(field.NewPath("type"), e.Type, sets.List(eventTypes)))
	}
	if e.Count < 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), e.Count, "must be greater than or equal to 0"))
	}
	return errs
}

func eventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	io := e.InvolvedObject
	return fields.Set{
		"involvedObject.kind":            io.Kind,
		"involvedObject.namespace":       io.Namespace,
		"involvedObject.name":            io.Name,
		"involvedObject.uid":             string(io.UID),
		"involvedObject.apiVersion":      io.APIVersion,
		"involvedObject.resourceVersion": io.ResourceVersion,
		"involvedObject.fieldPath":       io.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// eventColumns are the columns of `kubectl get events`: the table has no
// leading NAME; the name is a wide column at the end.
var eventColumns = []metav1.TableColumnDefinition{
	column("Last Seen", "Time since the event was last seen."),
	column("Type", "Normal or Warning."),
	column("Reason", "Short reason for the event."),
	column("Object", "Kind and name of the object the event is about."),
	wide(column("Subobject", "Part of the object the event is about, such as a container.")),
	wide(column("Source", "Component, and host, that reported the event.")),
	column("Message", "What happened."),
	wide(column("First Seen", "Time since the event was first seen.")),
	wide(column("Count", "Number of times the event occurred.")),
	{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: "Name of the event."},
}

func eventRow(obj Object, now time.Time) []any {
	e := obj.(*corev1.Event)
	first := ageSince(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = microAgeSince(e.EventTime, now)
	}
	last := ageSince(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = microAgeSince(e.Series.LastObservedTime, now)
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, e.InvolvedObject.Name)
	}
	return []any{
		last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath,
		eventSource(e), strings.TrimSpace(e.Message), first, int64(count), e.Name,
	}
}

// eventSource is "component, host", falling back to the reporting
// controller and instance of events written by newer clients.
func eventSource(e *corev1.Event) string {
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
