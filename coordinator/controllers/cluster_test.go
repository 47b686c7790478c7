package controllers_test

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/controllers"
	"github.com/keel-edge/keel/coordinator/coordtest"
	"github.com/keel-edge/keel/internal/kubectlbin"
)

// cluster is a coordinator serving in this process with the controllers
// running against it and a fake kubelet that makes pods ready.
type cluster struct {
	cs         *kubernetes.Clientset
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	coord := coordtest.Start(t, func(c *coordinator.Config) {
		c.Controllers = false // this test runs its own
		c.NodeName = "node-a"
	})
	cs := coord.Client
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ccfg := controllers.TestConfig(cs)
	ccfg.Log = quiet
	ctrl, err := controllers.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ctrlDone := make(chan error, 1)
	go func() { ctrlDone <- ctrl.Run(ctx) }()
	kl := informers.NewSharedInformerFactory(cs, 0)
	startKubelet(t, ctx, cs, kl, &wg)
	kl.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-ctrlDone; err != nil {
			t.Errorf("controllers: %v", err)
		}
		kl.Shutdown()
		wg.Wait()
	})
	return &cluster{cs: cs, kubeconfig: coord.KubeconfigPath()}
}

// startKubelet plays the node: every new pod becomes Running at once and
// Ready a moment later, as a container passing its readiness probe would.
func startKubelet(t *testing.T, ctx context.Context, cs kubernetes.Interface, f informers.SharedInformerFactory, wg *sync.WaitGroup) {
	pods := make(chan *corev1.Pod, 1024)
	_, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			select {
			case pods <- obj.(*corev1.Pod):
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case p := <-pods:
				if p.Status.Phase != corev1.PodPending {
					continue
				}
				runPod(ctx, cs, p, false)
				wg.Add(1)
				time.AfterFunc(150*time.Millisecond, func() {
					defer wg.Done()
					runPod(ctx, cs, p, true)
				})
			}
		}
	}()
}

func runPod(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, ready bool) {
	if ctx.Err() != nil {
		return
	}
	cur, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil || cur.UID != p.UID {
		return
	}
	now := metav1.Now()
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.StartTime = &now
	cur.Status.PodIP = "10.244.0.10"
	cur.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: st, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: st, LastTransitionTime: now},
	}
	cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
}

func webDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.25"}}},
			},
		},
	}
}

// waitFor polls cond until it holds or a minute passes.
func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 25*time.Millisecond, time.Minute, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// rolledOut: the deployment's status says what kubectl rollout status
// needs to say it is done.
func rolledOut(cs kubernetes.Interface, name string, replicas int32) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == replicas && s.Replicas == replicas &&
			s.AvailableReplicas == replicas && s.ReadyReplicas == replicas, nil
	}
}

func podsOf(t *testing.T, cs kubernetes.Interface, app string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func kubectl(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectlbin.Require(t, "1.33"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyWatcher follows the ready pods of an app through every event and
// remembers the fewest seen since armed.
type readyWatcher struct {
	mu    sync.Mutex
	ready map[string]bool
	armed bool
	least int
}

func watchReady(t *testing.T, cs kubernetes.Interface, app string) *readyWatcher {
	w := &readyWatcher{ready: map[string]bool{}, least: 1 << 30}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = "app=" + app
	}))
	set := func(obj any, gone bool) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		p := obj.(*corev1.Pod)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.ready[p.Name] = !gone && isReady(p) && p.DeletionTimestamp == nil
		if w.armed {
			n := 0
			for _, r := range w.ready {
				if r {
					n++
				}
			}
			w.least = min(w.least, n)
		}
	}
	f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { set(obj, false) },
		UpdateFunc: func(_, obj any) { set(obj, false) },
		DeleteFunc: func(obj any) { set(obj, true) },
	})
	stop := make(chan struct{})
	f.Start(stop)
	f.WaitForCacheSync(stop)
	t.Cleanup(func() { close(stop); f.Shutdown() })
	return w
}

func (w *readyWatcher) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = true
}

func (w *readyWatcher) fewest() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.least
}
