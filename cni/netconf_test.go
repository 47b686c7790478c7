package cni

import (
	"strings"
	"testing"
)

func TestParseConfig_defaultsAndErrors(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
		check             func(*testing.T, *NetConf)
	}{
		{name: "defaults", in: `{"cniVersion":"1.1.0","name":"keel","type":"keel-cni","subnet":"10.244.1.0/24"}`,
			check: func(t *testing.T, c *NetConf) {
				if c.Bridge != "keel0" || c.MTU != 1500 || c.DataDir != DefaultDataDir {
					t.Errorf("defaults = %q %d %q", c.Bridge, c.MTU, c.DataDir)
				}
				if c.Gateway().String() != "10.244.1.1" || c.Prefix().String() != "10.244.1.0/24" {
					t.Errorf("gateway %s prefix %s", c.Gateway(), c.Prefix())
				}
			}},
		{name: "explicit", in: `{"name":"n","subnet":"fd00:1::/64","bridge":"br-x","mtu":9000,"dataDir":"/tmp/x"}`,
			check: func(t *testing.T, c *NetConf) {
				if c.Bridge != "br-x" || c.MTU != 9000 || c.DataDir != "/tmp/x" || c.Gateway().String() != "fd00:1::1" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "prevResult decoded", in: `{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/24","prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}}`,
			check: func(t *testing.T, c *NetConf) {
				if c.PrevResult == nil {
					t.Error("prevResult not decoded")
				}
			}},
		{name: "not json", in: `{`, wantErr: "parse network config"},
		{name: "no name", in: `{"subnet":"10.0.0.0/24"}`, wantErr: "name: missing"},
		{name: "bad name", in: `{"name":"-x","subnet":"10.0.0.0/24"}`, wantErr: "name:"},
		{name: "no subnet", in: `{"name":"n"}`, wantErr: "subnet: missing"},
		{name: "host bits", in: `{"name":"n","subnet":"10.0.0.1/24"}`, wantErr: "did you mean 10.0.0.0/24"},
		{name: "too small", in: `{"name":"n","subnet":"10.0.0.0/31"}`, wantErr: "too small"},
		{name: "long bridge", in: `{"name":"n","subnet":"10.0.0.0/24","bridge":"abcdefghijklmnop"}`, wantErr: "bridge:"},
		{name: "bad mtu", in: `{"name":"n","subnet":"10.0.0.0/24","mtu":20}`, wantErr: "mtu: 20"},
		{name: "relative dataDir", in: `{"name":"n","subnet":"10.0.0.0/24","dataDir":"x"}`, wantErr: "dataDir"},
		{name: "bad prevResult", in: `{"cniVersion":"9.9.9","name":"n","subnet":"10.0.0.0/24","prevResult":{"ips":3}}`, wantErr: "prevResult"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"cniVersion":"1.1.0","name":"keel","type":"keel-cni","subnet":"10.244.1.0/24"}`))
	f.Add([]byte(`{"name":"n","subnet":"fd00:1::/64","bridge":"br-x","mtu":9000,"dataDir":"/tmp/x"}`))
	f.Add([]byte(`{"cniVersion":"1.0.0","name":"n","subnet":"10.0.0.0/24","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.0.0.2/24","interface":0}]}}`))
	f.Add([]byte(`{"name":"n","subnet":"10.0.0.0/24","cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]}`))
	f.Add([]byte(`{"name":"n","subnet":"::ffff:10.0.0.0/120"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		// An accepted config is usable: a valid bridge name, an MTU in
		// range and a subnet with room for the gateway and a pod.
		if validIfName(c.Bridge) != nil || c.MTU < 68 || c.MTU > 65535 {
			t.Fatalf("accepted bad config %+v", c)
		}
		p := c.Prefix()
		first, last := hostRange(p)
		if !p.Contains(c.Gateway()) || !p.Contains(first) || !p.Contains(last) || first.Compare(last) > 0 {
			t.Fatalf("subnet %s: gateway %s range %s..%s", p, c.Gateway(), first, last)
		}
	})
}
