package retention

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

type tsnap struct {
	t       string
	host    string
	paths   []string
	tags    []string
	partial bool
}

type policyCase struct {
	name    string
	zone    string // "" = UTC
	now     string // "" = 2100-01-01
	rules   []string
	groupBy GroupBy
	snaps   []tsnap // snapshot i has ID testID(i)
	keep    map[int][]string
}

func (c policyCase) inputs(t testing.TB) ([]Snapshot, Policy, time.Time, *time.Location) {
	t.Helper()
	snaps := make([]Snapshot, len(c.snaps))
	for i, s := range c.snaps {
		host := s.host
		if host == "" {
			host = "h"
		}
		paths := s.paths
		if paths == nil {
			paths = []string{"/p"}
		}
		snaps[i] = Snapshot{ID: testID(i), Time: mustTime(t, s.t), Host: host, Paths: paths, Tags: s.tags, Partial: s.partial}
	}
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	if c.now != "" {
		now = mustTime(t, c.now)
	}
	zone := time.UTC
	if c.zone != "" {
		zone = mustZone(t, c.zone)
	}
	return snaps, Policy{Rules: mustRules(t, c.rules...), GroupBy: c.groupBy}, now, zone
}

func (c policyCase) check(t *testing.T) {
	t.Helper()
	snaps, p, now, zone := c.inputs(t)
	res, err := Apply(snaps, p, now, zone)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	got := reasonTexts(res)
	for i := range c.snaps {
		want, g := c.keep[i], got[testID(i)]
		if !slices.Equal(want, g) {
			t.Errorf("snapshot %d (%s): reasons %q, want %q", i, c.snaps[i].t, g, want)
		}
	}
	n := 0
	for _, g := range res.Groups {
		n += len(g.Snapshots)
	}
	if n != len(c.snaps) {
		t.Errorf("result has %d snapshots, input %d", n, len(c.snaps))
	}
}

const lc = "last complete"

