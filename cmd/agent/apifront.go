package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/keel-edge/keel/coordinator/apiserver"
)

// apiFront serves the API on a member that is not the coordinator, so a
// kubeconfig or agentctl may name any node:
//   - HTTPS connections to --api-addr pass through, unopened, to the
//     coordinator, whose certificate names every member's address; client
//     certificates and tokens reach it as they were sent.
//   - Requests on the unix socket go to the coordinator with this node's
//     credentials: root on a worker has the node's rights (read the
//     cluster, change its own node and pods), root on a coordinator
//     candidate the administrator's.
type apiFront struct {
	apiAddr string
	socket  string
	// coordinator is the current coordinator's API address.
	coordinator func() (string, error)
	// client is the certificate socket requests are sent with.
	client tls.Certificate
	ca     []byte
	log    *slog.Logger

	bg background
}

// start serves until stop (or ctx ends).
func (f *apiFront) start(ctx context.Context) error {
	f.bg.mu.Lock()
	defer f.bg.mu.Unlock()
	if f.bg.runningLocked() {
		return nil
	}
	ln, err := net.Listen("tcp", f.apiAddr)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(f.ca) {
		ln.Close()
		return errors.New("api front: no CA certificate")
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: apiServerName, Certificates: []tls.Certificate{f.client}, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr, err := f.coordinator()
			if err != nil {
				return nil, err
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
		IdleConnTimeout:   90 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "https", Host: apiServerName})
			pr.Out.Header.Del("Authorization")
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503,"message":`+quote("reach the coordinator: "+err.Error())+`}`)
		},
	}
	f.bg.goLocked(ctx, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { f.passThrough(ctx, ln) })
		wg.Go(func() {
			if err := apiserver.ServeSocket(ctx, f.socket, proxy); err != nil && ctx.Err() == nil {
				f.log.Error("api front socket", "err", err)
			}
		})
		wg.Wait()
		tr.CloseIdleConnections()
	})
	f.log.Info("api front serving: passing the API through to the coordinator", "addr", f.apiAddr, "socket", f.socket)
	return nil
}

// stop ends serving and returns once the listeners are closed.
func (f *apiFront) stop() { f.bg.stop() }

// passThrough copies each connection to the coordinator's API and back.
func (f *apiFront) passThrough(ctx context.Context, ln net.Listener) {
	go func() { <-ctx.Done(); ln.Close() }()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			addr, err := f.coordinator()
			if err != nil {
				f.log.Warn("api front: no coordinator to pass a connection to", "err", err)
				return
			}
			up, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				f.log.Warn("api front: dial the coordinator", "addr", addr, "err", err)
				return
			}
			defer up.Close()
			stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
			defer stop()
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, up); closeWrite(c); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
