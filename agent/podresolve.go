package agent

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// defaultCPUPeriod is the CFS period cpu limits are expressed in.
const defaultCPUPeriod = 100000

// minCPUShares is the weight of a container that requests no cpu.
const minCPUShares = 2

// containerArgs is the container's command line by Kubernetes' rules:
// command replaces the image's entrypoint and drops its cmd; args alone
// replace the cmd. $(VAR) references expand against env.
func containerArgs(c *corev1.Container, img Image, env []string) ([]string, error) {
	var args []string
	switch {
	case len(c.Command) > 0:
		args = append(append(args, c.Command...), c.Args...)
	case len(c.Args) > 0:
		args = append(append(args, img.Entrypoint...), c.Args...)
	default:
		args = append(append(args, img.Entrypoint...), img.Cmd...)
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		vals := envMap(env)
		lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
		for i := range args {
			args[i] = expandVars(args[i], lookup)
		}
	}
	if len(args) == 0 {
		return nil, configErrorf("no command specified: the image has no entrypoint or cmd and the container no command")
	}
	return args, nil
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// containerWorkingDir is the container's working directory, else the
// image's, else "/".
func containerWorkingDir(c *corev1.Container, img Image) string {
	switch {
	case c.WorkingDir != "":
		return c.WorkingDir
	case img.WorkingDir != "":
		return img.WorkingDir
	}
	return "/"
}

// identity is who a container's process runs as.
type identity struct {
	User, Group uint32
	Groups      []uint32
}

// containerIdentity resolves runAsUser/runAsGroup (container over pod over
// the image's numeric user), checks runAsNonRoot and adds the pod's
// supplemental groups and fsGroup.
func containerIdentity(pod *corev1.Pod, c *corev1.Container, img Image) (identity, error) {
	var id identity
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	imgUser, imgGroup, hasGroup, err := parseImageUser(img.User)
	uid := pick(csc.RunAsUser, psc.RunAsUser)
	switch {
	case uid != nil:
		id.User = uint32(*uid)
	case err != nil:
		return id, err
	default:
		id.User = imgUser
	}
	switch gid := pick(csc.RunAsGroup, psc.RunAsGroup); {
	case gid != nil:
		id.Group = uint32(*gid)
	case uid == nil && hasGroup:
		id.Group = imgGroup
	}
	nonRoot := csc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot != nil && *nonRoot && id.User == 0 {
		return id, configErrorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod.Namespace+"/"+pod.Name, c.Name)
	}
	for _, g := range psc.SupplementalGroups {
		id.Groups = append(id.Groups, uint32(g))
	}
	if psc.FSGroup != nil {
		id.Groups = append(id.Groups, uint32(*psc.FSGroup))
	}
	return id, nil
}

func pick(a, b *int64) *int64 {
	if a != nil {
		return a
	}
	return b
}

// parseImageUser reads an image config's "uid" or "uid:gid"; names need
// the image's passwd file, which is not read: they are an error telling
// the user to set runAsUser.
func parseImageUser(s string) (uid, gid uint32, hasGroup bool, err error) {
	if s == "" {
		return 0, 0, false, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	un, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, false, configErrorf("image user %q is not numeric: set securityContext.runAsUser", s)
	}
	if !hasGroup {
		return uint32(un), 0, false, nil
	}
	gn, err := strconv.ParseUint(g, 10, 32)
	if err != nil {
		return 0, 0, false, configErrorf("image group %q is not numeric: set securityContext.runAsGroup", s)
	}
	return uint32(un), uint32(gn), true, nil
}

// containerSecurity maps the security context onto the runtime's.
func containerSecurity(pod *corev1.Pod, c *corev1.Container) Security {
	var s Security
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	s.Privileged = sc.Privileged != nil && *sc.Privileged
	if sc.Capabilities != nil {
		for _, cp := range sc.Capabilities.Add {
			s.CapAdd = append(s.CapAdd, string(cp))
		}
		for _, cp := range sc.Capabilities.Drop {
			s.CapDrop = append(s.CapDrop, string(cp))
		}
	}
	s.ReadOnlyRootFilesystem = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	allowEsc := sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation
	s.NoNewPrivileges = !s.Privileged && !allowEsc
	prof := sc.SeccompProfile
	if prof == nil && pod.Spec.SecurityContext != nil {
		prof = pod.Spec.SecurityContext.SeccompProfile
	}
	s.SeccompUnconfined = s.Privileged || prof != nil && prof.Type == corev1.SeccompProfileTypeUnconfined
	return s
}

// containerResources turns requests and limits into cgroup settings.
func containerResources(c *corev1.Container, pidsLimit int64) Resources {
	r := Resources{CPUShares: minCPUShares, PidsLimit: pidsLimit}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && !q.IsZero() {
		r.CPUPeriodMicros = defaultCPUPeriod
		r.CPUQuotaMicros = max(q.MilliValue()*defaultCPUPeriod/1000, 1000)
	}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CPUShares = max(uint64(q.MilliValue())*1024/1000, minCPUShares)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryBytes = q.Value()
	}
	return r
}

// imageRef is what the node pulls for a container: the image as written,
// with ":latest" when it has neither tag nor digest.
func imageRef(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image
	}
	return image + ":latest"
}

// pullPolicy is the container's policy, defaulted as the API does.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	if strings.HasSuffix(imageRef(c.Image), ":latest") {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// podLogPath is a container attempt's log file under root, laid out as
// the kubelet's /var/log/pods.
func podLogPath(root string, pod *corev1.Pod, name string, attempt int) string {
	return fmt.Sprintf("%s/%s_%s_%s/%s/%d.log", root, pod.Namespace, pod.Name, pod.UID, name, attempt)
}
