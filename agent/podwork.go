package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/keel-edge/keel/agent/clusterdns"
	"github.com/keel-edge/keel/runtimeapi"
)

// work runs one pod's actions in order. It owns nothing of the loop: it
// returns the state changes for the loop to apply. A panic on bad input is
// contained to the pod and reported.
func (l *loop) work(ctx context.Context, uid string, st *podState, acts []action, mine []ContainerState) (r workResult) {
	r.uid = uid
	defer func() {
		if p := recover(); p != nil {
			l.cfg.Log.Error("pod worker stopped on a broken invariant", "pod", podKey(st.Pod), "err", fmt.Sprint(p))
			l.events.Eventf(st.Pod, corev1.EventTypeWarning, "Failed", "Error: the node could not act on this pod: %v", p)
			r.apply = nil
		}
	}()
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return r
	}
	defer func() { <-l.sem }()
	log := l.cfg.Log.With("pod", podKey(st.Pod))
	for _, a := range acts {
		if ctx.Err() != nil {
			return r
		}
		switch a.Kind {
		case actSandbox:
			sb, err := l.createSandbox(ctx, st.Pod)
			if err != nil {
				l.events.Eventf(st.Pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
				return r
			}
			r.apply = append(r.apply, func(s *podState) { s.Sandbox = sb })
			return r
		case actStart:
			r.apply = append(r.apply, l.start(ctx, st, a))
		case actKill:
			l.kill(ctx, st.Pod, a)
		case actRemove:
			if err := l.removeContainer(ctx, a.UID, a.Container, a.ID, mine); err != nil {
				log.Warn("remove container", "err", err)
			}
		case actRefresh:
			facts := podFacts{PodIPs: st.Sandbox.PodIPs, HostIP: l.cfg.HostIP, Allocatable: l.cfg.Allocatable}
			if err := l.vols.refresh(st.Pod, facts, apiObjects{ctx: ctx, cs: l.cs}); err != nil {
				log.Warn("refresh volumes", "err", err)
			}
		case actTeardown:
			if err := l.teardown(ctx, a.UID, st); err != nil {
				log.Warn("tear pod down", "err", err)
				return r
			}
			if err := l.finalDelete(ctx, st.Pod); err != nil {
				log.Warn("final delete", "err", err)
				return r
			}
			r.forget = true
			return r
		}
	}
	return r
}

// createSandbox makes the pod's namespaces and attaches its network.
func (l *loop) createSandbox(ctx context.Context, pod *corev1.Pod) (sandboxInfo, error) {
	host := pod.Name
	if pod.Spec.Hostname != "" {
		host = pod.Spec.Hostname
	}
	uid := string(pod.UID)
	sb, err := l.rt.CreateSandbox(ctx, SandboxSpec{PodUID: uid, Namespace: pod.Namespace, Name: pod.Name,
		Hostname: host, HostNetwork: pod.Spec.HostNetwork})
	if err != nil {
		return sandboxInfo{}, err
	}
	info := sandboxInfo{BootID: l.cfg.BootID, NetNS: sb.NetNSPath}
	if pod.Spec.HostNetwork {
		return info, nil
	}
	ips, err := l.network.Attach(ctx, uid, pod.Namespace, pod.Name, sb.NetNSPath, hostPorts(pod))
	if err != nil {
		return sandboxInfo{}, fmt.Errorf("attach network: %w", err)
	}
	info.PodIPs = ips
	return info, nil
}

// hostPorts are the pod's container ports with a hostPort, init
// containers' included, as the kubelet publishes them.
func hostPorts(pod *corev1.Pod) []PortMapping {
	var out []PortMapping
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := string(p.Protocol)
				if proto == "" {
					proto = string(corev1.ProtocolTCP)
				}
				out = append(out, PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: p.HostIP})
			}
		}
	}
	return out
}

