package apiserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

// maxBody bounds request bodies, as Kubernetes does (3 MiB objects).
const maxBody = 3 << 20

// updateRetries bounds the retries of an update that lost a race and
// carries no resourceVersion precondition of its own.
const updateRetries = 16

func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read body: %v", err))
	}
	if len(data) > maxBody {
		return nil, statusError(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, "request is too large (limit 3 MiB)")
	}
	return data, nil
}

func isDryRun(r *http.Request) (bool, error) {
	for _, v := range r.URL.Query()["dryRun"] {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("dryRun %q is not supported: only All", v))
		}
		return true, nil
	}
	return false, nil
}

// write is what every write request carries besides its target.
type write struct {
	validation string
	dry        bool
	// body is the request body, as JSON when decodeJSON was asked for.
	body []byte
}

// readWrite reads a write's query options and body.
func readWrite(r *http.Request, decodeJSON bool) (write, error) {
	var w write
	var err error
	if w.validation, err = fieldValidation(r.URL.Query().Get("fieldValidation")); err != nil {
		return w, err
	}
	if w.dry, err = isDryRun(r); err != nil {
		return w, err
	}
	if w.body, err = readBody(r); err != nil {
		return w, err
	}
	if decodeJSON {
		w.body, err = bodyJSON(r.Header.Get("Content-Type"), w.body)
	}
	return w, err
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, rq *req) error {
	k := rq.kind
	opts, err := readWrite(r, true)
	if err != nil {
		return err
	}
	validation, dry, data := opts.validation, opts.dry, opts.body
	obj, warnings, err := decodeObject(k, data, validation)
	if err != nil {
		return err
	}
	if k.Namespaced {
		switch ns := obj.GetNamespace(); {
		case ns == "":
			obj.SetNamespace(rq.Namespace)
		case ns != rq.Namespace:
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		obj.SetNamespace("")
	}
	if obj.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if obj.GetName() == "" && obj.GetGenerateName() != "" {
		obj.SetName(obj.GetGenerateName() + randomSuffix())
	}
	if obj.GetName() == "" {
		return apierrors.NewInvalid(k.GVK.GroupKind(), "", field.ErrorList{
			field.Required(field.NewPath("metadata", "name"), "name or generateName is required"),
		})
	}
	if k.Namespaced {
		if err := s.namespaceOpen(obj.GetNamespace()); err != nil {
			return err
		}
	}
	s.prepareCreate(k, obj)
	var out kinds.Object
	for attempt := 0; ; attempt++ {
		try := obj.DeepCopyObject().(kinds.Object)
		ops, err := s.admission(r.Context(), k, "create", try, nil)
		if err != nil {
			return err
		}
		if errs := k.Validate(try); len(errs) > 0 {
			return apierrors.NewInvalid(k.GVK.GroupKind(), try.GetName(), errs)
		}
		out, err = s.commit(r.Context(), k, "create", try, 0, dry, ops)
		if errors.Is(err, errAllocationRace) && attempt < updateRetries {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	warn(w, warnings)
	return s.writeObjects(w, r, rq, http.StatusCreated, []kinds.Object{out}, "", true)
}

// prepareCreate sets what the server owns on a new object.
func (s *Server) prepareCreate(k *kinds.Kind, obj kinds.Object) {
	obj.SetUID(uuid.NewUUID())
	obj.SetCreationTimestamp(metav1.NewTime(s.cfg.Now().Truncate(1e9)))
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	obj.SetManagedFields(nil)
	obj.SetGeneration(0)
	if k.Generation {
		obj.SetGeneration(1)
	}
	if k.HasStatus && !k.KeepStatusOnCreate {
		resetStatus(obj)
		if k.InitStatus != nil {
			k.InitStatus(obj)
		}
	}
	if k.Default != nil {
		k.Default(obj)
	}
}

// namespaceOpen refuses writes into a namespace that is missing or being
// deleted.
func (s *Server) namespaceOpen(ns string) error {
	nk, ok := s.cfg.Kinds.ByResource(namespacesGVR)
	if !ok {
		return nil
	}
	kv, err := s.cfg.Store.Get(Bucket(nk), ns)
	if err != nil {
		return storeError(err, qualifiedResource(nk), ns)
	}
	meta, err := objectMeta(kv.Value)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if meta.DeletionTimestamp != nil {
		return apierrors.NewForbidden(qualifiedResource(nk), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

// admission runs the admissions of a write and returns the store
// operations they add. obj is nil on delete, old is nil on create.
func (s *Server) admission(ctx context.Context, k *kinds.Kind, verb string, obj, old kinds.Object) ([]store.Op, error) {
	ar := &AdmissionRequest{Kind: k, Verb: verb, Obj: obj, Old: old}
	for _, a := range s.admit {
		if err := a.Admit(ctx, ar); err != nil {
			return nil, err
		}
	}
	return ar.Ops, nil
}

// commit writes obj (create, or update at expectRev) together with the
// admissions' operations. The returned object carries the new
// resourceVersion.
func (s *Server) commit(ctx context.Context, k *kinds.Kind, verb string, obj kinds.Object, expectRev int64, dry bool, extra []store.Op) (kinds.Object, error) {
	if dry {
		return obj, nil
	}
	op := store.Op{Kind: store.Create, Bucket: Bucket(k), Key: keyOf(k, obj.GetNamespace(), obj.GetName())}
	if verb != "create" {
		op.Kind, op.ExpectRev = store.Update, expectRev
	}
	value, err := encodeStamped(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	op.Value = value
	rev, err := s.cfg.Store.Commit(ctx, append([]store.Op{op}, extra...)...)
	if err != nil {
		return nil, commitError(err, k, obj.GetName())
	}
	obj.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

// rvPlaceholder stands in for the resourceVersion while an object is
// encoded: JSON escapes NUL, so this is how "\x00rv\x00" reads. Everything
// encoded before metadata.resourceVersion (kind, apiVersion, name,
// generateName, namespace, uid) is set by the server or validated to hold
// no control characters, so the first occurrence is the placeholder even if
// user data later in the object contains the same bytes.
const rvPlaceholder = `\u0000rv\u0000`

// encodeStamped encodes obj on the caller's goroutine and returns the
// store's Value function, which only splices the commit's revision in: the
// single writer never spends time encoding.
func encodeStamped(obj kinds.Object) (func(rev int64) ([]byte, error), error) {
	obj.SetResourceVersion("\x00rv\x00")
	data, err := json.Marshal(obj)
	obj.SetResourceVersion("")
	if err != nil {
		return nil, err
	}
	i := bytes.Index(data, []byte(rvPlaceholder))
	if i < 0 {
		return nil, errors.New("encoded object has no resourceVersion placeholder")
	}
	return func(rev int64) ([]byte, error) {
		out := make([]byte, 0, len(data)+20)
		out = append(out, data[:i]...)
		out = strconv.AppendInt(out, rev, 10)
		return append(out, data[i+len(rvPlaceholder):]...), nil
	}, nil
}

// errAllocationRace: an admission's allocation was taken by a concurrent
// write between admission and commit; the write is retried.
var errAllocationRace = errors.New("allocation taken by a concurrent write")

// commitError maps a failed commit to a status. Extra admission ops that
// fail report through the error their admission wrapped in the op.
func commitError(err error, k *kinds.Kind, name string) error {
	var oe *store.OpError
	if errors.As(err, &oe) && oe.Index > 0 {
		var se *apierrors.StatusError
		if errors.As(oe.Err, &se) {
			return se
		}
		return fmt.Errorf("%s/%s: %w", oe.Bucket, oe.Key, errAllocationRace)
	}
	return storeError(err, qualifiedResource(k), name)
}

func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// mutation turns the current object into the desired one. It returns the
// resourceVersion the client required (or "").
type mutation func(cur kinds.Object) (next kinds.Object, wantRV string, err error)

// guaranteedUpdate reads, mutates and writes until the write lands or the
// client's own resourceVersion precondition fails.
func (s *Server) guaranteedUpdate(ctx context.Context, rq *req, dry bool, mutate mutation) (kinds.Object, error) {
	k := rq.kind
	for attempt := 0; ; attempt++ {
		cur, modRev, err := s.read(k, rq.Namespace, rq.Name)
		if err != nil {
			return nil, err
		}
		next, wantRV, err := mutate(cur.DeepCopyObject().(kinds.Object))
		if err != nil {
			return nil, err
		}
		if wantRV != "" && wantRV != cur.GetResourceVersion() {
			return nil, apierrors.NewConflict(qualifiedResource(k), rq.Name, errors.New(msgModified))
		}
		if err := s.prepareUpdate(rq, next, cur); err != nil {
			return nil, err
		}
		ops, err := s.admission(ctx, k, "update", next, cur)
		if err != nil {
			return nil, err
		}
		if err := validateUpdate(k, next, cur); err != nil {
			return nil, err
		}
		if unchanged(next, cur) {
			return cur, nil
		}
		if lastFinalizerRemoved(next, cur) {
			return s.remove(ctx, k, cur, modRev, dry)
		}
		out, err := s.commit(ctx, k, "update", next, modRev, dry, ops)
		retry := errors.Is(err, errAllocationRace) || (wantRV == "" && apierrors.IsConflict(err))
		if err != nil && retry && attempt < updateRetries {
			continue
		}
		return out, err
	}
}

// lastFinalizerRemoved reports an update of an object being deleted that
// takes away the last finalizer holding it: the object then goes.
func lastFinalizerRemoved(next, cur kinds.Object) bool {
	if next.GetDeletionTimestamp() == nil {
		return false
	}
	held := len(cur.GetFinalizers()) > 0 || hasSpecFinalizers(cur)
	return held && len(next.GetFinalizers()) == 0 && !hasSpecFinalizers(next)
}

// prepareUpdate keeps what clients may not change and validates the result.
func (s *Server) prepareUpdate(rq *req, next, cur kinds.Object) error {
	k := rq.kind
	if next.GetName() != cur.GetName() || (k.Namespaced && next.GetNamespace() != cur.GetNamespace() && next.GetNamespace() != "") {
		return apierrors.NewBadRequest(fmt.Sprintf("the name or namespace of the object (%s/%s) does not match the request (%s/%s)",
			next.GetNamespace(), next.GetName(), cur.GetNamespace(), cur.GetName()))
	}
	if uid := next.GetUID(); uid != "" && uid != cur.GetUID() {
		return apierrors.NewConflict(qualifiedResource(k), rq.Name,
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, cur.GetUID()))
	}
	next.SetNamespace(cur.GetNamespace())
	next.SetUID(cur.GetUID())
	next.SetCreationTimestamp(cur.GetCreationTimestamp())
	next.SetDeletionTimestamp(cur.GetDeletionTimestamp())
	next.SetDeletionGracePeriodSeconds(cur.GetDeletionGracePeriodSeconds())
	next.SetGeneration(cur.GetGeneration())
	next.SetManagedFields(nil)
	next.GetObjectKind().SetGroupVersionKind(k.GVK)
	switch rq.Subresource {
	case "status":
		copyAllButMetaAndStatus(next, cur)
		next.SetOwnerReferences(cur.GetOwnerReferences())
	case "binding":
		// The binding's mutation wrote spec.nodeName and the PodScheduled
		// condition and nothing else.
	default:
		if k.HasStatus {
			copyStatus(next, cur)
		}
	}
	if k.Default != nil {
		k.Default(next)
	}
	if k.Generation && specChanged(next, cur) {
		next.SetGeneration(cur.GetGeneration() + 1)
	}
	return nil
}

func validateUpdate(k *kinds.Kind, next, cur kinds.Object) error {
	var errs field.ErrorList
	if k.ValidateUpdate != nil {
		errs = k.ValidateUpdate(next, cur)
	} else {
		errs = k.Validate(next)
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(k.GVK.GroupKind(), next.GetName(), errs)
	}
	return nil
}

// unchanged reports whether next would store the same bytes as cur.
func unchanged(next, cur kinds.Object) bool {
	rv := next.GetResourceVersion()
	next.SetResourceVersion(cur.GetResourceVersion())
	a, err1 := json.Marshal(next)
	b, err2 := json.Marshal(cur)
	next.SetResourceVersion(rv)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, rq *req) error {
	k := rq.kind
	opts, err := readWrite(r, true)
	if err != nil {
		return err
	}
	validation, dry, data := opts.validation, opts.dry, opts.body
	if rq.Subresource == "scale" {
		return s.updateScale(w, r, rq, data, dry)
	}
	obj, warnings, err := decodeObject(k, data, validation)
	if err != nil {
		return err
	}
	if obj.GetName() != rq.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.GetName(), rq.Name))
	}
	out, err := s.guaranteedUpdate(r.Context(), rq, dry, func(cur kinds.Object) (kinds.Object, string, error) {
		next := obj.DeepCopyObject().(kinds.Object)
		if rq.Subresource == "finalize" {
			// finalize writes spec.finalizers and nothing else.
			copyStatus(next, cur)
			next.SetLabels(cur.GetLabels())
			next.SetAnnotations(cur.GetAnnotations())
		}
		return next, obj.GetResourceVersion(), nil
	})
	if err != nil {
		return err
	}
	warn(w, warnings)
	return s.writeObjects(w, r, rq, http.StatusOK, []kinds.Object{out}, "", true)
}

func (s *Server) updateScale(w http.ResponseWriter, r *http.Request, rq *req, data []byte, dry bool) error {
	sc, err := decodeScale(data)
	if err != nil {
		return err
	}
	return s.writeScale(w, r, rq, dry, func(cur kinds.Object) (int32, string, error) {
		return sc.Spec.Replicas, sc.ResourceVersion, nil
	})
}

// writeScale sets spec.replicas through the scale subresource.
func (s *Server) writeScale(w http.ResponseWriter, r *http.Request, rq *req, dry bool, replicas func(cur kinds.Object) (int32, string, error)) error {
	k := rq.kind
	main := *rq
	main.Subresource = ""
	out, err := s.guaranteedUpdate(r.Context(), &main, dry, func(cur kinds.Object) (kinds.Object, string, error) {
		n, rv, err := replicas(cur)
		if err != nil {
			return nil, "", err
		}
		if n < 0 {
			return nil, "", apierrors.NewInvalid(schemaGroupKindScale, rq.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), n, "must be greater than or equal to 0"),
			})
		}
		k.Scale.Set(cur, n)
		return cur, rv, nil
	})
	if err != nil {
		return err
	}
	s.writeEncoded(w, rq.format, http.StatusOK, k.ScaleOf(out))
	return nil
}

// remove deletes obj at modRev and returns it as last seen.
func (s *Server) remove(ctx context.Context, k *kinds.Kind, obj kinds.Object, modRev int64, dry bool) (kinds.Object, error) {
	ops, err := s.admission(ctx, k, "delete", nil, obj)
	if err != nil {
		return nil, err
	}
	if dry {
		return obj, nil
	}
	op := store.Op{Kind: store.Delete, Bucket: Bucket(k), Key: keyOf(k, obj.GetNamespace(), obj.GetName()), ExpectRev: modRev}
	rev, err := s.cfg.Store.Commit(ctx, append([]store.Op{op}, ops...)...)
	if err != nil {
		return nil, commitError(err, k, obj.GetName())
	}
	obj.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

// protectedNamespaces may never be deleted.
var protectedNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

func deleteOptions(r *http.Request, body []byte) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if len(bytes.TrimSpace(body)) > 0 {
		data, err := bodyJSON(r.Header.Get("Content-Type"), body)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, opts); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
		}
	}
	q := r.URL.Query()
	if p := q.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &pp
	}
	if g := q.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("gracePeriodSeconds %q is not a number", g))
		}
		opts.GracePeriodSeconds = &n
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy %q is not one of Orphan, Background, Foreground", *p))
		}
	}
	return opts, nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, rq *req) error {
	dry, err := isDryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(r, body)
	if err != nil {
		return err
	}
	out, err := s.deleteOne(r.Context(), rq.kind, rq.Namespace, rq.Name, opts, dry)
	if err != nil {
		return err
	}
	return s.writeObjects(w, r, rq, http.StatusOK, []kinds.Object{out}, "", true)
}

