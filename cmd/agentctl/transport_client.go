package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/keel-edge/keel/internal/version"
)

// pipeHost is the URL the HTTP client uses over the socket and ssh
// transports; the dialer ignores it and the server sees it as Host.
const pipeHost = "http://localhost"

// clientGetter is agentctl's genericclioptions.RESTClientGetter: it builds
// the client configuration from the global flags once they are parsed and
// dials through the selected transport.
type clientGetter struct {
	flags     *globalFlags
	lookupEnv func(string) (string, bool)
	stderr    io.Writer

	once   sync.Once
	choice transportChoice
	err    error

	discOnce sync.Once
	disc     discovery.CachedDiscoveryInterface
	discErr  error
}

var _ genericclioptions.RESTClientGetter = (*clientGetter)(nil)

// transport selects the transport from the flags and environment, once.
func (g *clientGetter) transport() (transportChoice, error) {
	g.once.Do(func() {
		env := func(k string) string { v, _ := g.lookupEnv(k); return v }
		g.choice, g.err = selectTransport(transportInput{
			SSH:           g.flags.ssh,
			Kubeconfig:    g.flags.kubeconfig,
			Socket:        g.flags.socket,
			SocketSet:     g.flags.socketSet,
			EnvKubeconfig: env("KUBECONFIG"),
			EnvSocket:     env("KEEL_SOCKET"),
		}, pathExists)
	})
	return g.choice, g.err
}

// check selects the transport and, for the socket, makes sure something
// answers there, so the error names the socket rather than an HTTP URL.
func (g *clientGetter) check(ctx context.Context) error {
	choice, err := g.transport()
	if err != nil {
		return err
	}
	if choice.kind == transportSocket {
		return checkSocket(ctx, choice.socket)
	}
	return nil
}

// ToRawKubeConfigLoader is the kubeconfig view kubectl's commands read the
// namespace from. Over the socket and ssh it is an in-memory config.
func (g *clientGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.flags.context}
	overrides.Context.Namespace = g.flags.namespace
	choice, err := g.transport()
	if err != nil {
		return errClientConfig{err: err}
	}
	if choice.kind == transportKubeconfig {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: choice.kubeconfigs}
		return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["keel"] = &clientcmdapi.Cluster{Server: pipeHost}
	cfg.AuthInfos["keel"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["keel"] = &clientcmdapi.Context{Cluster: "keel", AuthInfo: "keel", Namespace: "default"}
	cfg.CurrentContext = "keel"
	overrides.CurrentContext = ""
	return clientcmd.NewDefaultClientConfig(*cfg, overrides)
}

// ToRESTConfig returns a new client configuration for the selected transport.
func (g *clientGetter) ToRESTConfig() (*rest.Config, error) {
	choice, err := g.transport()
	if err != nil {
		return nil, err
	}
	var cfg *rest.Config
	switch choice.kind {
	case transportKubeconfig:
		cfg, err = g.ToRawKubeConfigLoader().ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", choice.describe(), err)
		}
	case transportSocket:
		cfg = &rest.Config{Host: pipeHost, Dial: socketDialer{path: choice.socket}.DialContext}
	case transportSSH:
		d := &sshDialer{dest: choice.ssh, opts: g.flags.sshOptions(), stderr: g.stderr}
		cfg = &rest.Config{Host: pipeHost, Dial: d.DialContext}
	}
	cfg.UserAgent = "agentctl/" + version.Version
	cfg.QPS = 50
	cfg.Burst = 300
	if g.flags.requestTimeout > 0 {
		cfg.Timeout = g.flags.requestTimeout
	}
	return cfg, nil
}

// ToDiscoveryClient returns a discovery client that caches in memory for
// the life of the command.
func (g *clientGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.discOnce.Do(func() {
		cfg, err := g.ToRESTConfig()
		if err != nil {
			g.discErr = err
			return
		}
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			g.discErr = fmt.Errorf("discovery client: %w", err)
			return
		}
		g.disc = memory.NewMemCacheClient(dc)
	})
	return g.disc, g.discErr
}

// ToRESTMapper maps kinds and short names to resources by discovery.
func (g *clientGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(dc)
	return restmapper.NewShortcutExpander(mapper, dc, func(warning string) {
		fmt.Fprintf(g.stderr, "Warning: %s\n", warning)
	}), nil
}

// errClientConfig is the kubeconfig view when no transport could be
// selected: every question answers with that error.
type errClientConfig struct {
	err error
}

func (e errClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, e.err
}
func (e errClientConfig) ClientConfig() (*rest.Config, error) { return nil, e.err }
func (e errClientConfig) Namespace() (string, bool, error)    { return "", false, e.err }
func (e errClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
