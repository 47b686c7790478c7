package apiserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

// req is one resource request after routing.
type req struct {
	requestInfo
	kind   *kinds.Kind
	format format
	// tableVersion is the meta.k8s.io version of a Table or partial answer.
	tableVersion string
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	k, ok := s.cfg.Kinds.ByResource(ri.GroupVersion.WithResource(ri.Resource))
	if !ok || (!k.Namespaced && ri.Namespace != "" && ri.Resource != "namespaces") {
		s.writeError(w, r, statusError(http.StatusNotFound, "NotFound",
			fmt.Sprintf("the server could not find the requested resource (%s %s)", ri.Verb, r.URL.Path)))
		return
	}
	if ri.Resource == "namespaces" {
		ri.Namespace = ""
	}
	if err := checkSubresource(k, ri); err != nil {
		s.writeError(w, r, err)
		return
	}
	f, tv, err := negotiate(r.Header.Get("Accept"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rq := &req{requestInfo: ri, kind: k, format: f, tableVersion: tv}
	if podStreamSubresources[ri.Subresource] {
		if err := s.servePodStream(w, r, rq); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	switch ri.Verb {
	case "get":
		err = s.get(w, r, rq)
	case "list":
		err = s.list(w, r, rq)
	case "watch":
		err = s.watch(w, r, rq)
	case "create":
		if ri.Subresource == "binding" {
			err = s.bind(w, r, rq)
			break
		}
		if ri.Subresource == "eviction" {
			err = s.evict(w, r, rq)
			break
		}
		err = s.create(w, r, rq)
	case "update":
		err = s.update(w, r, rq)
	case "patch":
		err = s.patch(w, r, rq)
	case "delete":
		err = s.delete(w, r, rq)
	case "deletecollection":
		err = s.deleteCollection(w, r, rq)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// checkSubresource refuses subresources the kind does not serve.
func checkSubresource(k *kinds.Kind, ri requestInfo) error {
	switch ri.Subresource {
	case "":
		return nil
	case "status":
		if k.HasStatus && ri.Verb != "create" {
			return nil
		}
	case "scale":
		if k.Scale != nil && ri.Verb != "create" {
			return nil
		}
	case "finalize":
		if k.Resource == "namespaces" && ri.Verb == "update" {
			return nil
		}
	case "binding", "eviction":
		if k.Resource == "pods" && k.GVK.Group == "" && ri.Verb == "create" {
			return nil
		}
	default:
		if k.Resource == "pods" && k.GVK.Group == "" && podStreamSubresources[ri.Subresource] {
			return nil
		}
	}
	return statusError(http.StatusNotFound, "NotFound",
		fmt.Sprintf("the server could not find the requested resource (%s %s/%s)", ri.Verb, ri.Resource, ri.Subresource))
}

// read returns the stored object and its modification revision.
func (s *Server) read(k *kinds.Kind, namespace, name string) (kinds.Object, int64, error) {
	kv, err := s.cfg.Store.Get(Bucket(k), keyOf(k, namespace, name))
	if err != nil {
		return nil, 0, storeError(err, qualifiedResource(k), name)
	}
	obj, err := decodeStored(k, kv.Value)
	if err != nil {
		return nil, 0, apierrors.NewInternalError(err)
	}
	return obj, kv.ModRevision, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, rq *req) error {
	obj, _, err := s.read(rq.kind, rq.Namespace, rq.Name)
	if err != nil {
		return err
	}
	if rq.Subresource == "scale" {
		s.writeEncoded(w, rq.format, http.StatusOK, rq.kind.ScaleOf(obj))
		return nil
	}
	return s.writeObjects(w, r, rq, http.StatusOK, []kinds.Object{obj}, "", true)
}

// writeObjects answers with one object (single) or a list, in the
// negotiated representation.
func (s *Server) writeObjects(w http.ResponseWriter, r *http.Request, rq *req, code int, objs []kinds.Object, rv string, single bool) error {
	switch rq.format {
	case formatTable:
		t, err := toTable(rq.kind, rq.tableVersion, objs, rv, includeObject(r.URL.Query().Get("includeObject")), s.cfg.Now())
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if single {
			t.ResourceVersion = objs[0].GetResourceVersion()
		}
		s.writeJSON(w, code, t)
	case formatPartial:
		if single {
			s.writeJSON(w, code, partialMeta(objs[0], rq.tableVersion))
		} else {
			s.writeJSON(w, code, partialList(objs, rv, rq.tableVersion))
		}
	default:
		if single {
			s.writeEncoded(w, rq.format, code, objs[0])
			return nil
		}
		items := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			raw, err := json.Marshal(o)
			if err != nil {
				return apierrors.NewInternalError(err)
			}
			items[i] = raw
		}
		s.writeList(w, rq, items, rv)
	}
	return nil
}

// writeList writes a typed list from encoded items without decoding them,
// streaming JSON so a large list is never held twice.
func (s *Server) writeList(w http.ResponseWriter, rq *req, items []json.RawMessage, rv string) {
	head := fmt.Sprintf(`{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":%q},"items":[`,
		rq.kind.GVK.Kind+"List", rq.kind.GVK.GroupVersion().String(), rv)
	if rq.format == formatYAML {
		var b bytes.Buffer
		b.WriteString(head)
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(it)
		}
		b.WriteString("]}")
		out, err := yaml.JSONToYAML(b.Bytes())
		if err != nil {
			s.writeJSON(w, http.StatusInternalServerError, toStatus(apierrors.NewInternalError(err)))
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(out)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(head)
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(it)
	}
	bw.WriteString("]}")
	bw.Flush()
}

// listPrefix is the key prefix of a list in namespace ns ("" for all).
func listPrefix(k *kinds.Kind, ns string) string {
	if k.Namespaced && ns != "" {
		return ns + "/"
	}
	return ""
}

// selectKVs lists and filters, decoding objects only when it must.
func (s *Server) selectKVs(rq *req, f filter) ([]store.KV, []kinds.Object, int64, error) {
	k := rq.kind
	var kvs []store.KV
	var rev int64
	if name, ok := f.exactName(); ok && (!k.Namespaced || rq.Namespace != "") {
		// The revision is read first: a write racing the Get is then seen
		// again by a watch that continues from rev, never lost.
		rev = s.cfg.Store.Revision()
		kv, err := s.cfg.Store.Get(Bucket(k), keyOf(k, rq.Namespace, name))
		switch {
		case err == nil:
			kvs = []store.KV{kv}
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, 0, apierrors.NewInternalError(err)
		}
	} else {
		var err error
		if kvs, rev, err = s.cfg.Store.List(Bucket(k), listPrefix(k, rq.Namespace)); err != nil {
			return nil, nil, 0, apierrors.NewInternalError(err)
		}
	}
	needObjects := !f.empty() || rq.format == formatTable || rq.format == formatPartial
	if !needObjects {
		return kvs, nil, rev, nil
	}
	var keep []store.KV
	var objs []kinds.Object
	for _, kv := range kvs {
		obj, err := decodeStored(k, kv.Value)
		if err != nil {
			return nil, nil, 0, apierrors.NewInternalError(err)
		}
		if f.matches(k, obj) {
			keep = append(keep, kv)
			objs = append(objs, obj)
		}
	}
	return keep, objs, rev, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, rq *req) error {
	f, err := parseFilter(rq.kind, r.URL.Query())
	if err != nil {
		return err
	}
	kvs, objs, rev, err := s.selectKVs(rq, f)
	if err != nil {
		return err
	}
	rv := strconv.FormatInt(rev, 10)
	if rq.format == formatTable || rq.format == formatPartial {
		if objs == nil {
			objs = []kinds.Object{}
		}
		return s.writeObjects(w, r, rq, http.StatusOK, objs, rv, false)
	}
	items := make([]json.RawMessage, len(kvs))
	for i, kv := range kvs {
		items[i] = kv.Value
	}
	s.writeList(w, rq, items, rv)
	return nil
}
