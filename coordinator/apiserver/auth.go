package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// User is an authenticated client.
type User struct {
	Name   string
	Groups []string
}

// MastersGroup is the group whose members may do anything, as in
// Kubernetes.
const MastersGroup = "system:masters"

// socketUser is who a root (or same-user) client of the unix socket is.
var socketUser = User{Name: "root", Groups: []string{MastersGroup}}

// InGroup reports whether u is a member of group.
func (u User) InGroup(group string) bool { return slices.Contains(u.Groups, group) }

type userKey struct{}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom is the user a request's context carries.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// Attributes describe a request for authorization.
type Attributes struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Path is set instead of the resource fields for non-resource
	// requests (discovery, /version, /keel/v1/...).
	Path string
}

// Authorizer decides whether u may make a request; a nil error allows it.
type Authorizer func(u User, a Attributes) error

// Forbidden is the error an Authorizer returns to refuse a request, in
// the words Kubernetes uses.
func Forbidden(u User, a Attributes, why string) error {
	if a.Path != "" {
		return apierrors.NewForbidden(schema.GroupResource{}, "", fmt.Errorf("User %q cannot %s path %q%s", u.Name, a.Verb, a.Path, suffix(why)))
	}
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q", u.Name, a.Verb, res, a.Group)
	if a.Namespace != "" {
		msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
	} else {
		msg += " at the cluster scope"
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.Group, Resource: a.Resource}, a.Name, fmt.Errorf("%s%s", msg, suffix(why)))
}

func suffix(why string) string {
	if why == "" {
		return ""
	}
	return ": " + why
}

// authorize applies the configured authorizer; without one every
// authenticated user may do everything.
func (s *Server) authorize(r *http.Request, a Attributes) error {
	if s.cfg.Authorize == nil {
		return nil
	}
	u, _ := UserFrom(r.Context())
	if u.InGroup(MastersGroup) {
		return nil
	}
	return s.cfg.Authorize(u, a)
}

// nonResourceVerb is the verb of a request outside the resource paths.
func nonResourceVerb(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodDelete:
		return "delete"
	}
	return "patch"
}