// start pulls, resolves and starts one container attempt, returning the
// change to its record: a clean start or a failure to back off from.
func (l *loop) start(ctx context.Context, st *podState, a action) func(*podState) {
	pod := st.Pod
	c := findContainer(pod, a.Container)
	fail := func(reason, msg string) func(*podState) {
		if reason == "ErrImagePull" || reason == "ErrImageNeverPull" {
			l.events.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", reason)
		} else {
			l.events.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %s", oneLine(msg))
		}
		at := l.cfg.Clock.Now()
		return func(s *podState) {
			rec := s.record(a.Container)
			rec.Failure = &failure{Reason: reason, Message: msg, At: at}
			rec.Streak = a.Streak
			rec.NextAttempt = a.Attempt
		}
	}
	if c == nil {
		return fail("CreateContainerConfigError", fmt.Sprintf("container %q is not in the pod spec", a.Container))
	}
	objs := apiObjects{ctx: ctx, cs: l.cs}
	img, reason, msg := l.image(ctx, pod, c, objs)
	if reason != "" {
		return fail(reason, msg)
	}
	svcs := l.cfg.Services
	if svcs == nil {
		svcs = apiServices{ctx: ctx, cs: l.cs}
	}
	spec, err := l.containerSpec(pod, c, img, st, a, objs, svcs)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return fail("CreateContainerConfigError", err.Error())
		}
		return fail("CreateContainerError", err.Error())
	}
	key := mountKey(a.UID, a.Container, a.Attempt)
	if spec.RootFS, err = l.images.Mount(ctx, img, key); err != nil {
		return fail("CreateContainerError", fmt.Sprintf("mount image %s: %v", c.Image, err))
	}
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return fail("CreateContainerError", fmt.Sprintf("log directory: %v", err))
	}
	l.events.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	cs, err := l.rt.StartContainer(ctx, spec)
	if err != nil {
		l.images.Unmount(ctx, key)
		if errors.Is(err, runtimeapi.ErrNoSandbox) {
			// The runtime lost the sandbox (its state directory was
			// wiped): the next plan makes a new one, as after a reboot.
			l.events.Eventf(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
			failed := fail("RunContainerError", err.Error())
			return func(s *podState) {
				failed(s)
				s.Sandbox = sandboxInfo{}
			}
		}
		return fail("RunContainerError", err.Error())
	}
	l.events.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if h := c.Lifecycle; h != nil && h.PostStart != nil {
		if ok, out := l.runHook(ctx, pod, st, c, cs.ID, h.PostStart, gracePeriod(pod)); !ok {
			l.events.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %s", oneLine(out))
			l.rt.StopContainer(ctx, cs.ID, gracePeriod(pod))
		}
	}
	return func(s *podState) {
		rec := s.record(a.Container)
		rec.Failure = nil
		rec.Streak = a.Streak
		rec.NextAttempt = a.Attempt + 1
		rec.Image = c.Image
		rec.ImageID = img.Digest
	}
}

