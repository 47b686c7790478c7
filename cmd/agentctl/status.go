package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

// statusPath is the agent's cluster status endpoint.
const statusPath = keelapi.StatusPath

// clusterStatus is the answer of GET /keel/v1/status.
type clusterStatus = keelapi.ClusterStatus

// newStatusCmd prints who coordinates the cluster, how far its store has
// come, and its nodes.
func newStatusCmd(getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the coordinator, API address, store revision, versions and nodes",
		Example: `  # On a node, as root
  agentctl status

  # From a workstation
  agentctl --ssh root@node1 status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := getter.check(cmd.Context()); err != nil {
				return err
			}
			cfg, err := getter.ToRESTConfig()
			if err != nil {
				return err
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("client: %w", err)
			}
			ctx := cmd.Context()
			st, err := fetchStatus(ctx, cs)
			if err != nil {
				return err
			}
			sv, err := cs.Discovery().ServerVersion()
			if err != nil {
				return fmt.Errorf("get /version: %w", err)
			}
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("list nodes: %w", err)
			}
			return printStatus(streams.Out, st, sv.GitVersion, nodes.Items, time.Now())
		},
	}
}

// fetchStatus reads GET /keel/v1/status.
func fetchStatus(ctx context.Context, cs kubernetes.Interface) (clusterStatus, error) {
	var st clusterStatus
	body, err := cs.Discovery().RESTClient().Get().AbsPath(statusPath).DoRaw(ctx)
	if err != nil {
		return st, fmt.Errorf("get %s: %w", statusPath, err)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("decode %s: %w", statusPath, err)
	}
	return st, nil
}

// printStatus writes the status report; now is the clock the node ages
// are measured against.
func printStatus(w io.Writer, st clusterStatus, apiVersion string, nodes []corev1.Node, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Coordinator:\t%s\n", orNone(st.Coordinator))
	fmt.Fprintf(tw, "API address:\t%s\n", orNone(st.APIAddress))
	fmt.Fprintf(tw, "Store revision:\t%d\n", st.Revision)
	fmt.Fprintf(tw, "Server version:\t%s\n", orNone(st.Version))
	fmt.Fprintf(tw, "Kubernetes API:\t%s\n", orNone(apiVersion))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	fmt.Fprintln(w)
	if len(nodes) == 0 {
		_, err := fmt.Fprintln(w, "No nodes.")
		return err
	}
	sorted := append([]corev1.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	tw = tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tROLES\tAGE\tVERSION\tINTERNAL-IP")
	for _, n := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, nodeStatus(n), nodeRoles(n),
			age(n.CreationTimestamp, now), orNone(n.Status.NodeInfo.KubeletVersion), internalIP(n))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// nodeStatus is Ready, NotReady or Unknown from the Ready condition, with
// SchedulingDisabled added for a cordoned node.
func nodeStatus(n corev1.Node) string {
	s := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		switch c.Status {
		case corev1.ConditionTrue:
			s = "Ready"
		case corev1.ConditionFalse:
			s = "NotReady"
		}
	}
	if n.Spec.Unschedulable {
		s += ",SchedulingDisabled"
	}
	return s
}

// nodeRoles reads node-role.kubernetes.io/<role> and kubernetes.io/role
// labels.
func nodeRoles(n corev1.Node) string {
	const prefix = "node-role.kubernetes.io/"
	roles := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, prefix) && len(k) > len(prefix):
			roles[k[len(prefix):]] = true
		case k == "kubernetes.io/role" && v != "":
			roles[v] = true
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	names := make([]string, 0, len(roles))
	for r := range roles {
		names = append(names, r)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// internalIP is the node's first InternalIP address.
func internalIP(n corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return "<none>"
}

// age is how long ago t was, as kubectl prints it.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
