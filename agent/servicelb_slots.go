package agent

import (
	"hash/fnv"
)

// lbSlots fills a lookup table of size m (a prime) with indexes into
// backends, each in proportion to its weight: in order for the random
// algorithm, where the slot is drawn at random; by Maglev hashing
// otherwise, where a backend keeps most of its slots when others come or
// go (what a hash of the flow needs). Backends must weigh at least 1 and
// be at most m.
func lbSlots(backends []LBBackend, m int, maglev bool) []int {
	if len(backends) == 0 {
		return nil
	}
	if maglev {
		return maglevSlots(backends, m)
	}
	return proportionalSlots(backends, m)
}

// proportionalSlots gives each backend floor(m*w/W) slots and the rest
// to the largest remainders, the earlier backend first on ties.
func proportionalSlots(backends []LBBackend, m int) []int {
	total := 0
	for _, b := range backends {
		total += int(b.Weight)
	}
	counts := make([]int, len(backends))
	rems := make([]int, len(backends))
	given := 0
	for i, b := range backends {
		counts[i] = m * int(b.Weight) / total
		rems[i] = m * int(b.Weight) % total
		given += counts[i]
	}
	for given < m {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
		given++
	}
	out := make([]int, 0, m)
	for i, c := range counts {
		for range c {
			out = append(out, i)
		}
	}
	return out
}

// maglevSlots is the Maglev lookup table (Eisenbud et al., 2016): each
// backend walks its own permutation of the slots, from an offset and a
// skip hashed from its address, taking the next free slot on each of its
// turns; a backend has as many turns per round as its weight.
func maglevSlots(backends []LBBackend, m int) []int {
	n := len(backends)
	offset := make([]int, n)
	skip := make([]int, n)
	for i, b := range backends {
		text, _ := b.Addr.MarshalText()
		offset[i] = int(hash64(text, 0xa5) % uint64(m))
		skip[i] = int(hash64(text, 0x5a)%uint64(m-1)) + 1
	}
	table := make([]int, m)
	for i := range table {
		table[i] = -1
	}
	next := make([]int, n)
	filled := 0
	for filled < m {
		for i, b := range backends {
			for w := 0; w < int(b.Weight) && filled < m; w++ {
				c := (offset[i] + next[i]*skip[i]) % m
				for table[c] >= 0 {
					next[i]++
					c = (offset[i] + next[i]*skip[i]) % m
				}
				table[c] = i
				next[i]++
				filled++
			}
		}
	}
	return table
}

func hash64(b []byte, seed byte) uint64 {
	h := fnv.New64a()
	h.Write([]byte{seed})
	h.Write(b)
	return h.Sum64()
}
