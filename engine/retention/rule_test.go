package retention

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"30d", Duration{Days: 30}, "30d"},
		{"2w", Duration{Weeks: 2}, "2w"},
		{"6m", Duration{Months: 6}, "6m"},
		{"1y", Duration{Years: 1}, "1y"},
		{"48h", Duration{Hours: 48}, "48h"},
		{"1y2m3d4h", Duration{Years: 1, Months: 2, Days: 3, Hours: 4}, "1y2m3d4h"},
		{"1y1d1m", Duration{Years: 1, Months: 1, Days: 1}, "1y1m1d"},
		{"4h3d2m1y1w", Duration{Years: 1, Months: 2, Weeks: 1, Days: 3, Hours: 4}, "1y2m1w3d4h"},
		{"0y3d", Duration{Days: 3}, "3d"},
		{"9999y", Duration{Years: 9999}, "9999y"},
		{"1000000h", Duration{Hours: 1000000}, "1000000h"},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), c.str)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %+v, %v", c.in, back, err)
		}
	}
	for _, in := range []string{"", "d", "30", "30x", "30s", "1d2d", "-1d", "+1d", "1.5d", "0d", "0y0m", " 1d", "1d ", "1000001h", "99999999999999999999d", "1D"} {
		if d, err := ParseDuration(in); !errors.Is(err, ErrInvalidDuration) {
			t.Errorf("ParseDuration(%q) = %+v, %v; want ErrInvalidDuration", in, d, err)
		}
	}
}

func TestDurationBefore(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	ny := mustZone(t, "America/New_York")
	for _, c := range []struct {
		d, ref, want string
		zone         *time.Location
	}{
		{"1y", "2024-02-29T12:00:00Z", "2023-03-01T12:00:00Z", time.UTC},
		{"4y", "2024-02-29T12:00:00Z", "2020-02-29T12:00:00Z", time.UTC},
		{"1m", "2024-03-31T10:00:00Z", "2024-03-02T10:00:00Z", time.UTC},
		{"1m", "2023-03-31T10:00:00Z", "2023-03-03T10:00:00Z", time.UTC},
		{"1m", "2024-01-31T10:00:00Z", "2023-12-31T10:00:00Z", time.UTC},
		{"2m", "2024-01-31T00:00:00Z", "2023-12-01T00:00:00Z", time.UTC},
		{"1y2m3d4h", "2024-05-10T12:00:00Z", "2023-03-07T08:00:00Z", time.UTC},
		{"2w", "2024-05-10T12:00:00Z", "2024-04-26T12:00:00Z", time.UTC},
		// Calendar days keep the wall clock across DST; hours are elapsed.
		{"1d", "2024-03-31T10:00:00Z", "2024-03-30T11:00:00Z", berlin},
		{"24h", "2024-03-31T10:00:00Z", "2024-03-30T10:00:00Z", berlin},
		{"1d", "2024-11-03T12:00:00Z", "2024-11-02T11:00:00Z", ny},
		{"1d1h", "2024-11-03T12:00:00Z", "2024-11-02T10:00:00Z", ny},
		{"1d", "2024-11-04T12:00:00Z", "2024-11-03T12:00:00Z", ny},
		// The month is taken in the zone: 29 February 23:30 UTC is already
		// 1 March in Berlin.
		{"1m", "2024-02-29T23:30:00Z", "2024-01-31T23:30:00Z", berlin},
		{"1m", "2024-02-29T23:30:00Z", "2024-01-29T23:30:00Z", time.UTC},
		{"1m", "2024-03-30T23:30:00Z", "2024-03-01T23:30:00Z", berlin},
		{"1m", "2024-03-30T22:30:00Z", "2024-03-01T22:30:00Z", berlin},
	} {
		d, err := ParseDuration(c.d)
		if err != nil {
			t.Fatal(err)
		}
		got := d.Before(mustTime(t, c.ref), c.zone)
		if want := mustTime(t, c.want); !got.Equal(want) {
			t.Errorf("%s before %s in %s = %s, want %s", c.d, c.ref, c.zone, got.UTC(), want.UTC())
		}
	}
}

