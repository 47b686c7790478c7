package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/keel-edge/keel/coordinator/store"
)

type seen struct {
	typ  watch.EventType
	name string
}

func collect(t *testing.T, w watch.Interface, n int) []seen {
	t.Helper()
	var out []seen
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", out)
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %v", apierrors.FromObject(ev.Object))
			}
			out = append(out, seen{ev.Type, ev.Object.(*corev1.ConfigMap).Name})
		case <-timeout:
			t.Fatalf("timed out with %v, want %d events", out, n)
		}
	}
	return out
}

func TestServer_watchFromResourceVersion(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Writes before the watch starts are replayed from the list's revision.
	a, _ := cms.Create(ctx, configMap("a", nil, nil), metav1.CreateOptions{})
	a.Data = map[string]string{"k": "v"}
	cms.Update(ctx, a, metav1.UpdateOptions{})
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cms.Delete(ctx, "a", metav1.DeleteOptions{})
	got := collect(t, w, 3)
	want := []seen{{watch.Added, "a"}, {watch.Modified, "a"}, {watch.Deleted, "a"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestServer_watchSelectorTransitions(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	w, err := cms.Watch(ctx, metav1.ListOptions{LabelSelector: "tier=web", ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c, _ := cms.Create(ctx, configMap("c", map[string]string{"tier": "db"}, nil), metav1.CreateOptions{})
	c.Labels["tier"] = "web" // enters the selection
	c, _ = cms.Update(ctx, c, metav1.UpdateOptions{})
	c.Data = map[string]string{"x": "y"} // stays in it
	c, _ = cms.Update(ctx, c, metav1.UpdateOptions{})
	c.Labels["tier"] = "db" // leaves it
	cms.Update(ctx, c, metav1.UpdateOptions{})
	cms.Delete(ctx, "c", metav1.DeleteOptions{}) // not seen: no longer selected
	cms.Create(ctx, configMap("d", map[string]string{"tier": "web"}, nil), metav1.CreateOptions{})
	got := collect(t, w, 4)
	want := []seen{{watch.Added, "c"}, {watch.Modified, "c"}, {watch.Deleted, "c"}, {watch.Added, "d"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestServer_watchInitialEvents(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	cms.Create(ctx, configMap("pre", nil, nil), metav1.CreateOptions{})
	w, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cms.Create(ctx, configMap("post", nil, nil), metav1.CreateOptions{})
	got := collect(t, w, 2)
	want := []seen{{watch.Added, "pre"}, {watch.Added, "post"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestServer_watchTooOld(t *testing.T) {
	s := newTestServer(t, func(c *store.Config) { c.ChangelogRetention = 2 })
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	for i := 0; i < 20; i++ {
		if _, err := cms.Create(ctx, configMap(fmt.Sprintf("c%d", i), nil, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		err := apierrors.FromObject(ev.Object)
		if ev.Type != watch.Error || !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Fatalf("want a 410 error event, got %s %v", ev.Type, err)
		}
		if st, ok := err.(apierrors.APIStatus); !ok || st.Status().Code != http.StatusGone {
			t.Fatalf("want code 410, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

func TestServer_watchBookmarks(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	list, _ := cms.List(ctx, metav1.ListOptions{})
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Bookmark || ev.Object.(*corev1.ConfigMap).ResourceVersion == "" {
			t.Fatalf("want a bookmark with a resourceVersion, got %s %+v", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no bookmark")
	}
}
