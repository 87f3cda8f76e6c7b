package telemetry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// The buckets of every [Histogram]: fixed, so any two histograms merge by
// adding counts, whatever process or minute recorded them.
//
// Bucket 0 holds durations under 1 µs. Bucket i ≥ 1 holds durations d with
// 2^((i-1)/8) µs ≤ d < 2^(i/8) µs: eight buckets per doubling, from 1 µs up
// to 2^40 µs (about 12.7 days), where the last bucket also takes anything
// longer. A quantile is reported as its bucket's geometric midpoint
// 2^((i-½)/8) µs, which is within [MaxRelativeError] of every duration in
// the bucket.
const (
	bucketsPerDoubling = 8
	doublings          = 40
	numBuckets         = 1 + bucketsPerDoubling*doublings
)

// MaxRelativeError bounds how far a quantile a [Histogram] reports lies from
// the exact quantile of the durations it recorded (2^(1/16) − 1, about
// 4.4%), for durations from 1 µs to about 12.7 days.
var MaxRelativeError = math.Exp2(1.0/(2*bucketsPerDoubling)) - 1

// histogramVersion starts every encoded histogram, so the format can change
// without misreading stored rows.
const histogramVersion = 1

// Histogram is a mergeable latency histogram: counts of durations in fixed
// log-scale buckets (see [MaxRelativeError]). The zero value is empty and
// ready to use. It is not safe for concurrent use.
//
// Merging is adding counts, so it is associative and commutative: the
// rollup of an hour is exactly the merge of its minutes, and a quantile
// over any range of rollups equals the quantile of a histogram of the raw
// durations of that range.
type Histogram struct {
	lo     int      // bucket index of counts[0]
	counts []uint64 // the buckets lo … lo+len(counts)-1; empty when the histogram is
	total  uint64
}

// bucketOf returns the bucket of d.
func bucketOf(d time.Duration) int {
	if d < time.Microsecond {
		return 0
	}
	i := 1 + int(math.Floor(math.Log2(float64(d)/float64(time.Microsecond))*bucketsPerDoubling))
	return min(i, numBuckets-1)
}

// bucketMidpointMillis is the value reported for durations in bucket i, in milliseconds.
func bucketMidpointMillis(i int) float64 {
	if i == 0 {
		return 0.0005 // half a microsecond: the middle of [0, 1 µs)
	}
	return math.Exp2((float64(i)-0.5)/bucketsPerDoubling) / 1000
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	h.add(bucketOf(d), 1)
}

// add adds n to bucket i, growing the window of buckets held.
func (h *Histogram) add(i int, n uint64) {
	h.cover(i, i)
	h.counts[i-h.lo] += n
	h.total += n
}

// cover grows the window of buckets held to include lo … hi (lo ≤ hi),
// with at most one allocation.
func (h *Histogram) cover(lo, hi int) {
	if len(h.counts) == 0 {
		h.lo = lo
		h.counts = append(h.counts[:0], make([]uint64, hi-lo+1)...)
		return
	}
	curHi := h.lo + len(h.counts) - 1
	if lo >= h.lo && hi <= curHi {
		return
	}
	newLo, newHi := min(lo, h.lo), max(hi, curHi)
	if newLo == h.lo && newHi-newLo < cap(h.counts) {
		h.counts = h.counts[:newHi-newLo+1]
		clear(h.counts[curHi-h.lo+1:])
		return
	}
	grown := make([]uint64, newHi-newLo+1)
	copy(grown[h.lo-newLo:], h.counts)
	h.counts, h.lo = grown, newLo
}

// Merge adds every count of o to h. o is unchanged.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	if len(h.counts) == 0 {
		h.lo = o.lo
		h.counts = append(h.counts[:0], o.counts...)
		h.total = o.total
		return
	}
	h.cover(o.lo, o.lo+len(o.counts)-1)
	for j, n := range o.counts {
		h.counts[o.lo+j-h.lo] += n
	}
	h.total += o.total
}

// Count returns how many durations the histogram holds.
func (h *Histogram) Count() uint64 { return h.total }

// Reset empties the histogram, keeping its memory.
func (h *Histogram) Reset() {
	h.lo, h.counts, h.total = 0, h.counts[:0], 0
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) in milliseconds, by nearest
// rank: the smallest recorded duration with at least ⌈q·n⌉ durations at or
// below it, reported as its bucket's geometric midpoint. An empty histogram
// answers 0.
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := quantileRank(q, h.total)
	var seen uint64
	for j, n := range h.counts {
		seen += n
		if seen >= rank {
			return bucketMidpointMillis(h.lo + j)
		}
	}
	return bucketMidpointMillis(h.lo + len(h.counts) - 1) // not reached: the counts sum to total
}

// quantileRank is the 1-based nearest rank of the q-quantile of n values.
func quantileRank(q float64, n uint64) uint64 {
	switch {
	case !(q > 0): // also NaN
		return 1
	case q >= 1:
		return n
	}
	r := uint64(math.Ceil(q * float64(n)))
	return min(max(r, 1), n)
}

