package store

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestRecord_roundTrip(t *testing.T) {
	tests := []struct {
		name    string
		changes []change
	}{
		{"create", []change{{Type: Put, Bucket: "pods", Key: "ns/a", Value: stamp(7, 7, []byte("v"))}}},
		{"update with empty payload", []change{{Type: Put, Bucket: "pods", Key: "a", Value: stamp(9, 7, nil), Prev: stamp(7, 7, []byte("old"))}}},
		{"remove", []change{{Type: Removed, Bucket: "b", Key: "k", Prev: stamp(3, 2, []byte("last"))}}},
		{"several", []change{
			{Type: Put, Bucket: "pods", Key: "a", Value: stamp(5, 5, []byte("1"))},
			{Type: Removed, Bucket: "services", Key: "s", Prev: stamp(4, 2, []byte("2"))},
			{Type: Put, Bucket: "nodes", Key: "n", Value: stamp(5, 1, bytes.Repeat([]byte("x"), 300)), Prev: stamp(1, 1, nil)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.changes {
				tt.changes[i].Rev = 5
			}
			got, err := decodeRecord(5, encodeRecord(tt.changes))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.changes) {
				t.Fatalf("got %+v, want %+v", got, tt.changes)
			}
		})
	}
}

func TestRecord_rejectsCorruption(t *testing.T) {
	good := encodeRecord([]change{{Type: Put, Bucket: "pods", Key: "a", Value: stamp(2, 2, []byte("v"))}})
	tests := []struct {
		name string
		rec  []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{9}, good[1:]...)},
		{"no changes", []byte{recordVersion, 0}},
		{"truncated", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"unknown type", encodeRecord([]change{{Type: 7, Bucket: "b", Key: "k", Value: stamp(1, 1, nil)}})},
		{"put without value", encodeRecord([]change{{Type: Put, Bucket: "b", Key: "k"}})},
		{"removal without prev", encodeRecord([]change{{Type: Removed, Bucket: "b", Key: "k"}})},
		{"short stored value", encodeRecord([]change{{Type: Put, Bucket: "b", Key: "k", Value: []byte("short")}})},
		{"empty key", encodeRecord([]change{{Type: Put, Bucket: "b", Value: stamp(1, 1, nil)}})},
		{"huge count", []byte{recordVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord(1, tt.rec); !errors.Is(err, errCorrupt) {
				t.Fatalf("decode: %v, want errCorrupt", err)
			}
		})
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the changelog decoder, which
// standbys will also run on records received over the network: it must
// never panic, and whatever it accepts must survive a round trip.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord([]change{{Type: Put, Bucket: "pods", Key: "ns/a", Value: stamp(2, 2, []byte(`{"kind":"Pod"}`))}}))
	f.Add(encodeRecord([]change{
		{Type: Removed, Bucket: "pods", Key: "a", Prev: stamp(3, 2, []byte("x"))},
		{Type: Put, Bucket: "services", Key: "s", Value: stamp(4, 1, nil), Prev: stamp(1, 1, nil)},
	}))
	f.Add([]byte{recordVersion, 1, 1, 1, 'b', 1, 'k', 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		changes, err := decodeRecord(42, rec)
		if err != nil {
			return
		}
		again, err := decodeRecord(42, encodeRecord(changes))
		if err != nil {
			t.Fatalf("re-encoded record rejected: %v", err)
		}
		if !reflect.DeepEqual(again, changes) {
			t.Fatalf("round trip changed %+v into %+v", changes, again)
		}
		for _, c := range changes {
			if _, err := (&Store{}).toEvent(c); err != nil {
				t.Fatalf("accepted change does not open: %v", err)
			}
		}
	})
}

func TestHeader_short(t *testing.T) {
	if _, _, _, err := header(make([]byte, headerSize-1)); !errors.Is(err, errCorrupt) {
		t.Fatalf("short header: %v", err)
	}
	mod, created, payload, err := header(stamp(9, 4, []byte("p")))
	if err != nil || mod != 9 || created != 4 || string(payload) != "p" {
		t.Fatalf("header = %d %d %q %v", mod, created, payload, err)
	}
}
