package openapi

import (
	"math"
	"strconv"
	"strings"
)

// negotiate picks, from offers, the media type the Accept header prefers.
// An empty header accepts the first offer. ok is false when the header
// accepts none of them. Among equally preferred offers the earlier wins.
func negotiate(accept string, offers []string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return offers[0], true
	}
	ranges := parseAccept(accept)
	best, bestQ := "", 0.0
	for _, offer := range offers {
		if q := quality(ranges, offer); q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best, bestQ > 0
}

// mediaRange is one entry of an Accept header.
type mediaRange struct {
	typ, subtype string
	q            float64
}

// parseAccept reads an Accept header. Entries that are not type/subtype are
// dropped; a q that is not a number counts as 1, and q is kept within [0, 1].
func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for entry := range strings.SplitSeq(accept, ",") {
		params := strings.Split(entry, ";")
		typ, subtype, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
		if !ok || typ == "" || subtype == "" || (typ == "*" && subtype != "*") {
			continue
		}
		r := mediaRange{typ: typ, subtype: subtype, q: 1}
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.ToLower(strings.TrimSpace(k)) != "q" {
				continue
			}
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && !math.IsNaN(q) {
				r.q = min(max(q, 0), 1)
			}
		}
		out = append(out, r)
	}
	return out
}

// quality is the q the most specific matching range gives offer, 0 if none
// matches.
func quality(ranges []mediaRange, offer string) float64 {
	typ, subtype, _ := strings.Cut(offer, "/")
	q, specificity := 0.0, -1
	for _, r := range ranges {
		s := -1
		switch {
		case r.typ == typ && r.subtype == subtype:
			s = 2
		case r.typ == typ && r.subtype == "*":
			s = 1
		case r.typ == "*" && r.subtype == "*":
			s = 0
		}
		if s > specificity {
			q, specificity = r.q, s
		}
	}
	return q
}
