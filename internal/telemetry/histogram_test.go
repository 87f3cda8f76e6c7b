package telemetry

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// relErr is |got-want|/want.
func relErr(got, want float64) float64 { return math.Abs(got-want) / want }

// tolerance allows for float rounding on top of MaxRelativeError.
const tolerance = 1e-9

func TestHistogram_EveryBucketReportsWithinMaxRelativeError(t *testing.T) {
	if MaxRelativeError > 0.045 {
		t.Fatalf("MaxRelativeError = %v, want at most 4.5%%", MaxRelativeError)
	}
	r := rand.New(rand.NewPCG(1, 2))
	durations := []time.Duration{time.Microsecond, time.Microsecond + 1, 999 * time.Microsecond, time.Millisecond,
		1500 * time.Microsecond, time.Second, time.Minute, time.Hour, 24 * time.Hour, 12 * 24 * time.Hour}
	for range 100000 {
		// log-uniform from 1 µs to 12 days
		durations = append(durations, time.Duration(math.Exp2(r.Float64()*39.9)*float64(time.Microsecond)))
	}
	for _, d := range durations {
		got := bucketMidpointMillis(bucketOf(d))
		want := float64(d) / float64(time.Millisecond)
		if e := relErr(got, want); e > MaxRelativeError+tolerance {
			t.Fatalf("%v reported as %v ms: relative error %.4f over %.4f", d, got, e, MaxRelativeError)
		}
	}
}

func TestHistogram_BucketsAreMonotonicAndClamped(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 0},
		{0, 0},
		{999, 0},
		{time.Microsecond, 1},
		{2 * time.Microsecond, 1 + bucketsPerDoubling},
		{1 << 62, numBuckets - 1},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	prev := 0
	for d := time.Duration(1); d < 1<<50; d += d/16 + 1 {
		i := bucketOf(d)
		if i < prev {
			t.Fatalf("bucketOf(%v) = %d, below the bucket of a shorter duration (%d)", d, i, prev)
		}
		prev = i
	}
}

// exactQuantile is the nearest-rank quantile of sorted, in milliseconds.
func exactQuantile(sorted []time.Duration, q float64) float64 {
	r := quantileRank(q, uint64(len(sorted)))
	return float64(sorted[r-1]) / float64(time.Millisecond)
}

func TestHistogram_QuantilesWithinErrorOfExactQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	logUniform := func() time.Duration {
		return time.Duration(math.Exp2(r.Float64()*30) * float64(time.Microsecond))
	}
	normal := func() time.Duration {
		return time.Duration(max(1, 20+5*r.NormFloat64()) * float64(time.Millisecond))
	}
	bimodal := func() time.Duration {
		if r.IntN(10) == 0 {
			return time.Duration(2000+r.IntN(500)) * time.Millisecond
		}
		return time.Duration(3+r.IntN(4)) * time.Millisecond
	}
	constant := func() time.Duration { return 42 * time.Millisecond }
	for _, dist := range []struct {
		name string
		next func() time.Duration
	}{{"log-uniform", logUniform}, {"normal", normal}, {"bimodal", bimodal}, {"constant", constant}} {
		for _, n := range []int{1, 2, 3, 10, 99, 1000, 100000} {
			var h Histogram
			samples := make([]time.Duration, n)
			for i := range samples {
				samples[i] = dist.next()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			if h.Count() != uint64(n) {
				t.Fatalf("%s n=%d: Count = %d", dist.name, n, h.Count())
			}
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				if e := relErr(got, want); e > MaxRelativeError+tolerance {
					t.Errorf("%s n=%d q=%v: %v ms, exact %v ms: relative error %.4f", dist.name, n, q, got, want, e)
				}
			}
		}
	}
}

func TestHistogram_EmptyQuantileIsZero(t *testing.T) {
	var h Histogram
	for _, q := range []float64{0, 0.5, 1, math.NaN()} {
		if got := h.Quantile(q); got != 0 {
			t.Errorf("empty Quantile(%v) = %v, want 0", q, got)
		}
	}
}

// randomHistogram records n durations from r and returns them too.
func randomHistogram(r *rand.Rand, n int) (*Histogram, []time.Duration) {
	h := &Histogram{}
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = time.Duration(math.Exp2(r.Float64()*36) * float64(time.Microsecond) / 8)
		h.Record(ds[i])
	}
	return h, ds
}