// deleteOne deletes an object, or marks it deleting while finalizers remain.
func (s *Server) deleteOne(ctx context.Context, k *kinds.Kind, ns, name string, opts *metav1.DeleteOptions, dry bool) (kinds.Object, error) {
	gr := qualifiedResource(k)
	if k.Resource == "namespaces" && k.GVK.Group == "" && protectedNamespaces[name] {
		return nil, apierrors.NewForbidden(gr, name, errors.New("this namespace may not be deleted"))
	}
	for attempt := 0; ; attempt++ {
		cur, modRev, err := s.read(k, ns, name)
		if err != nil {
			return nil, err
		}
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != cur.GetUID() {
				return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, cur.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != cur.GetResourceVersion() {
				return nil, apierrors.NewConflict(gr, name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, cur.GetResourceVersion()))
			}
		}
		fins := gcFinalizers(k, cur, opts)
		if grace, graceful := podGrace(cur, opts); graceful {
			ds := cur.GetDeletionGracePeriodSeconds()
			if cur.GetDeletionTimestamp() != nil && ds != nil && *ds == grace && slices.Equal(fins, cur.GetFinalizers()) {
				return cur, nil
			}
			next := cur.DeepCopyObject().(kinds.Object)
			next.SetFinalizers(fins)
			at := metav1.NewTime(s.cfg.Now().Add(time.Duration(grace) * time.Second).Truncate(time.Second))
			next.SetDeletionTimestamp(&at)
			next.SetDeletionGracePeriodSeconds(&grace)
			out, err := s.commit(ctx, k, "update", next, modRev, dry, nil)
			if err != nil && apierrors.IsConflict(err) && attempt < updateRetries {
				continue
			}
			return out, err
		}
		if len(fins) == 0 && !hasSpecFinalizers(cur) {
			out, err := s.remove(ctx, k, cur, modRev, dry)
			if err != nil && apierrors.IsConflict(err) && opts.Preconditions == nil && attempt < updateRetries {
				continue
			}
			return out, err
		}
		next := cur.DeepCopyObject().(kinds.Object)
		next.SetFinalizers(fins)
		if cur.GetDeletionTimestamp() != nil {
			// A second delete may only change how dependents go.
			if slices.Equal(fins, cur.GetFinalizers()) {
				return cur, nil
			}
		} else {
			now := metav1.NewTime(s.cfg.Now().Truncate(1e9))
			next.SetDeletionTimestamp(&now)
			var zero int64
			next.SetDeletionGracePeriodSeconds(&zero)
			markTerminating(next)
		}
		out, err := s.commit(ctx, k, "update", next, modRev, dry, nil)
		if err != nil && apierrors.IsConflict(err) && attempt < updateRetries {
			continue
		}
		return out, err
	}
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, rq *req) error {
	k := rq.kind
	dry, err := isDryRun(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(r, body)
	if err != nil {
		return err
	}
	f, err := parseFilter(k, r.URL.Query())
	if err != nil {
		return err
	}
	list := *rq
	list.format = formatJSON
	kvs, _, _, err := s.selectKVs(&list, f)
	if err != nil {
		return err
	}
	deleted := make([]kinds.Object, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := decodeStored(k, kv.Value)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		out, err := s.deleteOne(r.Context(), k, obj.GetNamespace(), obj.GetName(), opts, dry)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		deleted = append(deleted, out)
	}
	return s.writeObjects(w, r, rq, http.StatusOK, deleted, strconv.FormatInt(s.cfg.Store.Revision(), 10), false)
}
