package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

// newTokenCmd manages join tokens: bootstrap token Secrets in
// kube-system, printed with the CA hash a joining node pins.
func newTokenCmd(getter *clientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the tokens nodes join the cluster with",
	}
	client := func(ctx context.Context) (kubernetes.Interface, error) {
		if err := getter.check(ctx); err != nil {
			return nil, err
		}
		cfg, err := getter.ToRESTConfig()
		if err != nil {
			return nil, err
		}
		return kubernetes.NewForConfig(cfg)
	}
	var ttl time.Duration
	var coordinator bool
	var description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a join token and print it",
		Long: `Create a join token and print it. A node joins with
  agent run --join HOST:6443 --token TOKEN
The token pins the cluster CA, so the joining node checks whom it talks to.
Without --coordinator it admits workers only; with it, also coordinator
candidates, which receive the cluster's CA and encryption keys.`,
		Example: `  agentctl token create --ttl 1h
  agentctl token create --coordinator --description "rack 2 controllers"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl %s: must not be negative (0: never expires)", ttl)
			}
			ctx := cmd.Context()
			cs, err := client(ctx)
			if err != nil {
				return err
			}
			st, err := fetchStatus(ctx, cs)
			if err != nil {
				return err
			}
			if st.CAHash == "" {
				return errors.New("the agent did not report its CA hash; is it older than this agentctl?")
			}
			tok, err := keelapi.NewJoinToken(st.CAHash)
			if err != nil {
				return err
			}
			sec := keelapi.TokenSecret(tok, ttl, coordinator, description, time.Now())
			if _, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("store token %s: %w", tok.ID, err)
			}
			_, err = fmt.Fprintln(streams.Out, tok.String())
			return err
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "How long the token is valid (0: never expires)")
	create.Flags().BoolVar(&coordinator, "coordinator", false, "Also admit coordinator candidates")
	create.Flags().StringVar(&description, "description", "", "What the token is for, shown by token ls")

	ls := &cobra.Command{
		Use:   "ls",
		Short: "List join tokens (their ids, never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cs, err := client(ctx)
			if err != nil {
				return err
			}
			list, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("type", string(bootstrapapi.SecretTypeBootstrapToken)).String()})
			if err != nil {
				return fmt.Errorf("list tokens: %w", err)
			}
			return printTokens(streams.Out, list.Items, time.Now())
		},
	}
	rm := &cobra.Command{
		Use:   "rm ID...",
		Short: "Revoke join tokens by id (the part before the dot)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			ctx := cmd.Context()
			cs, err := client(ctx)
			if err != nil {
				return err
			}
			var errs []error
			for _, id := range ids {
				if !bootstraputil.IsValidBootstrapTokenID(id) {
					errs = append(errs, fmt.Errorf("%q is not a token id (6 of [a-z0-9])", id))
					continue
				}
				err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
				switch {
				case apierrors.IsNotFound(err):
					errs = append(errs, fmt.Errorf("token %s: not found", id))
				case err != nil:
					errs = append(errs, fmt.Errorf("token %s: %w", id, err))
				default:
					fmt.Fprintf(streams.Out, "token %s revoked\n", id)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.AddCommand(create, ls, rm)
	return cmd
}

// printTokens lists bootstrap token Secrets, oldest first.
func printTokens(w io.Writer, secrets []corev1.Secret, now time.Time) error {
	sort.Slice(secrets, func(i, j int) bool {
		return secrets[i].CreationTimestamp.Before(&secrets[j].CreationTimestamp)
	})
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION")
	for i := range secrets {
		s := &secrets[i]
		id := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenIDKey)
		ttl, expires := "<forever>", "<never>"
		if exp := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenExpirationKey); exp != "" {
			left, expired := bootstrapsecret.GetExpiration(s, now)
			expires = exp
			switch {
			case expired:
				ttl = "<expired>"
			case left < 0:
				ttl = "<invalid>"
			default:
				ttl = duration.ShortHumanDuration(left)
			}
		}
		usages := "join"
		if bootstrapsecret.GetData(s, keelapi.UsageCoordinator) == "true" {
			usages += ",coordinator"
		}
		desc := bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenDescriptionKey)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, ttl, expires, usages, orNone(desc))
	}
	return tw.Flush()
}
