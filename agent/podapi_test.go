package agent

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseDockerConfig_formats(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:s3cret"))
	tests := []struct {
		name   string
		data   string
		legacy bool
		want   []RegistryAuth
		err    bool
	}{
		{"auths with user and password", `{"auths":{"registry.example:5000":{"username":"u","password":"p"}}}`, false,
			[]RegistryAuth{{Registry: "registry.example:5000", Username: "u", Password: "p"}}, false},
		{"auth field and docker hub URL", `{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"}}}`, false,
			[]RegistryAuth{{Registry: "index.docker.io", Username: "bob", Password: "s3cret"}}, false},
		{"identity token", `{"auths":{"r.io":{"identitytoken":"tok"}}}`, false,
			[]RegistryAuth{{Registry: "r.io", IdentityToken: "tok"}}, false},
		{"legacy dockercfg", `{"r.io":{"auth":"` + auth + `"}}`, true,
			[]RegistryAuth{{Registry: "r.io", Username: "bob", Password: "s3cret"}}, false},
		{"not json", `{"auths":`, false, nil, true},
		{"bad base64", `{"auths":{"r.io":{"auth":"%%%"}}}`, false, nil, true},
		{"auth without colon", `{"auths":{"r.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("bob")) + `"}}}`, false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDockerConfig([]byte(tt.data), tt.legacy)
			if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%+v %v, want %+v", got, err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "%%%")) {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}

func FuzzParseDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.io":{"username":"u","password":"p"}}}`), false)
	f.Add([]byte(`{"r.io":{"auth":"Ym9iOnB3"}}`), true)
	f.Add([]byte(`{"auths":{"r":{"auth":"!"}}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, legacy bool) {
		auths, err := parseDockerConfig(data, legacy)
		if err != nil && len(data) > 8 && strings.Contains(err.Error(), string(data)) {
			t.Fatalf("error quotes the payload: %v", err)
		}
		for _, a := range auths {
			if strings.Contains(a.Registry, "/") {
				t.Fatalf("registry %q not reduced to a host", a.Registry)
			}
		}
	})
}

func TestPullSecrets_skipsMissingAndMalformed(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "good"}, {Name: "gone"}, {Name: "bad"}}
	objs := mapObjects{secrets: map[string]*corev1.Secret{
		"ns/good": {Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"r.io":{"username":"u","password":"p"}}}`)}},
		"ns/bad":  {Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`nope`)}},
	}}
	auths, warns := pullSecrets(pod, objs)
	if !reflect.DeepEqual(auths, []RegistryAuth{{Registry: "r.io", Username: "u", Password: "p"}}) || len(warns) != 2 {
		t.Fatalf("auths %+v warnings %q", auths, warns)
	}
}