var policyCases = []policyCase{
	{
		name: "last N, ties by ID ascending", rules: []string{"last 2"},
		snaps: []tsnap{{t: "2024-01-01T10:00:00Z"}, {t: "2024-01-01T10:00:00Z"}, {t: "2024-01-01T09:00:00Z"}, {t: "2024-01-01T08:00:00Z"}},
		keep:  map[int][]string{0: {lc, "last 1/2"}, 1: {"last 2/2"}},
	},
	{
		name: "daily with fewer days than N keeps the oldest; UTC midnight", rules: []string{"daily 5"},
		snaps: []tsnap{{t: "2024-01-03T10:00:00Z"}, {t: "2024-01-03T08:00:00Z"}, {t: "2024-01-02T23:59:59Z"},
			{t: "2024-01-02T00:00:00Z"}, {t: "2024-01-01T23:59:59.999Z"}, {t: "2024-01-01T12:00:00Z"}},
		keep: map[int][]string{0: {lc, "daily 1/5"}, 2: {"daily 2/5"}, 4: {"daily 3/5"}, 5: {"oldest (daily 5)"}},
	},
	{
		name: "daily with exactly N days keeps no oldest", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-01-03T10:00:00Z"}, {t: "2024-01-03T08:00:00Z"}, {t: "2024-01-02T23:59:59Z"},
			{t: "2024-01-02T00:00:00Z"}, {t: "2024-01-01T23:59:59.999Z"}, {t: "2024-01-01T12:00:00Z"}},
		keep: map[int][]string{0: {lc, "daily 1/3"}, 2: {"daily 2/3"}, 4: {"daily 3/3"}},
	},
	{
		name: "daily all keeps every day and the oldest", rules: []string{"daily all"},
		snaps: []tsnap{{t: "2024-01-02T10:00:00Z"}, {t: "2024-01-02T09:00:00Z"}, {t: "2024-01-01T10:00:00Z"}, {t: "2024-01-01T09:00:00Z"}},
		keep:  map[int][]string{0: {lc, "daily 1/all"}, 2: {"daily 2/all"}, 3: {"oldest (daily all)"}},
	},
	{
		name: "daily at local midnight in Europe/Berlin (summer)", zone: "Europe/Berlin", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-06-01T22:30:00Z"}, {t: "2024-06-01T21:59:59Z"}, {t: "2024-06-01T21:00:00Z"},
			{t: "2024-05-31T22:00:00Z"}, {t: "2024-05-31T21:59:59Z"}},
		keep: map[int][]string{0: {lc, "daily 1/3"}, 1: {"daily 2/3"}, 4: {"daily 3/3"}},
	},
	{
		name: "the same snapshots bucketed in UTC", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-06-01T22:30:00Z"}, {t: "2024-06-01T21:59:59Z"}, {t: "2024-06-01T21:00:00Z"},
			{t: "2024-05-31T22:00:00Z"}, {t: "2024-05-31T21:59:59Z"}},
		keep: map[int][]string{0: {lc, "daily 1/3"}, 3: {"daily 2/3"}, 4: {"oldest (daily 3)"}},
	},
	{
		name: "Berlin spring forward: the 23-hour day", zone: "Europe/Berlin", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-03-31T22:00:00Z"}, {t: "2024-03-31T21:59:59Z"}, {t: "2024-03-30T23:00:00Z"}, {t: "2024-03-30T22:59:59Z"}},
		keep:  map[int][]string{0: {lc, "daily 1/3"}, 1: {"daily 2/3"}, 3: {"daily 3/3"}},
	},
	{
		name: "Berlin spring forward: hourly across the missing hour", zone: "Europe/Berlin", rules: []string{"hourly 2"},
		snaps: []tsnap{{t: "2024-03-31T01:40:00Z"}, {t: "2024-03-31T01:10:00Z"}, {t: "2024-03-31T00:50:00Z"},
			{t: "2024-03-31T00:30:00Z"}, {t: "2024-03-30T23:59:00Z"}},
		keep: map[int][]string{0: {lc, "hourly 1/2"}, 2: {"hourly 2/2"}},
	},
	{
		name: "Berlin fall back: the repeated hour is two hourly buckets", zone: "Europe/Berlin", rules: []string{"hourly 3"},
		snaps: []tsnap{{t: "2024-10-27T02:15:00Z"}, {t: "2024-10-27T01:45:00Z"}, {t: "2024-10-27T01:15:00Z"},
			{t: "2024-10-27T00:45:00Z"}, {t: "2024-10-27T00:15:00Z"}, {t: "2024-10-26T23:59:00Z"}},
		keep: map[int][]string{0: {lc, "hourly 1/3"}, 1: {"hourly 2/3"}, 3: {"hourly 3/3"}},
	},
	{
		name: "Berlin fall back: the 25-hour day", zone: "Europe/Berlin", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-10-27T22:59:59Z"}, {t: "2024-10-26T22:00:00Z"}, {t: "2024-10-26T21:59:59Z"}, {t: "2024-10-27T23:00:00Z"}},
		keep:  map[int][]string{3: {lc, "daily 1/3"}, 0: {"daily 2/3"}, 2: {"daily 3/3"}},
	},
	{
		name: "New York fall back: the repeated hour is two hourly buckets", zone: "America/New_York", rules: []string{"hourly 4"},
		snaps: []tsnap{{t: "2024-11-03T07:10:00Z"}, {t: "2024-11-03T06:50:00Z"}, {t: "2024-11-03T06:05:00Z"},
			{t: "2024-11-03T05:55:00Z"}, {t: "2024-11-03T05:05:00Z"}, {t: "2024-11-03T04:59:00Z"}},
		keep: map[int][]string{0: {lc, "hourly 1/4"}, 1: {"hourly 2/4"}, 3: {"hourly 3/4"}, 5: {"hourly 4/4"}},
	},
	{
		name: "New York spring forward: hourly and daily at local midnight", zone: "America/New_York", rules: []string{"daily 3", "hourly 3"},
		snaps: []tsnap{{t: "2024-03-11T04:00:00Z"}, {t: "2024-03-11T03:59:59Z"}, {t: "2024-03-10T07:30:00Z"},
			{t: "2024-03-10T06:30:00Z"}, {t: "2024-03-10T05:00:00Z"}, {t: "2024-03-10T04:59:59Z"}},
		keep: map[int][]string{0: {lc, "hourly 1/3", "daily 1/3"}, 1: {"hourly 2/3", "daily 2/3"}, 2: {"hourly 3/3"}, 5: {"daily 3/3"}},
	},
	{
		name: "New York fall back: the 25-hour day", zone: "America/New_York", rules: []string{"daily 3"},
		snaps: []tsnap{{t: "2024-11-04T05:00:00Z"}, {t: "2024-11-04T04:59:59Z"}, {t: "2024-11-03T04:00:00Z"}, {t: "2024-11-03T03:59:59Z"}},
		keep:  map[int][]string{0: {lc, "daily 1/3"}, 1: {"daily 2/3"}, 3: {"daily 3/3"}},
	},
	{
		name: "ISO week 53 of 2020 in UTC", rules: []string{"weekly 3"},
		snaps: []tsnap{{t: "2021-01-04T00:00:00Z"}, {t: "2021-01-03T23:59:59Z"}, {t: "2020-12-31T12:00:00Z"},
			{t: "2020-12-28T00:00:00Z"}, {t: "2020-12-27T23:59:59Z"}},
		keep: map[int][]string{0: {lc, "weekly 1/3"}, 1: {"weekly 2/3"}, 4: {"weekly 3/3"}},
	},
	{
		name: "ISO week 53 of 2020 in New York", zone: "America/New_York", rules: []string{"weekly 3"},
		snaps: []tsnap{{t: "2021-01-04T00:00:00Z"}, {t: "2021-01-03T23:59:59Z"}, {t: "2020-12-31T12:00:00Z"},
			{t: "2020-12-28T00:00:00Z"}, {t: "2020-12-27T23:59:59Z"}},
		keep: map[int][]string{0: {lc, "weekly 1/3"}, 3: {"weekly 2/3"}, 4: {"oldest (weekly 3)"}},
	},
	{
		name: "29 February: monthly and yearly", rules: []string{"monthly 3", "yearly 2"},
		snaps: []tsnap{{t: "2024-03-01T00:00:00Z"}, {t: "2024-02-29T23:59:59Z"}, {t: "2024-02-29T00:00:00Z"},
			{t: "2024-02-01T00:00:00Z"}, {t: "2023-03-01T00:00:00Z"}, {t: "2023-02-28T23:59:59Z"}},
		keep: map[int][]string{0: {lc, "monthly 1/3", "yearly 1/2"}, 1: {"monthly 2/3"}, 4: {"monthly 3/3", "yearly 2/2"}},
	},
	{
		name: "within 1y from 29 February 2024 reaches back to 1 March 2023", rules: []string{"within 1y"},
		snaps: []tsnap{{t: "2024-02-29T12:00:00Z"}, {t: "2023-03-01T12:00:01Z"}, {t: "2023-03-01T12:00:00Z"}, {t: "2023-02-28T12:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 1y"}, 1: {"within 1y"}, 2: {"anchor (within 1y)"}},
	},
	{
		name: "within 1m from 31 March: AddDate makes 31 February 2 March", rules: []string{"within 1m"},
		snaps: []tsnap{{t: "2024-03-31T10:00:00Z"}, {t: "2024-03-02T10:00:01Z"}, {t: "2024-03-02T10:00:00Z"}, {t: "2024-02-29T10:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 1m"}, 1: {"within 1m"}, 2: {"anchor (within 1m)"}},
	},
	{
		name: "within 2m from 31 January: 31 November is 1 December", rules: []string{"within 2m"},
		snaps: []tsnap{{t: "2024-01-31T00:00:00Z"}, {t: "2023-12-01T00:00:01Z"}, {t: "2023-11-30T23:59:59Z"}, {t: "2023-11-30T00:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 2m"}, 1: {"within 2m"}, 2: {"anchor (within 2m)"}},
	},
	{
		name: "within 1y2m3d4h", rules: []string{"within 1y2m3d4h"},
		snaps: []tsnap{{t: "2024-05-10T12:00:00Z"}, {t: "2023-03-07T08:00:01Z"}, {t: "2023-03-07T08:00:00Z"}, {t: "2023-03-07T07:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 1y2m3d4h"}, 1: {"within 1y2m3d4h"}, 2: {"anchor (within 1y2m3d4h)"}},
	},
	{
		name: "within 1d across Berlin spring forward is 23 hours", zone: "Europe/Berlin", rules: []string{"within 1d"},
		snaps: []tsnap{{t: "2024-03-31T10:00:00Z"}, {t: "2024-03-30T11:00:01Z"}, {t: "2024-03-30T10:30:00Z"}, {t: "2024-03-30T09:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 1d"}, 1: {"within 1d"}, 2: {"anchor (within 1d)"}},
	},
	{
		name: "within 1d in UTC is 24 hours", rules: []string{"within 1d"},
		snaps: []tsnap{{t: "2024-03-31T10:00:00Z"}, {t: "2024-03-30T11:00:01Z"}, {t: "2024-03-30T10:30:00Z"}, {t: "2024-03-30T09:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 1d"}, 1: {"within 1d"}, 2: {"within 1d"}, 3: {"anchor (within 1d)"}},
	},
	{
		name: "within 24h in Berlin is elapsed hours", zone: "Europe/Berlin", rules: []string{"within 24h"},
		snaps: []tsnap{{t: "2024-03-31T10:00:00Z"}, {t: "2024-03-30T11:00:01Z"}, {t: "2024-03-30T10:30:00Z"}, {t: "2024-03-30T09:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 24h"}, 1: {"within 24h"}, 2: {"within 24h"}, 3: {"anchor (within 24h)"}},
	},
	{
		name: "within keeps the anchor across a gap", rules: []string{"within 2d"},
		snaps: []tsnap{{t: "2024-01-10T00:00:00Z"}, {t: "2024-01-09T00:00:00Z"}, {t: "2024-01-05T00:00:00Z"}, {t: "2024-01-01T00:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 2d"}, 1: {"within 2d"}, 2: {"anchor (within 2d)"}},
	},
	{
		name: "within with every snapshot inside has no anchor", rules: []string{"within 30d"},
		snaps: []tsnap{{t: "2024-01-10T00:00:00Z"}, {t: "2024-01-09T00:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within 30d"}, 1: {"within 30d"}},
	},
	{
		name: "within-daily: newest of each day after the cutoff, no anchor", rules: []string{"within-daily 3d"},
		snaps: []tsnap{{t: "2024-01-10T12:00:00Z"}, {t: "2024-01-10T08:00:00Z"}, {t: "2024-01-09T12:00:00Z"},
			{t: "2024-01-08T00:00:00Z"}, {t: "2024-01-07T12:00:00Z"}, {t: "2024-01-06T00:00:00Z"}},
		keep: map[int][]string{0: {lc, "within-daily 3d #1"}, 2: {"within-daily 3d #2"}, 3: {"within-daily 3d #3"}},
	},
	{
		name: "within-daily keeps the oldest when it is inside the window", rules: []string{"within-daily 30d"},
		snaps: []tsnap{{t: "2024-01-10T12:00:00Z"}, {t: "2024-01-10T08:00:00Z"}, {t: "2024-01-09T12:00:00Z"}, {t: "2024-01-09T00:00:00Z"}},
		keep:  map[int][]string{0: {lc, "within-daily 30d #1"}, 2: {"within-daily 30d #2"}, 3: {"oldest (within-daily 30d)"}},
	},
	{
		name: "future snapshots are kept and not counted; ref ignores them", now: "2024-01-01T12:00:00Z", rules: []string{"last 2", "within 1h"},
		snaps: []tsnap{{t: "2024-01-01T12:05:01Z"}, {t: "2024-01-01T12:05:00Z"}, {t: "2024-01-01T11:00:00Z"}, {t: "2030-01-01T00:00:00Z"}},
		keep:  map[int][]string{0: {"future"}, 1: {lc, "last 1/2", "within 1h"}, 2: {"last 2/2", "anchor (within 1h)"}, 3: {"future"}},
	},
	{
		name: "partial snapshots: newer kept, older removed even if tagged, never counted", now: "2024-01-06T00:00:00Z", rules: []string{"last 2", "tag keep"},
		snaps: []tsnap{{t: "2024-01-05T00:00:00Z", partial: true}, {t: "2024-01-04T00:00:00Z"}, {t: "2024-01-03T00:00:00Z", partial: true, tags: []string{"keep"}},
			{t: "2024-01-02T00:00:00Z"}, {t: "2024-01-01T00:00:00Z"}, {t: "2023-12-31T00:00:00Z", tags: []string{"keep"}}, {t: "2025-01-01T00:00:00Z", partial: true}},
		keep: map[int][]string{0: {"partial newer than newest complete"}, 1: {lc, "last 1/2"}, 3: {"last 2/2"}, 5: {"tag keep"}, 6: {"future"}},
	},
	{
		name: "a partial snapshot at the same time as the newest complete one is not newer", rules: []string{"last 1"},
		snaps: []tsnap{{t: "2024-01-05T00:00:00Z", partial: true}, {t: "2024-01-05T00:00:00Z"}, {t: "2024-01-05T00:00:00.000000001Z", partial: true}},
		keep:  map[int][]string{1: {lc, "last 1/1"}, 2: {"partial newer than newest complete"}},
	},
	{
		name: "a group with only partial snapshots keeps them all", rules: []string{"last 1"},
		snaps: []tsnap{{t: "2024-01-05T00:00:00Z", partial: true}, {t: "2024-01-04T00:00:00Z", partial: true}},
		keep:  map[int][]string{0: {"partial newer than newest complete"}, 1: {"partial newer than newest complete"}},
	},
	{
		name: "tag lists: all tags of one list; the last complete is kept untagged", rules: []string{"tag b,a", "tag c"},
		snaps: []tsnap{{t: "2024-01-04T00:00:00Z"}, {t: "2024-01-03T00:00:00Z", tags: []string{"a"}}, {t: "2024-01-02T00:00:00Z", tags: []string{"a", "b"}},
			{t: "2024-01-01T00:00:00Z", tags: []string{"b", "c", "a"}}, {t: "2023-12-31T00:00:00Z", tags: []string{"c"}}},
		keep: map[int][]string{0: {lc}, 2: {"tag a,b"}, 3: {"tag a,b", "tag c"}, 4: {"tag c"}},
	},
	{
		name: "identical rules give one reason, different counts each their own", rules: []string{"daily 2", "daily 2", "daily 1"},
		snaps: []tsnap{{t: "2024-01-02T00:00:00Z"}, {t: "2024-01-01T00:00:00Z"}},
		keep:  map[int][]string{0: {lc, "daily 1/1", "daily 1/2"}, 1: {"daily 2/2"}},
	},
	{
		name: "group by host and paths: path order and duplicates do not matter", rules: []string{"last 1"},
		snaps: []tsnap{{t: "2024-01-03T00:00:00Z", host: "a", paths: []string{"/x", "/y"}}, {t: "2024-01-02T00:00:00Z", host: "a", paths: []string{"/y", "/x", "/y"}},
			{t: "2024-01-04T00:00:00Z", host: "a", paths: []string{"/x"}}, {t: "2024-01-01T00:00:00Z", host: "b", paths: []string{"/x", "/y"}},
			{t: "2023-01-01T00:00:00Z", host: "b", paths: []string{"/y", "/x"}}},
		keep: map[int][]string{0: {lc, "last 1/1"}, 2: {lc, "last 1/1"}, 3: {lc, "last 1/1"}},
	},
	{
		name: "group by host", rules: []string{"last 1"}, groupBy: GroupHost,
		snaps: []tsnap{{t: "2024-01-03T00:00:00Z", host: "a", paths: []string{"/x", "/y"}}, {t: "2024-01-02T00:00:00Z", host: "a", paths: []string{"/y", "/x"}},
			{t: "2024-01-04T00:00:00Z", host: "a", paths: []string{"/x"}}, {t: "2024-01-01T00:00:00Z", host: "b", paths: []string{"/x", "/y"}},
			{t: "2023-01-01T00:00:00Z", host: "b", paths: []string{"/y", "/x"}}},
		keep: map[int][]string{2: {lc, "last 1/1"}, 3: {lc, "last 1/1"}},
	},
	{
		name: "group by nothing", rules: []string{"last 1"}, groupBy: GroupNone,
		snaps: []tsnap{{t: "2024-01-03T00:00:00Z", host: "a", paths: []string{"/x", "/y"}}, {t: "2024-01-02T00:00:00Z", host: "a", paths: []string{"/y", "/x"}},
			{t: "2024-01-04T00:00:00Z", host: "a", paths: []string{"/x"}}, {t: "2024-01-01T00:00:00Z", host: "b", paths: []string{"/x", "/y"}}},
		keep: map[int][]string{2: {lc, "last 1/1"}},
	},
	{
		name: "group by tags", rules: []string{"last 1"}, groupBy: GroupTags,
		snaps: []tsnap{{t: "2024-01-03T00:00:00Z", host: "a", tags: []string{"x", "y"}}, {t: "2024-01-02T00:00:00Z", host: "b", tags: []string{"y", "x"}},
			{t: "2024-01-04T00:00:00Z", host: "a"}, {t: "2024-01-01T00:00:00Z", host: "b"}},
		keep: map[int][]string{0: {lc, "last 1/1"}, 2: {lc, "last 1/1"}},
	},
	{
		name: "hosts in different zones share the policy zone", zone: "Asia/Tokyo", rules: []string{"daily 2"}, groupBy: GroupNone,
		snaps: []tsnap{{t: "2024-01-02T00:30:00+09:00", host: "tokyo"}, {t: "2024-01-01T12:00:00-05:00", host: "nyc"}, {t: "2024-01-01T14:00:00+01:00", host: "berlin"}},
		keep:  map[int][]string{1: {lc, "daily 1/2"}, 2: {"daily 2/2"}},
	},
}

