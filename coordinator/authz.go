package coordinator

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/kinds"
)

// Node credentials are named as Kubernetes names them.
const (
	NodeUserPrefix = "system:node:"
	NodesGroup     = "system:nodes"
)

// NodeUser is the user name of node's credentials.
func NodeUser(node string) string { return NodeUserPrefix + node }

// nodeOf is the node a user acts for, if it is a node.
func nodeOf(u apiserver.User) (string, bool) {
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	return name, ok && name != "" && u.InGroup(NodesGroup)
}

// authorize grants what the API serves to users outside system:masters.
// There is no RBAC: administrators hold system:masters credentials, and
// nodes get what an agent needs, the way Kubernetes' Node authorizer
// grants it: read everything, and write their own Node, Lease, their
// pods' status and final deletion, and events. nodeRestriction checks
// the "own" part against the objects.
func authorize(u apiserver.User, a apiserver.Attributes) error {
	if _, ok := nodeOf(u); !ok {
		return apiserver.Forbidden(u, a, "only system:masters and nodes are granted access (RBAC is not served)")
	}
	if a.Path != "" {
		switch {
		case a.Verb == "get" && (a.Path == "/version" || a.Path == "/healthz" || a.Path == "/livez" || a.Path == "/readyz" ||
			a.Path == "/api" || a.Path == "/apis" || strings.HasPrefix(a.Path, "/api/") || strings.HasPrefix(a.Path, "/apis/") ||
			strings.HasPrefix(a.Path, "/openapi/") || a.Path == "/keel/v1/status"):
			return nil
		}
		return apiserver.Forbidden(u, a, "")
	}
	switch a.Verb {
	case "get", "list", "watch":
		return nil
	}
	write := func(ok bool) error {
		if ok {
			return nil
		}
		return apiserver.Forbidden(u, a, "")
	}
	switch a.Group + "/" + a.Resource {
	case "/nodes":
		return write(a.Verb != "deletecollection")
	case "/pods":
		return write((a.Subresource == "" && a.Verb == "delete") ||
			(a.Subresource == "status" && (a.Verb == "update" || a.Verb == "patch")))
	case "/events", "events.k8s.io/events":
		return write(a.Verb == "create" || a.Verb == "update" || a.Verb == "patch")
	case "coordination.k8s.io/leases":
		return write(a.Namespace == corev1.NamespaceNodeLease && a.Verb != "deletecollection")
	}
	return apiserver.Forbidden(u, a, "")
}

// nodeRestriction lets a node change only its own Node and Lease and the
// pods bound to it, as Kubernetes' NodeRestriction admission does.
type nodeRestriction struct{}

func (nodeRestriction) Admit(ctx context.Context, ar *apiserver.AdmissionRequest) error {
	u, _ := apiserver.UserFrom(ctx)
	node, ok := nodeOf(u)
	if !ok {
		return nil
	}
	obj := ar.Obj
	if obj == nil {
		obj = ar.Old
	}
	deny := func(format string, args ...any) error {
		gvr := ar.Kind.GVR()
		return apierrors.NewForbidden(schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource}, obj.GetName(),
			fmt.Errorf("node %q "+format, append([]any{node}, args...)...))
	}
	switch ar.Kind.GVR().Group + "/" + ar.Kind.GVR().Resource {
	case "/nodes":
		if obj.GetName() != node {
			return deny("may not modify node %q", obj.GetName())
		}
	case "coordination.k8s.io/leases":
		if obj.GetName() != node {
			return deny("may not modify lease %q", obj.GetName())
		}
	case "/pods":
		for _, o := range []kinds.Object{ar.Old, ar.Obj} {
			if p, ok := o.(*corev1.Pod); ok && p.Spec.NodeName != node {
				return deny("may only modify pods bound to it, not one bound to %q", p.Spec.NodeName)
			}
		}
	}
	return nil
}
