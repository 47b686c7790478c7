package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// discovery holds the discovery documents, encoded once.
type discovery struct {
	docs map[string][]byte // path -> JSON
}

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func newDiscovery(reg *kinds.Registry, serverAddress string) (*discovery, error) {
	d := &discovery{docs: map[string][]byte{}}
	put := func(path string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode discovery %s: %w", path, err)
		}
		d.docs[path] = data
		return nil
	}
	byGV := map[string]*metav1.APIResourceList{}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	groupIndex := map[string]int{}
	for _, gv := range reg.GroupVersions() {
		byGV[gv.String()] = &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: gv.String(),
			APIResources: []metav1.APIResource{},
		}
		if gv.Group == "" {
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		if i, ok := groupIndex[gv.Group]; ok {
			groups.Groups[i].Versions = append(groups.Groups[i].Versions, gvd)
			continue
		}
		groupIndex[gv.Group] = len(groups.Groups)
		groups.Groups = append(groups.Groups, metav1.APIGroup{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:     gv.Group, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd,
		})
	}
	for _, k := range reg.All() {
		l := byGV[k.GVK.GroupVersion().String()]
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.GVK.Kind,
			Verbs: allVerbs, ShortNames: k.ShortNames, Categories: k.Categories,
		})
		if k.HasStatus {
			l.APIResources = append(l.APIResources, metav1.APIResource{
				Name: k.Resource + "/status", Namespaced: k.Namespaced, Kind: k.GVK.Kind,
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
		if k.GVK.Group == "" && k.Resource == "pods" {
			l.APIResources = append(l.APIResources, metav1.APIResource{
				Name: "pods/binding", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"},
			})
			if _, ok := reg.ByResource(pdbGVR); ok {
				l.APIResources = append(l.APIResources, evictionResource())
			}
		}
		if k.Scale != nil {
			l.APIResources = append(l.APIResources, metav1.APIResource{
				Name: k.Resource + "/scale", Namespaced: k.Namespaced, Group: "autoscaling", Version: "v1", Kind: "Scale",
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
	}
	for gv, l := range byGV {
		prefix := "/apis/"
		if !strings.Contains(gv, "/") {
			prefix = "/api/"
		}
		if err := put(prefix+gv, l); err != nil {
			return nil, err
		}
	}
	for _, g := range groups.Groups {
		if err := put("/apis/"+g.Name, g); err != nil {
			return nil, err
		}
	}
	if err := put("/apis", groups); err != nil {
		return nil, err
	}
	versions := &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress},
		},
	}
	if err := put("/api", versions); err != nil {
		return nil, err
	}
	return d, nil
}

// serve answers discovery paths. Aggregated discovery is not offered:
// clients that ask for it get the legacy documents, which every kubectl
// understands.
func (d *discovery) serve(s *Server, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, statusError(http.StatusMethodNotAllowed, "MethodNotAllowed", "discovery is read-only"))
		return
	}
	data, ok := d.docs[strings.TrimSuffix(r.URL.Path, "/")]
	if !ok {
		s.writeError(w, r, statusError(http.StatusNotFound, metav1.StatusReasonNotFound,
			fmt.Sprintf("the server could not find the requested resource (%s)", r.URL.Path)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}
