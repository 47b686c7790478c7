package openapi

import (
	"slices"
	"testing"
)

func TestNegotiate_prefers(t *testing.T) {
	offers := []string{mimeJSON, mimeV2Proto, mimeV2ProtoAt}
	tests := []struct {
		accept string
		want   string
		ok     bool
	}{
		{"", mimeJSON, true},
		{"*/*", mimeJSON, true},
		{"application/*", mimeJSON, true},
		{mimeV2ProtoAt, mimeV2ProtoAt, true},
		{"APPLICATION/JSON", mimeJSON, true},
		{mimeV2Proto + ", application/json", mimeJSON, true},
		{mimeV2Proto + ", application/json;q=0.9", mimeV2Proto, true},
		{"application/json;q=0, */*", mimeV2Proto, true},
		{"application/json;q=0", "", false},
		{"text/html, image/*", "", false},
		{"application/json;q=zz", mimeJSON, true},
		{"garbage, */json", "", false},
	}
	for _, tt := range tests {
		got, ok := negotiate(tt.accept, offers)
		if got != tt.want || ok != tt.ok {
			t.Errorf("negotiate(%q) = %q, %v; want %q, %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/json;q=0.5, " + mimeV3ProtoAt, "a/b;q=NaN", ";;,,/", "*/*;q=-1"} {
		f.Add(s)
	}
	offers := []string{mimeJSON, mimeV3Proto, mimeV3ProtoAt}
	f.Fuzz(func(t *testing.T, accept string) {
		got, ok := negotiate(accept, offers)
		if ok != slices.Contains(offers, got) {
			t.Fatalf("negotiate(%q) = %q, %v", accept, got, ok)
		}
		for _, r := range parseAccept(accept) {
			if !(r.q >= 0 && r.q <= 1) {
				t.Fatalf("parseAccept(%q) gave q %v", accept, r.q)
			}
		}
	})
}
