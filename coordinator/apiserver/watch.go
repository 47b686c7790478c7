package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

// initialEventsEnd marks the bookmark that ends the initial events of a
// watch with sendInitialEvents=true.
const initialEventsEnd = "k8s.io/initial-events-end"

type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watcher streams one watch response.
type watcher struct {
	s      *Server
	rq     *req
	f      filter
	w      http.ResponseWriter
	flush  func()
	enc    *json.Encoder
	r      *http.Request
	lastRV int64
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, rq *req) error {
	q := r.URL.Query()
	f, err := parseFilter(rq.kind, q)
	if err != nil {
		return err
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return apierrors.NewBadRequest("timeoutSeconds must be a non-negative integer")
		}
		timeout = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	rv := q.Get("resourceVersion")
	initial := rv == "" || rv == "0"
	if v := q.Get("sendInitialEvents"); v != "" {
		initial = isTrue(v)
	}
	var after int64
	var initKVs []store.KV
	if initial {
		list := *rq
		list.format = formatJSON
		if initKVs, _, after, err = s.selectKVs(&list, f); err != nil {
			return err
		}
		if rv != "" && rv != "0" {
			// sendInitialEvents with a resourceVersion: "not older than" it.
			if n, perr := strconv.ParseInt(rv, 10, 64); perr != nil || n > after {
				return apierrors.NewBadRequest("resourceVersion " + rv + " is newer than the store")
			}
		}
	} else {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil || n < 0 {
			return apierrors.NewBadRequest("resourceVersion " + strconv.Quote(rv) + " is not a valid revision")
		}
		after = n
	}

	sw, err := s.cfg.Store.Watch(ctx, Bucket(rq.kind), listPrefix(rq.kind, rq.Namespace), after)
	flusher, _ := w.(http.Flusher)
	wt := &watcher{s: s, rq: rq, f: f, w: w, r: r, enc: json.NewEncoder(w), lastRV: after, flush: func() {
		if flusher != nil {
			flusher.Flush()
		}
	}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	if errors.Is(err, store.ErrCompacted) {
		st := toStatus(apierrors.NewResourceExpired("too old resource version: " + rv))
		raw, _ := json.Marshal(st)
		wt.enc.Encode(watchEvent{Type: watch.Error, Object: raw})
		wt.flush()
		return nil
	}
	if err != nil {
		st := toStatus(apierrors.NewInternalError(err))
		raw, _ := json.Marshal(st)
		wt.enc.Encode(watchEvent{Type: watch.Error, Object: raw})
		return nil
	}
	defer sw.Stop()

	for _, kv := range initKVs {
		obj, err := decodeStored(rq.kind, kv.Value)
		if err != nil {
			return nil
		}
		if err := wt.send(watch.Added, obj); err != nil {
			return nil
		}
	}
	if isTrue(q.Get("sendInitialEvents")) {
		wt.bookmark(map[string]string{initialEventsEnd: "true"})
	}
	wt.flush()

	bookmarks := isTrue(q.Get("allowWatchBookmarks"))
	tick := time.NewTicker(s.cfg.WatchBookmarkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if bookmarks {
				wt.bookmark(nil)
				wt.flush()
			}
		case ev, ok := <-sw.Events():
			if !ok {
				if errors.Is(sw.Err(), store.ErrTooSlow) {
					st := toStatus(apierrors.NewResourceExpired("the watch fell behind; re-list and watch again"))
					raw, _ := json.Marshal(st)
					wt.enc.Encode(watchEvent{Type: watch.Error, Object: raw})
				}
				return nil
			}
			if err := wt.deliver(ev); err != nil {
				return nil
			}
			wt.flush()
		}
	}
}

// deliver turns a store event into the watch event this client should see,
// given its selectors: an object entering the selection is ADDED, one
// leaving it is DELETED.
func (wt *watcher) deliver(ev store.Event) error {
	k := wt.rq.kind
	wt.lastRV = ev.Rev
	var cur, prev kinds.Object
	var err error
	if ev.Value != nil {
		if cur, err = decodeStored(k, ev.Value); err != nil {
			return err
		}
	}
	if ev.Prev != nil {
		if prev, err = decodeStored(k, ev.Prev); err != nil {
			return err
		}
	}
	curMatch := cur != nil && wt.f.matches(k, cur)
	prevMatch := prev != nil && wt.f.matches(k, prev)
	switch {
	case ev.Type == store.Removed:
		if !prevMatch {
			return nil
		}
		prev.SetResourceVersion(strconv.FormatInt(ev.Rev, 10))
		return wt.send(watch.Deleted, prev)
	case curMatch && prevMatch:
		return wt.send(watch.Modified, cur)
	case curMatch:
		return wt.send(watch.Added, cur)
	case prevMatch:
		cur.SetResourceVersion(strconv.FormatInt(ev.Rev, 10))
		return wt.send(watch.Deleted, cur)
	}
	return nil
}

func (wt *watcher) send(t watch.EventType, obj kinds.Object) error {
	var v any = obj
	switch wt.rq.format {
	case formatTable:
		tbl, err := toTable(wt.rq.kind, wt.rq.tableVersion, []kinds.Object{obj}, obj.GetResourceVersion(),
			includeObject(wt.r.URL.Query().Get("includeObject")), wt.s.cfg.Now())
		if err != nil {
			return err
		}
		v = tbl
	case formatPartial:
		v = partialMeta(obj, wt.rq.tableVersion)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return wt.enc.Encode(watchEvent{Type: t, Object: raw})
}

func (wt *watcher) bookmark(annotations map[string]string) {
	obj := wt.rq.kind.New()
	obj.GetObjectKind().SetGroupVersionKind(wt.rq.kind.GVK)
	obj.SetResourceVersion(strconv.FormatInt(wt.lastRV, 10))
	obj.SetAnnotations(annotations)
	raw, err := json.Marshal(obj)
	if err != nil {
		return
	}
	wt.enc.Encode(watchEvent{Type: watch.Bookmark, Object: raw})
}
