package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// statusWriter writes pod statuses through the status subresource on its
// own goroutine, so a slow API never holds up the loop; the latest status
// of a pod wins and failed writes are retried.
type statusWriter struct {
	cs  kubernetes.Interface
	log *slog.Logger

	mu      sync.Mutex
	wanted  map[string]corev1.PodStatus
	pending map[string]pendingStatus
	kick    chan struct{}
}

type pendingStatus struct {
	namespace, name string
	uid             types.UID
	status          corev1.PodStatus
}

func newStatusWriter(cs kubernetes.Interface, log *slog.Logger) *statusWriter {
	return &statusWriter{cs: cs, log: log, wanted: map[string]corev1.PodStatus{},
		pending: map[string]pendingStatus{}, kick: make(chan struct{}, 1)}
}

// last is the status last queued for the pod, else fallback.
func (w *statusWriter) last(uid string, fallback corev1.PodStatus) corev1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.wanted[uid]; ok {
		return s
	}
	return fallback
}

func (w *statusWriter) put(p *corev1.Pod, s corev1.PodStatus) {
	w.mu.Lock()
	w.wanted[string(p.UID)] = s
	w.pending[string(p.UID)] = pendingStatus{namespace: p.Namespace, name: p.Name, uid: p.UID, status: s}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *statusWriter) forget(uid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.wanted, uid)
	delete(w.pending, uid)
}

func (w *statusWriter) run(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-retry.C:
		}
		w.mu.Lock()
		batch := w.pending
		w.pending = map[string]pendingStatus{}
		w.mu.Unlock()
		for uid, ps := range batch {
			err := w.write(ctx, ps)
			if err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
				continue
			}
			w.log.Debug("write pod status", "pod", ps.namespace+"/"+ps.name, "err", err)
			w.mu.Lock()
			if _, newer := w.pending[uid]; !newer {
				w.pending[uid] = ps
			}
			w.mu.Unlock()
		}
	}
}

func (w *statusWriter) write(ctx context.Context, ps pendingStatus) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods := w.cs.CoreV1().Pods(ps.namespace)
	cur, err := pods.Get(ctx, ps.name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if cur.UID != ps.uid {
		return apierrors.NewNotFound(corev1.Resource("pods"), ps.name)
	}
	cur.Status = ps.status
	if _, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update status of pod %s/%s: %w", ps.namespace, ps.name, err)
	}
	return nil
}

// bindPod assigns an unscheduled pod to node. The API allows setting an
// empty spec.nodeName once; a pods/binding subresource replaces this.
func bindPod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, node string) error {
	p := pod.DeepCopy()
	p.Spec.NodeName = node
	if _, err := cs.CoreV1().Pods(p.Namespace).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("bind pod %s to %s: %w", podKey(pod), node, err)
	}
	return nil
}

// binder binds every unscheduled pod to this node, for a cluster with one
// node and no scheduler.
type binder struct {
	cs      kubernetes.Interface
	node    string
	events  record.EventRecorder
	factory informers.SharedInformerFactory
	lister  listersv1.PodLister
	queue   workqueue.TypedRateLimitingInterface[string]
	wg      sync.WaitGroup
}

func newBinder(cs kubernetes.Interface, node string, events record.EventRecorder) (*binder, error) {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName="
	}))
	b := &binder{cs: cs, node: node, events: events, factory: f, lister: f.Core().V1().Pods().Lister(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			b.queue.Add(key)
		}
	}
	if _, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch unscheduled pods: %w", err)
	}
	return b, nil
}

func (b *binder) start(ctx context.Context) {
	b.factory.Start(ctx.Done())
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for b.next(ctx) {
		}
	}()
}

func (b *binder) next(ctx context.Context) bool {
	key, quit := b.queue.Get()
	if quit {
		return false
	}
	defer b.queue.Done(key)
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pod, err := b.lister.Pods(ns).Get(name)
	if err != nil || pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		b.queue.Forget(key)
		return true
	}
	if err := bindPod(ctx, b.cs, pod, b.node); err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			b.queue.AddRateLimited(key)
		}
		return true
	}
	b.queue.Forget(key)
	b.events.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s to %s", podKey(pod), b.node)
	return true
}

func (b *binder) stop() {
	b.queue.ShutDown()
	b.wg.Wait()
	b.factory.Shutdown()
}

// apiObjects reads config maps and secrets from the API.
type apiObjects struct {
	ctx context.Context
	cs  kubernetes.Interface
}

func (o apiObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return o.cs.CoreV1().ConfigMaps(ns).Get(o.ctx, name, metav1.GetOptions{})
}

func (o apiObjects) Secret(ns, name string) (*corev1.Secret, error) {
	return o.cs.CoreV1().Secrets(ns).Get(o.ctx, name, metav1.GetOptions{})
}

// dockerConfig is a kubernetes.io/dockerconfigjson secret's payload.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// parseDockerConfig reads registry credentials from a .dockerconfigjson
// (or legacy .dockercfg, a bare map) payload, sorted by registry. Errors
// never quote the payload, which holds secrets.
func parseDockerConfig(data []byte, legacy bool) ([]RegistryAuth, error) {
	var cfg dockerConfig
	var err error
	if legacy {
		err = json.Unmarshal(data, &cfg.Auths)
	} else {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("registry credentials are not valid JSON")
	}
	var out []RegistryAuth
	for reg, a := range cfg.Auths {
		ra := RegistryAuth{Registry: normalizeRegistry(reg), Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry credentials for %s: auth is not base64", reg)
			}
			u, p, ok := strings.Cut(string(dec), ":")
			if !ok {
				return nil, fmt.Errorf("registry credentials for %s: auth is not user:password", reg)
			}
			ra.Username, ra.Password = u, p
		}
		out = append(out, ra)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Registry < out[j].Registry })
	return out, nil
}

// normalizeRegistry reduces "https://index.docker.io/v1/" and friends to
// a host name.
func normalizeRegistry(r string) string {
	r = strings.TrimPrefix(strings.TrimPrefix(r, "https://"), "http://")
	r, _, _ = strings.Cut(r, "/")
	return r
}

// pullSecrets collects the credentials of the pod's imagePullSecrets;
// missing or malformed secrets are skipped, as the kubelet does, and
// returned as warnings.
func pullSecrets(pod *corev1.Pod, objs Objects) ([]RegistryAuth, []string) {
	var out []RegistryAuth
	var warn []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := objs.Secret(pod.Namespace, ref.Name)
		if err != nil {
			warn = append(warn, fmt.Sprintf("Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", ref.Name))
			continue
		}
		var auths []RegistryAuth
		switch {
		case len(s.Data[corev1.DockerConfigJsonKey]) > 0:
			auths, err = parseDockerConfig(s.Data[corev1.DockerConfigJsonKey], false)
		case len(s.Data[corev1.DockerConfigKey]) > 0:
			auths, err = parseDockerConfig(s.Data[corev1.DockerConfigKey], true)
		}
		if err != nil {
			warn = append(warn, fmt.Sprintf("image pull secret %s: %v", ref.Name, err))
			continue
		}
		out = append(out, auths...)
	}
	return out, warn
}

// finalDelete removes a pod this node has stopped after a graceful
// deletion: the API keeps a bound pod, marked deleting, until its node
// says it is gone. A pod already gone, or replaced under the same name,
// is left alone.
func (l *loop) finalDelete(ctx context.Context, pod *corev1.Pod) error {
	if pod == nil || pod.DeletionTimestamp == nil {
		return nil
	}
	zero := int64(0)
	uid := pod.UID
	err := l.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
}