func TestApplyTable(t *testing.T) {
	for _, c := range policyCases {
		t.Run(c.name, c.check)
	}
}

// TestApplyIgnoresTimeLocal runs the whole table with time.Local set to
// zones far apart: the result must not change.
func TestApplyIgnoresTimeLocal(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	for _, z := range []string{"Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin"} {
		time.Local = mustZone(t, z)
		for _, c := range policyCases {
			t.Run(z+"/"+c.name, c.check)
		}
	}
}

func TestApplyGroupKeysAndOrder(t *testing.T) {
	i := slices.IndexFunc(policyCases, func(c policyCase) bool {
		return c.name == "group by host and paths: path order and duplicates do not matter"
	})
	if i < 0 {
		t.Fatal("case not found")
	}
	c := policyCases[i]
	snaps, p, now, zone := c.inputs(t)
	res, err := Apply(snaps, p, now, zone)
	if err != nil {
		t.Fatal(err)
	}
	var keys []GroupKey
	for _, g := range res.Groups {
		keys = append(keys, g.Key)
		for i := 1; i < len(g.Snapshots); i++ {
			if g.Snapshots[i-1].Time.Before(g.Snapshots[i].Time) {
				t.Errorf("group %v not newest first", g.Key)
			}
		}
	}
	want := []GroupKey{{Host: "a", Paths: []string{"/x"}}, {Host: "a", Paths: []string{"/x", "/y"}}, {Host: "b", Paths: []string{"/x", "/y"}}}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("group keys %v, want %v", keys, want)
	}
	if !res.Groups[1].Ref.Equal(mustTime(t, "2024-01-03T00:00:00Z")) {
		t.Errorf("ref %v", res.Groups[1].Ref)
	}
}

