package agent

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
)

// stuckHealth answers no health check before its caller gives up.
type stuckHealth struct {
	healthpb.UnimplementedHealthServer
}

func (stuckHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// serveGRPC serves srv on a loopback port until the test ends.
func serveGRPC(t *testing.T, srv *grpc.Server) int32 {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return int32(lis.Addr().(*net.TCPAddr).Port)
}

func TestRunHandler_grpc(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("ready", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("draining", healthpb.HealthCheckResponse_NOT_SERVING)
	withHealth := grpc.NewServer()
	healthpb.RegisterHealthServer(withHealth, hs)
	healthy := serveGRPC(t, withHealth)

	bare := serveGRPC(t, grpc.NewServer())

	stuck := grpc.NewServer()
	healthpb.RegisterHealthServer(stuck, stuckHealth{})
	slow := serveGRPC(t, stuck)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := int32(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	svc := func(s string) *string { return &s }
	tests := []struct {
		name    string
		g       corev1.GRPCAction
		want    bool
		message string
	}{
		{"serving, whole server", corev1.GRPCAction{Port: healthy}, true, ""},
		{"serving, named service", corev1.GRPCAction{Port: healthy, Service: svc("ready")}, true, ""},
		{"not serving", corev1.GRPCAction{Port: healthy, Service: svc("draining")}, false, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", corev1.GRPCAction{Port: healthy, Service: svc("nope")}, false, "NotFound"},
		{"health not implemented", corev1.GRPCAction{Port: bare}, false, "does not implement the grpc health protocol"},
		{"timeout", corev1.GRPCAction{Port: slow}, false, "did not complete within 300ms"},
		{"nothing listening", corev1.GRPCAction{Port: refused}, false, "Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := corev1.ProbeHandler{GRPC: &tt.g}
			ok, msg := runHandler(context.Background(), nil, h, &corev1.Container{Name: "a"}, "c1", "127.0.0.1", 300*time.Millisecond)
			if ok != tt.want || !strings.Contains(msg, tt.message) {
				t.Fatalf("passed %v with %q, want %v with %q", ok, msg, tt.want, tt.message)
			}
		})
	}
}

func TestProbeGRPC_badInput(t *testing.T) {
	if ok, msg := probeGRPC(context.Background(), &corev1.GRPCAction{Port: 70000}, "127.0.0.1", time.Second); ok || !strings.Contains(msg, "out of range") {
		t.Fatalf("port 70000: %v %q", ok, msg)
	}
	if ok, msg := probeGRPC(context.Background(), &corev1.GRPCAction{Port: 80}, "", time.Second); ok || !strings.Contains(msg, "no IP") {
		t.Fatalf("no pod IP: %v %q", ok, msg)
	}
}
