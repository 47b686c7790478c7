package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// recorder writes a controller's events through the API, as component.
type recorder struct {
	broadcaster record.EventBroadcaster
	record.EventRecorder
}

func newRecorder(component string) *recorder {
	b := record.NewBroadcaster()
	return &recorder{broadcaster: b, EventRecorder: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})}
}

// start sends the events to cfg's API until stop is called.
func (r *recorder) start(cfg Config) (stop func()) {
	r.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Client.CoreV1().Events("")})
	return r.broadcaster.Shutdown
}

// startRecorder records events through cfg's API as component until stop.
func startRecorder(cfg Config, component string) (rec record.EventRecorder, stop func()) {
	r := newRecorder(component)
	return r, r.start(cfg)
}
