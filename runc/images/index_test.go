package images

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

const dg1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestParseIndex_validation(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "empty index", in: `{"version":1,"refs":{}}`, want: map[string]string{}},
		{name: "one reference", in: `{"version":1,"refs":{"localhost/demo:v1":"` + dg1 + `"}}`,
			want: map[string]string{"localhost/demo:v1": dg1}},
		{name: "wrong version", in: `{"version":2,"refs":{}}`, wantErr: true},
		{name: "non-canonical reference", in: `{"version":1,"refs":{"busybox":"` + dg1 + `"}}`, wantErr: true},
		{name: "invalid reference", in: `{"version":1,"refs":{"UPPER/x:v1":"` + dg1 + `"}}`, wantErr: true},
		{name: "bad digest", in: `{"version":1,"refs":{"localhost/demo:v1":"sha256:12"}}`, wantErr: true},
		{name: "other algorithm", in: `{"version":1,"refs":{"localhost/demo:v1":"md5:d41d8cd98f00b204e9800998ecf8427e"}}`, wantErr: true},
		{name: "unknown field", in: `{"version":1,"refs":{},"x":1}`, wantErr: true},
		{name: "trailing data", in: `{"version":1,"refs":{}} {}`, wantErr: true},
		{name: "not json", in: `refs`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIndex([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseIndex error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !maps.Equal(got, tt.want) {
				t.Errorf("parseIndex = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSaveIndex_roundTripsAndReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.json")
	if got, err := loadIndex(path); err != nil || len(got) != 0 {
		t.Fatalf("missing index = %v, %v; want empty", got, err)
	}
	for _, refs := range []map[string]string{
		{"localhost/demo:v1": dg1},
		{"localhost/busybox:v1": dg1, "index.docker.io/library/busybox:latest": dg1},
	} {
		if err := saveIndex(path, refs); err != nil {
			t.Fatal(err)
		}
		got, err := loadIndex(path)
		if err != nil || !maps.Equal(got, refs) {
			t.Fatalf("loadIndex = %v, %v; want %v", got, err, refs)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d files, want only refs.json", len(ents))
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"version":1,"refs":{"localhost/demo:v1":"` + dg1 + `"}}`))
	f.Add([]byte(`{"version":1,"refs":{"localhost:5000/a/b@` + dg1 + `":"` + dg1 + `"}}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := parseIndex(b)
		if err != nil {
			return
		}
		enc, err := encodeIndex(refs)
		if err != nil {
			t.Fatalf("encode a parsed index: %v", err)
		}
		again, err := parseIndex(enc)
		if err != nil {
			t.Fatalf("parse an encoded index: %v\n%s", err, enc)
		}
		if !maps.Equal(refs, again) {
			t.Fatalf("round trip changed the index: %v != %v", refs, again)
		}
	})
}
