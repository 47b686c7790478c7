package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// dialStdioOptions are the dial-stdio command's own flags.
type dialStdioOptions struct {
	// api connects to the API's HTTPS port instead of the socket.
	api bool
	// apiAddr is --api-addr, the HTTPS address to use with --api instead
	// of asking the socket.
	apiAddr string
}

// newDialStdioCmd joins stdin and stdout to the agent's socket or HTTPS
// port: the far end of "agentctl --ssh" and "agentctl kubeconfig --ssh".
func newDialStdioCmd(flags *globalFlags, lookupEnv func(string) (string, bool), streams genericiooptions.IOStreams) *cobra.Command {
	o := &dialStdioOptions{}
	cmd := &cobra.Command{
		Use:   "dial-stdio",
		Short: "Join stdin and stdout to the local agent's API (the far end of --ssh)",
		Long: `Join stdin and stdout to the agent's unix socket (plain HTTP) or, with --api,
to the API's HTTPS port, until either side closes. agentctl --ssh runs this on
the remote host; it is rarely useful by hand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			socket := flags.socket
			if v, ok := lookupEnv("KEEL_SOCKET"); ok && v != "" && !cmd.Flags().Changed("socket") {
				socket = v
			}
			var conn net.Conn
			var err error
			if o.api || o.apiAddr != "" {
				conn, err = dialAPIPort(ctx, socket, o.apiAddr)
			} else {
				conn, err = socketDialer{path: socket}.DialContext(ctx, "unix", socket)
			}
			if err != nil {
				return err
			}
			return dialStdio(conn, streams.In, streams.Out)
		},
	}
	cmd.Flags().BoolVar(&o.api, "api", false, "Connect to the API's HTTPS port (read from the socket's /keel/v1/status) instead of the socket")
	cmd.Flags().StringVar(&o.apiAddr, "api-addr", "", "With --api: the HTTPS address HOST:PORT to connect to instead of asking the socket")
	return cmd
}

// dialStdio copies in to conn and conn to out. The end of in half-closes
// conn; the end of conn closes out (when it is a Closer) and ends the
// copy, since nothing more can be answered.
func dialStdio(conn net.Conn, in io.Reader, out io.Writer) error {
	defer conn.Close()
	inDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, in)
		if cerr := closeWrite(conn); err == nil && !isClosed(cerr) {
			err = cerr
		}
		inDone <- err
	}()
	outDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		if c, ok := out.(io.Closer); ok {
			if cerr := c.Close(); err == nil {
				err = cerr
			}
		}
		outDone <- err
	}()
	select {
	case err := <-outDone:
		if !isClosed(err) {
			return fmt.Errorf("copy from %s to stdout: %w", conn.RemoteAddr(), err)
		}
		return nil
	case err := <-inDone:
		if !isClosed(err) {
			return fmt.Errorf("copy stdin to %s: %w", conn.RemoteAddr(), err)
		}
	}
	if err := <-outDone; !isClosed(err) {
		return fmt.Errorf("copy from %s to stdout: %w", conn.RemoteAddr(), err)
	}
	return nil
}

// dialAPIPort connects to the API's HTTPS port: addr when given, or the
// address the socket's /keel/v1/status names. Since this runs on the
// agent's own machine, an advertised address that does not answer (NAT,
// or an API bound to loopback) is followed by loopback on the same port.
func dialAPIPort(ctx context.Context, socket, addr string) (net.Conn, error) {
	candidates := []string{addr}
	if addr == "" {
		st, err := socketStatus(ctx, socket)
		if err != nil {
			return nil, err
		}
		if candidates, err = apiDialAddresses(st.APIAddress); err != nil {
			return nil, err
		}
	}
	var errs []error
	for i, a := range candidates {
		// An address that swallows packets must not keep the next from
		// being tried.
		d := net.Dialer{}
		if i < len(candidates)-1 {
			d.Timeout = 5 * time.Second
		}
		conn, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("connect to the API at %s: %w", strings.Join(candidates, " or "), errors.Join(errs...))
}

// socketStatus reads /keel/v1/status over the socket with a plain HTTP
// client; dial-stdio needs nothing more of the API.
func socketStatus(ctx context.Context, socket string) (clusterStatus, error) {
	var st clusterStatus
	client := &http.Client{
		Transport: &http.Transport{DialContext: socketDialer{path: socket}.DialContext},
		Timeout:   30 * time.Second,
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pipeHost+statusPath, nil)
	if err != nil {
		return st, fmt.Errorf("get %s: %w", statusPath, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, fmt.Errorf("get %s: %w", statusPath, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return st, fmt.Errorf("get %s: %w", statusPath, err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("get %s: %s", statusPath, resp.Status)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("decode %s: %w", statusPath, err)
	}
	return st, nil
}

// apiDialAddresses turns the status's API URL into the HOST:PORT
// addresses to try, in order: the advertised one, then loopback on the
// same port. An unspecified address (the API listens on all of them)
// becomes loopback.
func apiDialAddresses(apiURL string) ([]string, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, fmt.Errorf("the agent reports API address %q; want https://HOST:PORT (pass --api-addr)", apiURL)
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if ip == nil && len(validation.IsDNS1123Subdomain(strings.ToLower(host))) > 0 {
		return nil, fmt.Errorf("the agent reports API address %q; its host is neither an IP nor a DNS name (pass --api-addr)", apiURL)
	}
	if ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	primary := net.JoinHostPort(host, port)
	loopback := net.JoinHostPort("127.0.0.1", port)
	if primary == loopback {
		return []string{primary}, nil
	}
	return []string{primary, loopback}, nil
}
