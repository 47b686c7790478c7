package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

// imageTarget is where an image command acts: the node agentctl reaches
// (its own node over the local socket), --node NAME, or --all-nodes.
type imageTarget struct {
	node string
	all  bool
}

func (t *imageTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.node, "node", "", "act on this node (default: the node whose agent answers)")
	cmd.Flags().BoolVar(&t.all, "all-nodes", false, "act on every node")
}

// nodes resolves the target to node names.
func (t *imageTarget) nodes(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	switch {
	case t.all && t.node != "":
		return nil, errors.New("--node and --all-nodes exclude each other")
	case t.all:
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		var names []string
		for _, n := range l.Items {
			names = append(names, n.Name)
		}
		return names, nil
	case t.node != "":
		return []string{t.node}, nil
	}
	st, err := fetchStatus(ctx, cs)
	if err != nil {
		return nil, err
	}
	if st.Node == "" {
		return nil, errors.New("the agent did not say which node it is: pass --node")
	}
	return []string{st.Node}, nil
}

// newImageCmd manages the images stored on nodes, for air-gapped sites.
func newImageCmd(getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Import, list and remove images stored on nodes",
	}
	client := func(cmd *cobra.Command) (kubernetes.Interface, error) {
		if err := getter.check(cmd.Context()); err != nil {
			return nil, err
		}
		cfg, err := getter.ToRESTConfig()
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}
	var imp, ls, rm imageTarget
	importCmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an OCI-layout or docker save tarball into a node's image store",
		Example: `  agentctl image import app.tar
  agentctl image import app.tar --all-nodes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := client(cmd)
			if err != nil {
				return err
			}
			nodes, err := imp.nodes(cmd.Context(), cs)
			if err != nil {
				return err
			}
			for _, node := range nodes {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				var imgs []keelapi.Image
				err = nodeImages(cmd.Context(), cs, "POST", node, "", f, &imgs)
				f.Close()
				if err != nil {
					return err
				}
				for _, img := range imgs {
					fmt.Fprintf(streams.Out, "%s: imported %s (%s)\n", node, img.Ref, img.Digest)
				}
			}
			return nil
		},
	}
	imp.flags(importCmd)
	lsCmd := &cobra.Command{
		Use:   "ls",
		Short: "List the images stored on a node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := client(cmd)
			if err != nil {
				return err
			}
			nodes, err := ls.nodes(cmd.Context(), cs)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(streams.Out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NODE\tIMAGE\tDIGEST")
			for _, node := range nodes {
				var imgs []keelapi.Image
				if err := nodeImages(cmd.Context(), cs, "GET", node, "", nil, &imgs); err != nil {
					return err
				}
				for _, img := range imgs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", node, img.Ref, img.Digest)
				}
			}
			return tw.Flush()
		},
	}
	ls.flags(lsCmd)
	rmCmd := &cobra.Command{
		Use:   "rm IMAGE",
		Short: "Remove an image reference from a node's image store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := client(cmd)
			if err != nil {
				return err
			}
			nodes, err := rm.nodes(cmd.Context(), cs)
			if err != nil {
				return err
			}
			for _, node := range nodes {
				if err := nodeImages(cmd.Context(), cs, "DELETE", node, args[0], nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(streams.Out, "%s: removed %s\n", node, args[0])
			}
			return nil
		},
	}
	rm.flags(rmCmd)
	cmd.AddCommand(importCmd, lsCmd, rmCmd)
	return cmd
}

// nodeImages calls the API's image endpoint of a node and decodes the
// answer into out.
func nodeImages(ctx context.Context, cs kubernetes.Interface, method, node, ref string, body io.Reader, out any) error {
	req := cs.Discovery().RESTClient().Verb(method).AbsPath(keelapi.NodesPath + node + "/images")
	if ref != "" {
		req = req.Param("ref", ref)
	}
	if body != nil {
		req = req.Body(body).SetHeader("Content-Type", "application/x-tar")
	}
	data, err := req.DoRaw(ctx)
	if err != nil {
		if len(data) > 0 {
			return fmt.Errorf("node %s: %s", node, string(data))
		}
		return fmt.Errorf("node %s: %w", node, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("node %s: decode answer: %w", node, err)
	}
	return nil
}