// image finds or pulls the container's image per its pull policy; on
// failure it returns the kubelet's waiting reason and message.
func (l *loop) image(ctx context.Context, pod *corev1.Pod, c *corev1.Container, objs Objects) (Image, string, string) {
	ref := imageRef(c.Image)
	policy := pullPolicy(c)
	if policy != corev1.PullAlways {
		img, err := l.images.Get(ref)
		if err == nil {
			l.events.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
			return img, "", ""
		}
		if !errors.Is(err, os.ErrNotExist) {
			return Image{}, "ErrImageInspect", err.Error()
		}
		if policy == corev1.PullNever {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
			l.events.Event(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
			return Image{}, "ErrImageNeverPull", msg
		}
	}
	auth, warns := pullSecrets(pod, objs)
	for _, w := range warns {
		l.events.Event(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret", w)
	}
	l.events.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	began := time.Now()
	img, err := l.images.Pull(ctx, ref, auth, nil)
	if err != nil {
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		l.events.Event(pod, corev1.EventTypeWarning, "Failed", msg)
		return Image{}, "ErrImagePull", msg
	}
	l.events.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(began).Round(time.Millisecond))
	return img, "", ""
}

// containerSpec resolves everything the runtime needs for one attempt.
func (l *loop) containerSpec(pod *corev1.Pod, c *corev1.Container, img Image, st *podState, a action, objs Objects, svcs ServiceLister) (ContainerSpec, error) {
	facts := podFacts{PodIPs: st.Sandbox.PodIPs, HostIP: l.cfg.HostIP, Allocatable: l.cfg.Allocatable}
	// Without the services (no coordinator since the node booted) the
	// container starts without their variables rather than not at all.
	svcEnv, err := serviceEnv(pod, svcs)
	if err != nil {
		l.events.Eventf(pod, corev1.EventTypeWarning, "FailedServiceEnv", "Container %s starts without service environment variables: %v", c.Name, err)
	}
	facts.ServiceEnv = svcEnv
	env, err := containerEnv(pod, c, img, facts, objs)
	if err != nil {
		return ContainerSpec{}, err
	}
	args, err := containerArgs(c, img, env)
	if err != nil {
		return ContainerSpec{}, err
	}
	id, err := containerIdentity(pod, c, img)
	if err != nil {
		return ContainerSpec{}, err
	}
	paths, err := l.vols.setup(pod, facts, objs)
	if err != nil {
		return ContainerSpec{}, err
	}
	mounts, err := containerMounts(pod, c, paths, env)
	if err != nil {
		return ContainerSpec{}, err
	}
	files, err := l.etcFiles(pod, st.Sandbox.PodIPs)
	if err != nil {
		return ContainerSpec{}, err
	}
	etc, err := etcMounts(filepath.Join(l.vols.podDir(a.UID), "etc"), files, mounts)
	if err != nil {
		return ContainerSpec{}, err
	}
	mounts = append(mounts, etc...)
	return ContainerSpec{
		PodUID: a.UID, Name: c.Name, Attempt: a.Attempt,
		Args: args, Env: env, WorkingDir: containerWorkingDir(c, img),
		User: id.User, Group: id.Group, AdditionalGroups: id.Groups,
		Mounts: mounts, Resources: containerResources(c, l.cfg.PidsLimit), Security: containerSecurity(pod, c),
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		LogPath: podLogPath(l.cfg.LogDir, pod, c.Name, a.Attempt),
	}, nil
}

// etcFiles forms the pod's /etc files from the node's /etc/hosts and
// resolver configuration (none when the node has no resolv.conf),
// recording the adjustments to its resolver configuration as events.
func (l *loop) etcFiles(pod *corev1.Pod, podIPs []string) (etcFiles, error) {
	node, _, err := clusterdns.ReadNodeResolvConf(l.cfg.ResolvConf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	rc, warns := podResolvConf(pod, podDNS{ClusterDNS: l.cfg.ClusterDNS, Domain: l.cfg.ClusterDomain, Node: node})
	for _, w := range warns {
		l.events.Event(pod, corev1.EventTypeWarning, w.Reason, w.Message)
	}
	nodeHosts, _ := os.ReadFile("/etc/hosts")
	return podEtcFiles(pod, podIPs, l.cfg.ClusterDomain, rc, nodeHosts), nil
}

// kill stops a container gracefully: preStop hook, then SIGTERM with
// what is left of the grace period, then SIGKILL.
func (l *loop) kill(ctx context.Context, pod *corev1.Pod, a action) {
	l.events.Event(pod, corev1.EventTypeNormal, "Killing", a.Message)
	grace := a.Grace
	if c := findContainer(pod, a.Container); c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		began := time.Now()
		if ok, out := l.runHook(ctx, pod, nil, c, a.ID, c.Lifecycle.PreStop, grace); !ok {
			l.events.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %s", oneLine(out))
		}
		grace = max(grace-time.Since(began), 0)
	}
	if err := l.rt.StopContainer(ctx, a.ID, grace); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.cfg.Log.Warn("stop container", "pod", podKey(pod), "err", err)
	}
}

// runHook runs a lifecycle handler within timeout.
func (l *loop) runHook(ctx context.Context, pod *corev1.Pod, st *podState, c *corev1.Container, id string, h *corev1.LifecycleHandler, timeout time.Duration) (bool, string) {
	if h.Sleep != nil {
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return true, ""
	}
	var ip string
	if st != nil && len(st.Sandbox.PodIPs) > 0 {
		ip = st.Sandbox.PodIPs[0]
	} else if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	return runHandler(ctx, l.rt, corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, c, id, ip, timeout)
}

// removeContainer deletes an exited attempt and its root filesystem.
func (l *loop) removeContainer(ctx context.Context, uid, name, id string, mine []ContainerState) error {
	if err := l.rt.RemoveContainer(ctx, id); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, c := range mine {
		if c.ID == id {
			return l.images.Unmount(ctx, mountKey(uid, name, c.Attempt))
		}
	}
	return nil
}

// teardown removes a stopped pod: containers, network, sandbox, volumes.
func (l *loop) teardown(ctx context.Context, uid string, st *podState) error {
	all, err := l.rt.Containers(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	var mine []ContainerState
	for _, c := range all {
		if c.PodUID == uid {
			mine = append(mine, c)
		}
	}
	for _, c := range mine {
		if c.Running {
			if err := l.rt.StopContainer(ctx, c.ID, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := l.removeContainer(ctx, uid, c.Name, c.ID, mine); err != nil {
			return err
		}
	}
	if st.Sandbox.BootID != "" && !st.Pod.Spec.HostNetwork {
		if err := l.network.Detach(ctx, uid, st.Pod.Namespace, st.Pod.Name, st.Sandbox.NetNS); err != nil {
			return fmt.Errorf("detach network: %w", err)
		}
	}
	if err := l.rt.RemoveSandbox(ctx, uid); err != nil {
		return fmt.Errorf("remove sandbox: %w", err)
	}
	return l.vols.teardown(uid)
}
