package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// NodeView answers the node API (logs, exec, port-forward) for this
// node's pods. It reads pods from the API and containers from the runtime,
// both safe to read beside the loop, and never touches the loop's state.
type NodeView struct{ p *Pods }

// View returns the node API's view of the pods p runs.
func (p *Pods) View() *NodeView { return &NodeView{p: p} }

func (v *NodeView) pod(namespace, name string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pod, err := v.p.cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pod %s/%s: %w", namespace, name, os.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName != v.p.cfg.NodeName {
		return nil, fmt.Errorf("pod %s/%s runs on node %q: %w", namespace, name, pod.Spec.NodeName, os.ErrNotExist)
	}
	return pod, nil
}

// UID finds a pod on this node.
func (v *NodeView) UID(namespace, name string) (types.UID, error) {
	pod, err := v.pod(namespace, name)
	if err != nil {
		return "", err
	}
	return pod.UID, nil
}

// attempts lists a container's instances, newest first.
func (v *NodeView) attempts(pod *corev1.Pod, container string) ([]ContainerState, error) {
	all, err := v.p.rt.Containers(context.Background())
	if err != nil {
		return nil, err
	}
	var out []ContainerState
	for _, c := range all {
		if c.PodUID == string(pod.UID) && c.Name == container {
			out = append(out, c)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Attempt > out[j-1].Attempt; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("container %q in pod %s has not started: %w", container, pod.Name, os.ErrNotExist)
	}
	return out, nil
}

// LogPath is the log file of a container's newest instance, or of the one
// before it.
func (v *NodeView) LogPath(namespace, name, container string, previous bool) (string, error) {
	pod, err := v.pod(namespace, name)
	if err != nil {
		return "", err
	}
	at, err := v.attempts(pod, container)
	if err != nil {
		return "", err
	}
	attempt := at[0].Attempt
	if previous {
		if len(at) < 2 && attempt == 0 {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found: %w", container, name, os.ErrNotExist)
		}
		attempt--
	}
	return podLogPath(v.p.cfg.LogDir, pod, container, attempt), nil
}

// ExecInContainer runs cmd in the running instance of a container.
func (v *NodeView) ExecInContainer(ctx context.Context, name string, uid types.UID, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	id, err := v.running(uid, container)
	if err != nil {
		return err
	}
	code, err := v.p.rt.Exec(ctx, id, cmd, streamsOf(in, out, errw), tty, termSizes(ctx, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with non-zero exit code: exit status %d", code), Code: code}
	}
	return nil
}

// streamsOf are the runtime's streams for a node API request's.
func streamsOf(in io.Reader, out, errw io.WriteCloser) Streams {
	streams := Streams{Stdin: in}
	if out != nil {
		streams.Stdout = out
	}
	if errw != nil {
		streams.Stderr = errw
	}
	return streams
}

// termSizes relays terminal sizes until resize closes or ctx ends; nil
// for nil.
func termSizes(ctx context.Context, resize <-chan remotecommand.TerminalSize) chan TermSize {
	if resize == nil {
		return nil
	}
	sizes := make(chan TermSize, 1)
	go func() {
		defer close(sizes)
		for s := range resize {
			select {
			case sizes <- TermSize{Width: s.Width, Height: s.Height}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sizes
}

// running is the ID of a container's running instance.
func (v *NodeView) running(uid types.UID, container string) (string, error) {
	all, err := v.p.rt.Containers(context.Background())
	if err != nil {
		return "", err
	}
	for _, c := range all {
		if c.PodUID == string(uid) && c.Name == container && c.Running {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("container %q is not running", container)
}

// AttachContainer connects to the running instance of a container, as
// kubectl attach does: its output from now on and, when the container has
// stdin, input to it.
func (v *NodeView) AttachContainer(ctx context.Context, name string, uid types.UID, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	id, err := v.running(uid, container)
	if err != nil {
		return err
	}
	err = v.p.rt.Attach(ctx, id, streamsOf(in, out, errw), tty, termSizes(ctx, resize))
	if err != nil && ctx.Err() != nil {
		return nil // the attacher went away: nobody is left to tell
	}
	return err
}

// PortForward copies stream to and from a port of the pod, dialled at the
// pod's IP from the node (127.0.0.1 for host-network pods).
func (v *NodeView) PortForward(ctx context.Context, name string, uid types.UID, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	var pod *corev1.Pod
	pods, err := v.p.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + v.p.cfg.NodeName})
	if err != nil {
		return err
	}
	for i := range pods.Items {
		if pods.Items[i].UID == uid {
			pod = &pods.Items[i]
		}
	}
	if pod == nil {
		return fmt.Errorf("pod %s is not on this node", name)
	}
	host := pod.Status.PodIP
	if pod.Spec.HostNetwork {
		host = "127.0.0.1"
	}
	if host == "" {
		return fmt.Errorf("pod %s has no IP yet", name)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port %d of pod %s: %w", port, name, err)
	}
	defer conn.Close()
	// Client to pod runs until either side closes; the call returns as
	// soon as the pod's side ends, which closes the streams: clients wait
	// for that (kubectl waits for the error stream to close).
	go func() {
		io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	return err
}
