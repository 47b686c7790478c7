package hostaddr

import "testing"

func TestGlobal_excludesLoopbackAndLinkLocal(t *testing.T) {
	for _, ip := range Global() {
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || !ip.IsGlobalUnicast() {
			t.Fatalf("%s is not a global unicast address", ip)
		}
	}
	if ip := FirstIPv4(); ip != nil && ip.To4() == nil {
		t.Fatalf("FirstIPv4 returned %s", ip)
	}
}