// Errors of [Histogram.UnmarshalBinary] and [Histogram.MergeBinary].
var ErrBadHistogram = errors.New("malformed histogram encoding")

// AppendBinary appends the histogram's compact encoding to b: a version
// byte, the number of non-empty buckets, then for each, in increasing
// order, the gap from the previous non-empty bucket and its count, all as
// unsigned varints. A histogram of durations that cluster (as latencies do)
// takes a few bytes per non-empty bucket. The encoding of a histogram is
// unique, so equal histograms encode to equal bytes.
func (h *Histogram) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, histogramVersion)
	nonEmpty := 0
	for _, n := range h.counts {
		if n != 0 {
			nonEmpty++
		}
	}
	b = binary.AppendUvarint(b, uint64(nonEmpty))
	prev := -1
	for j, n := range h.counts {
		if n == 0 {
			continue
		}
		i := h.lo + j
		b = binary.AppendUvarint(b, uint64(i-prev-1))
		b = binary.AppendUvarint(b, n)
		prev = i
	}
	return b, nil
}

// MarshalBinary returns the encoding [Histogram.AppendBinary] describes.
func (h *Histogram) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, 2+4*len(h.counts)))
}

// UnmarshalBinary replaces h with the histogram b encodes. On error h is
// unchanged.
func (h *Histogram) UnmarshalBinary(b []byte) error {
	var fresh Histogram
	fresh.counts = h.counts[:0]
	if err := fresh.MergeBinary(b); err != nil {
		return err
	}
	*h = fresh
	return nil
}

// MergeBinary adds the histogram b encodes to h without building it first,
// which is how queries fold thousands of stored rollups. It accepts only
// the encoding [Histogram.AppendBinary] makes (canonical varints, buckets in
// increasing order, no empty bucket, no trailing bytes, counts that do not
// overflow); on error h is unchanged.
func (h *Histogram) MergeBinary(b []byte) error {
	lo, hi, total, err := scanEncoding(b)
	if err != nil {
		return err
	}
	if total == 0 {
		return nil
	}
	if _, overflow := bits.Add64(h.total, total, 0); overflow != 0 {
		return fmt.Errorf("%w: counts overflow", ErrBadHistogram)
	}
	h.cover(lo, hi)
	walkEncoding(b, func(i int, n uint64) { h.counts[i-h.lo] += n })
	h.total += total
	return nil
}

// scanEncoding checks an encoding and returns its lowest and highest
// non-empty buckets and its total count.
func scanEncoding(b []byte) (lo, hi int, total uint64, err error) {
	if len(b) == 0 || b[0] != histogramVersion {
		return 0, 0, 0, fmt.Errorf("%w: unknown version", ErrBadHistogram)
	}
	p := 1
	k, n := uvarint(b[p:])
	if n <= 0 || k > numBuckets {
		return 0, 0, 0, fmt.Errorf("%w: bad bucket count", ErrBadHistogram)
	}
	p += n
	prev := -1
	for range k {
		gap, n := uvarint(b[p:])
		if n <= 0 || gap >= numBuckets {
			return 0, 0, 0, fmt.Errorf("%w: bad bucket gap", ErrBadHistogram)
		}
		p += n
		i := prev + 1 + int(gap)
		if i >= numBuckets {
			return 0, 0, 0, fmt.Errorf("%w: bucket %d out of range", ErrBadHistogram, i)
		}
		c, n := uvarint(b[p:])
		if n <= 0 || c == 0 {
			return 0, 0, 0, fmt.Errorf("%w: bad count", ErrBadHistogram)
		}
		p += n
		var carry uint64
		if total, carry = bits.Add64(total, c, 0); carry != 0 {
			return 0, 0, 0, fmt.Errorf("%w: counts overflow", ErrBadHistogram)
		}
		if prev < 0 {
			lo = i
		}
		prev, hi = i, i
	}
	if p != len(b) {
		return 0, 0, 0, fmt.Errorf("%w: %d trailing bytes", ErrBadHistogram, len(b)-p)
	}
	return lo, hi, total, nil
}

// walkEncoding calls fn for each non-empty bucket of an encoding
// scanEncoding accepted.
func walkEncoding(b []byte, fn func(i int, n uint64)) {
	p := 1
	k, n := binary.Uvarint(b[p:])
	p += n
	prev := -1
	for range k {
		gap, n := binary.Uvarint(b[p:])
		p += n
		c, n := binary.Uvarint(b[p:])
		p += n
		prev += 1 + int(gap)
		fn(prev, c)
	}
}

// uvarint decodes a canonical unsigned varint: like binary.Uvarint, but an
// over-long encoding (a last byte of zero after others) is an error (n ≤ 0),
// so every value has exactly one encoding.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, -1
	}
	return v, n
}