func encode(t *testing.T, h *Histogram) []byte {
	t.Helper()
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHistogram_MergeIsAssociativeCommutativeAndEqualsRecordingAll(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		a, da := randomHistogram(r, r.IntN(50))
		b, db := randomHistogram(r, r.IntN(50))
		c, dc := randomHistogram(r, r.IntN(50))
		merge := func(hs ...*Histogram) *Histogram {
			var out Histogram
			for _, h := range hs {
				out.Merge(h)
			}
			return &out
		}
		ab := merge(a, b)
		left := merge(ab, c)           // (a+b)+c
		right := merge(a, merge(b, c)) // a+(b+c)
		swapped := merge(c, b, a)
		var direct Histogram
		for _, d := range slices.Concat(da, db, dc) {
			direct.Record(d)
		}
		want := encode(t, &direct)
		for name, h := range map[string]*Histogram{"(a+b)+c": left, "a+(b+c)": right, "c+b+a": swapped} {
			if got := encode(t, h); !bytes.Equal(got, want) {
				t.Fatalf("round %d: %s encodes %x, recording every duration %x", round, name, got, want)
			}
			if h.Count() != direct.Count() {
				t.Fatalf("round %d: %s Count %d, want %d", round, name, h.Count(), direct.Count())
			}
		}
		// Merging from the encoding is the same as merging the histogram.
		var viaBytes Histogram
		for _, h := range []*Histogram{a, b, c} {
			if err := viaBytes.MergeBinary(encode(t, h)); err != nil {
				t.Fatal(err)
			}
		}
		if got := encode(t, &viaBytes); !bytes.Equal(got, want) {
			t.Fatalf("round %d: MergeBinary gives %x, want %x", round, got, want)
		}
	}
}

func TestHistogram_EncodingRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	many, _ := randomHistogram(r, 10000)
	for _, c := range []struct {
		name string
		ds   []time.Duration
		h    *Histogram
	}{
		{name: "empty"},
		{name: "one", ds: []time.Duration{3 * time.Millisecond}},
		{name: "sub-microsecond", ds: []time.Duration{0, 1, 999}},
		{name: "clamped", ds: []time.Duration{1 << 62, 100 * 24 * time.Hour}},
		{name: "spread", ds: []time.Duration{time.Microsecond, time.Millisecond, time.Second, time.Hour}},
		{name: "random", h: many},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = &Histogram{}
				for _, d := range c.ds {
					h.Record(d)
				}
			}
			b := encode(t, h)
			var back Histogram
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary(%x): %v", b, err)
			}
			if again := encode(t, &back); !bytes.Equal(again, b) {
				t.Errorf("re-encoding gives %x, want %x", again, b)
			}
			if back.Count() != h.Count() {
				t.Errorf("Count %d, want %d", back.Count(), h.Count())
			}
			for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
				if back.Quantile(q) != h.Quantile(q) {
					t.Errorf("Quantile(%v) = %v after the round trip, %v before", q, back.Quantile(q), h.Quantile(q))
				}
			}
		})
	}
}

func TestHistogram_EncodingIsCompact(t *testing.T) {
	// A minute of one tool's calls: latencies within a factor of ten.
	var h Histogram
	r := rand.New(rand.NewPCG(9, 10))
	for range 1000 {
		h.Record(time.Duration(5+r.IntN(45)) * time.Millisecond)
	}
	if b := encode(t, &h); len(b) > 3*28+2 {
		t.Errorf("1000 latencies from 5 to 50 ms encode to %d bytes, want at most 3 per non-empty bucket", len(b))
	}
}

