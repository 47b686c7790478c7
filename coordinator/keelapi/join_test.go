package keelapi

import (
	"strings"
	"testing"
)

const testHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestJoinTokenRoundTrip(t *testing.T) {
	tok, err := NewJoinToken(testHash)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseJoinToken(tok.String())
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Fatalf("got %+v, want %+v", got, tok)
	}
	if !strings.HasPrefix(tok.String(), "K10"+testHash+"::") {
		t.Fatalf("text form %q", tok)
	}
}

func TestParseJoinTokenErrors(t *testing.T) {
	secret := "abcdef.0123456789abcdef"
	for _, tc := range []struct{ in, want string }{
		{"", "does not start with K10"},
		{"K10" + testHash + secret, "no '::'"},
		{"K10abc::" + secret, "CA hash"},
		{"K10" + strings.ToUpper(testHash) + "::" + secret, "CA hash"},
		{"K10" + testHash + "::abcdef.short", "secret part"},
		{"K10" + testHash + "::ABCDEF.0123456789abcdef", "secret part"},
	} {
		_, err := ParseJoinToken(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseJoinToken(%q) = %v; want %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef\"") {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
}

func FuzzParseJoinToken(f *testing.F) {
	f.Add("K10" + testHash + "::abcdef.0123456789abcdef")
	f.Add("K10::")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			return
		}
		again, err := ParseJoinToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("%q: re-parse %+v, %v", s, again, err)
		}
	})
}