func TestApplyErrors(t *testing.T) {
	now := mustTime(t, "2024-01-01T00:00:00Z")
	one := []Snapshot{{ID: testID(1), Time: now}}
	for _, c := range []struct {
		name  string
		snaps []Snapshot
		p     Policy
		zone  *time.Location
		want  error
	}{
		{"empty policy", one, Policy{}, nil, ErrEmptyPolicy},
		{"local zone", one, Policy{Rules: []Rule{Last(1)}}, time.Local, ErrLocalZone},
		{"duplicate id", []Snapshot{{ID: testID(1), Time: now}, {ID: testID(1), Time: now.Add(time.Hour)}}, Policy{Rules: []Rule{Last(1)}}, nil, ErrDuplicateID},
		{"zero count", one, Policy{Rules: []Rule{Daily(0)}}, nil, ErrInvalidRule},
		{"negative count", one, Policy{Rules: []Rule{Last(-2)}}, nil, ErrInvalidRule},
		{"zero within", one, Policy{Rules: []Rule{Within(Duration{})}}, nil, ErrInvalidRule},
		{"empty tag list", one, Policy{Rules: []Rule{Tag()}}, nil, ErrInvalidRule},
		{"unknown kind", one, Policy{Rules: []Rule{{Kind: 99, N: 1}}}, nil, ErrInvalidRule},
		{"bad group-by", one, Policy{Rules: []Rule{Last(1)}, GroupBy: GroupNone | GroupHost}, nil, ErrInvalidGroupBy},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Apply(c.snaps, c.p, now, c.zone)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestApplyDoesNotModifyInput(t *testing.T) {
	snaps := []Snapshot{
		{ID: testID(2), Time: mustTime(t, "2024-01-01T00:00:00Z"), Host: "h", Paths: []string{"/b", "/a"}, Tags: []string{"z", "a"}},
		{ID: testID(1), Time: mustTime(t, "2024-01-02T00:00:00Z"), Host: "h", Paths: []string{"/b", "/a"}},
	}
	before := []Snapshot{snaps[0], snaps[1]}
	before[0].Paths, before[0].Tags = slices.Clone(snaps[0].Paths), slices.Clone(snaps[0].Tags)
	before[1].Paths = slices.Clone(snaps[1].Paths)
	if _, err := Apply(snaps, Policy{Rules: []Rule{Last(1), Tag("a")}}, mustTime(t, "2024-02-01T00:00:00Z"), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snaps, before) {
		t.Errorf("input changed: %+v", snaps)
	}
}
