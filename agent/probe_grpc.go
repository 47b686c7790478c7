package agent

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
)

// probeGRPC asks the container's gRPC health service (grpc.health.v1)
// on the pod IP about g.Service; SERVING passes, anything else fails
// with the status or error in the message. ctx ends after timeout.
func probeGRPC(ctx context.Context, g *corev1.GRPCAction, podIP string, timeout time.Duration) (bool, string) {
	if g.Port <= 0 || g.Port > 65535 {
		return false, fmt.Sprintf("grpc probe port %d is out of range", g.Port)
	}
	if podIP == "" {
		return false, "grpc probe: the pod has no IP"
	}
	addr := net.JoinHostPort(podIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent("kube-probe/keel"))
	if err != nil {
		return false, fmt.Sprintf("grpc probe of %s: %v", addr, err)
	}
	defer conn.Close()
	var service string
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return false, grpcProbeError(addr, err, timeout)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return false, fmt.Sprintf("service unhealthy (responded with %q)", s.String())
	}
	return true, ""
}

// grpcProbeError explains a failed health call.
func grpcProbeError(addr string, err error, timeout time.Duration) string {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unimplemented:
		return fmt.Sprintf("%s does not implement the grpc health protocol (grpc.health.v1.Health): %s", addr, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Sprintf("timeout: health rpc to %s did not complete within %s", addr, timeout)
	}
	return fmt.Sprintf("health rpc to %s failed: %s: %s", addr, st.Code(), st.Message())
}
