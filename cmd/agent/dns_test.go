package main

import "testing"

func TestKubeDNSDefault(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.96.0.0/12":  "10.96.0.10",
		"10.100.5.7/16": "10.100.0.10",
		"10.0.0.0/28":   "10.0.0.10",
		"10.0.0.0/29":   "",
		"fd00::/108":    "fd00::a",
		"nonsense":      "",
	} {
		if got := kubeDNSDefault(cidr); got != want {
			t.Errorf("kubeDNSDefault(%q) = %q, want %q", cidr, got, want)
		}
	}
}

func TestPodGateway(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.244.3.0/24": "10.244.3.1",
		"10.244.3.9/24": "10.244.3.1",
		"":              "invalid IP",
	} {
		got, err := podGateway(cidr)
		if err != nil || got.String() != want {
			t.Errorf("podGateway(%q) = %s, %v; want %s", cidr, got, err, want)
		}
	}
	if _, err := podGateway("10.244.3.0"); err == nil {
		t.Error("podGateway of an address without length: no error")
	}
}