func TestHistogram_DecoderRejectsMalformedEncodings(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", []byte{2, 0}},
		{"no bucket count", []byte{1}},
		{"truncated bucket", []byte{1, 1, 5}},
		{"zero count", []byte{1, 1, 5, 0}},
		{"over-long varint", []byte{1, 1, 0x85, 0x00, 1}},
		{"over-long count", []byte{1, 0x81, 0x00}},
		{"bucket out of range", []byte{1, 1, 0xc1, 0x02, 1}},              // gap 321
		{"second bucket out of range", []byte{1, 2, 0xbf, 0x02, 1, 1, 1}}, // 319 then 321
		{"too many buckets", []byte{1, 0xc2, 0x02}},
		{"trailing bytes", []byte{1, 1, 5, 1, 0}},
		{"counts overflow", append([]byte{1, 2, 5}, append(uvarintBytes(math.MaxUint64), append([]byte{0}, uvarintBytes(1)...)...)...)},
		{"varint overflow", []byte{1, 1, 5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := Histogram{}
			h.Record(time.Millisecond)
			before := encode(t, &h)
			if err := h.UnmarshalBinary(c.b); !errors.Is(err, ErrBadHistogram) {
				t.Errorf("UnmarshalBinary(%x) = %v, want ErrBadHistogram", c.b, err)
			}
			if err := h.MergeBinary(c.b); !errors.Is(err, ErrBadHistogram) {
				t.Errorf("MergeBinary(%x) = %v, want ErrBadHistogram", c.b, err)
			}
			if after := encode(t, &h); !bytes.Equal(after, before) {
				t.Errorf("a refused encoding changed the histogram: %x, was %x", after, before)
			}
		})
	}
}

func uvarintBytes(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestHistogram_MergeBinaryRefusesOverflowingTheTotal(t *testing.T) {
	var big Histogram
	big.add(10, math.MaxUint64-1)
	b := encode(t, &big)
	var h Histogram
	h.Record(time.Millisecond)
	h.Record(time.Millisecond)
	if err := h.MergeBinary(b); !errors.Is(err, ErrBadHistogram) {
		t.Errorf("MergeBinary overflowing the total = %v, want ErrBadHistogram", err)
	}
	if h.Count() != 2 {
		t.Errorf("Count after the refused merge = %d, want 2", h.Count())
	}
}

// FuzzHistogramDecode feeds the decoder arbitrary bytes (the rollups are
// read back from a database a bug or an operator could have written):
// it never panics, and whatever it accepts is canonical (re-encodes to the
// same bytes), counts what it says, and has quantiles that grow with q.
func FuzzHistogramDecode(f *testing.F) {
	for _, ds := range [][]time.Duration{nil, {time.Millisecond}, {0, time.Microsecond, time.Hour, 1 << 62}} {
		var h Histogram
		for _, d := range ds {
			h.Record(d)
		}
		b, _ := h.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 1, 0x85, 0x00, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Histogram
		if err := h.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrBadHistogram) {
				t.Fatalf("error %v does not wrap ErrBadHistogram", err)
			}
			return
		}
		again, _ := h.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, which re-encodes as %x", b, again)
		}
		var sum uint64
		for _, n := range h.counts {
			sum += n
		}
		if sum != h.Count() {
			t.Fatalf("Count %d, buckets sum to %d", h.Count(), sum)
		}
		prev := -1.0
		for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 1} {
			v := h.Quantile(q)
			if v < prev || math.IsNaN(v) {
				t.Fatalf("Quantile(%v) = %v after %v", q, v, prev)
			}
			prev = v
		}
		var twice Histogram
		if err := twice.MergeBinary(b); err != nil {
			t.Fatalf("MergeBinary refused what UnmarshalBinary accepted: %v", err)
		}
		if err := twice.MergeBinary(b); err == nil && twice.Count() != 2*h.Count() {
			t.Fatalf("merging twice counts %d, want %d", twice.Count(), 2*h.Count())
		}
	})
}

// A reset histogram reuses its memory: what it records next must not see
// the old counts, whichever way its window grows.
func TestHistogram_ResetThenReuseEqualsFresh(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{time.Microsecond, time.Second, time.Hour} {
		h.Record(d)
	}
	h.Reset()
	var fresh Histogram
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Microsecond, 10 * time.Millisecond, 3 * time.Minute} {
		h.Record(d)
		fresh.Record(d)
	}
	if got, want := encode(t, &h), encode(t, &fresh); !bytes.Equal(got, want) {
		t.Errorf("after Reset: %x, fresh: %x", got, want)
	}
	if h.Count() != 4 {
		t.Errorf("Count after Reset and 4 records = %d", h.Count())
	}
}