func TestParseRule(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rule
		str  string
	}{
		{"last 3", Last(3), "last 3"},
		{"hourly 24", Hourly(24), "hourly 24"},
		{"daily 7", Daily(7), "daily 7"},
		{"weekly all", Weekly(Unlimited), "weekly all"},
		{"monthly -1", Monthly(Unlimited), "monthly all"},
		{"yearly 10", Yearly(10), "yearly 10"},
		{"within 30d", Within(Duration{Days: 30}), "within 30d"},
		{"within-hourly 2d", WithinBucket(KindHourly, Duration{Days: 2}), "within-hourly 2d"},
		{"within-daily 2w", WithinBucket(KindDaily, Duration{Weeks: 2}), "within-daily 2w"},
		{"within-weekly 3m", WithinBucket(KindWeekly, Duration{Months: 3}), "within-weekly 3m"},
		{"within-monthly 1y", WithinBucket(KindMonthly, Duration{Years: 1}), "within-monthly 1y"},
		{"within-yearly 9999y", WithinBucket(KindYearly, Duration{Years: 9999}), "within-yearly 9999y"},
		{"tag b,a,b", Tag("b", "a", "b"), "tag a,b"},
	} {
		got, err := ParseRule(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("String() = %q, want %q", got.String(), c.str)
		}
	}
	for _, in := range []string{"", "daily", "daily ", "daily 0", "daily -2", "daily x", "daily 7d", "within 7", "within 0d",
		"within-daily 1x", "tag ", "tag a,,b", "tag a b", "secondly 3", "Daily 3", "last  3"} {
		if r, err := ParseRule(in); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("ParseRule(%q) = %+v, %v; want ErrInvalidRule", in, r, err)
		}
	}
	if _, err := ParseRule("within 30x"); !errors.Is(err, ErrInvalidDuration) {
		t.Errorf("a bad duration must also wrap ErrInvalidDuration: %v", err)
	}
}

func TestInvalidValuesPrint(t *testing.T) {
	if s := (Duration{}).String(); s != "0h" {
		t.Errorf("zero duration prints %q", s)
	}
	if s := (Rule{Kind: 99}).String(); s != "kind(99)" {
		t.Errorf("unknown kind prints %q", s)
	}
	if s := (GroupNone | GroupHost).String(); s != "groupby(0x9)" {
		t.Errorf("bad group-by prints %q", s)
	}
	for _, d := range []Duration{{Days: -1}, {Hours: 1, Years: maxDurationField + 1}} {
		if err := Within(d).Validate(); !errors.Is(err, ErrInvalidRule) || !errors.Is(err, ErrInvalidDuration) {
			t.Errorf("within %+v: %v", d, err)
		}
	}
}

func TestRuleJSON(t *testing.T) {
	p := struct {
		Rules []Rule `json:"rules"`
	}{Rules: []Rule{Daily(7), Within(Duration{Years: 1, Days: 2}), Tag("x", "a")}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"rules":["daily 7","within 1y2d","tag a,x"]}`; string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var back struct {
		Rules []Rule `json:"rules"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Rules[2].String() != "tag a,x" || back.Rules[1].D != (Duration{Years: 1, Days: 2}) {
		t.Fatalf("round trip %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"rules":["daily 0"]}`), &back); !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("bad rule in JSON: %v", err)
	}
	if _, err := json.Marshal(Rule{Kind: KindDaily}); !errors.Is(err, ErrInvalidRule) {
		t.Fatalf("marshal invalid rule: %v", err)
	}
}

func TestParseGroupBy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want GroupBy
		str  string
	}{
		{"", GroupNone, ""},
		{"host", GroupHost, "host"},
		{"paths,host", GroupHost | GroupPaths, "host,paths"},
		{"tags,paths,host", GroupHost | GroupPaths | GroupTags, "host,paths,tags"},
		{"tags", GroupTags, "tags"},
	} {
		got, err := ParseGroupBy(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseGroupBy(%q) = %v (%q), %v; want %v", c.in, got, got.String(), err, c.want)
		}
	}
	if GroupBy(0).String() != "host,paths" {
		t.Errorf("zero GroupBy is %q", GroupBy(0).String())
	}
	for _, in := range []string{"hosts", "host,host", "host,", ",", "Host"} {
		if _, err := ParseGroupBy(in); !errors.Is(err, ErrInvalidGroupBy) {
			t.Errorf("ParseGroupBy(%q): %v", in, err)
		}
	}
}

// TestBucketWalkerRecurringBucket covers a zone whose clock falls back
// across midnight, where a day recurs after another one: walking newest
// first, the keys are not monotone.
func TestBucketWalkerRecurringBucket(t *testing.T) {
	var w bucketWalker
	var kept []int64
	for _, k := range []int64{20240102, 20240101, 20240102, 20240101, 20231231, 20240101, 20231230} {
		if w.isNew(k) {
			w.add(k)
			kept = append(kept, k)
		}
	}
	if want := []int64{20240102, 20240101, 20231231, 20231230}; !reflect.DeepEqual(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	w.reset()
	if !w.isNew(20240102) {
		t.Fatal("reset walker remembers keys")
	}
}

func TestKeyEncoderOrderAndInjectivity(t *testing.T) {
	lists := [][]string{{}, {""}, {"", ""}, {"\x00"}, {"\x00a"}, {"\x01"}, {"a"}, {"a", ""}, {"a", "b"}, {"a\x00", "b"}, {"ab"}, {"b"}}
	enc := func(l []string) string {
		var e keyEncoder
		e.list(l)
		e.list([]string{"tail"})
		return string(e.b)
	}
	for i := range lists {
		for j := range lists {
			a, b := enc(lists[i]), enc(lists[j])
			if (a == b) != (i == j) || (i < j) != (a < b) {
				t.Errorf("encoding of %q and %q: order %v, want %v", lists[i], lists[j], a < b, i < j)
			}
		}
	}
}
