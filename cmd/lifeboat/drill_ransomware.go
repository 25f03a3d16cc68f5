package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/drill"
	"lifeboat/engine/pitr"
	"lifeboat/storage"
)

// maxRansomwareExamples bounds the destroyable objects a ransomware
// drill's report names per region.
const maxRansomwareExamples = 10

// addDrillAsOfFlags registers drill's --as-of and --ransomware.
func addDrillAsOfFlags(cmd *cobra.Command, asOf *string, ransomware *bool) {
	cmd.Flags().StringVar(asOf, "as-of", "", asOfHelp)
	cmd.Flags().BoolVar(ransomware, "ransomware", false, "simulate an attacker with this host's credentials who, at the drill's start (or --as-of), removes every object version not retained by object lock and overwrites or deletes the rest, in every region; then restore and verify as of before the attack, from the surviving versions only (nothing is changed)")
}

// parseDrillAsOf sets the overrides of drill's --as-of and --ransomware.
func parseDrillAsOf(asOf string, ransomware bool, o *drillOverrides) error {
	o.Ransomware = ransomware
	if asOf == "" {
		return nil
	}
	t, err := parseAsOf(asOf, time.Now(), time.Local)
	if err != nil {
		return err
	}
	o.AsOf = t
	return nil
}

// drillOpenMode is how a drill opens the regions it reads: as a restore
// after the outage would (read only), as of o.AsOf when set, and for a
// ransomware drill as of the attack with only the versions that survive
// it, recording in opts.Ransomware what the attack destroys per region.
func drillOpenMode(o drillOverrides, opts *drill.Options) openMode {
	mode := openMode{readOnly: true, asOf: o.AsOf}
	if !o.Ransomware {
		return mode
	}
	at := o.AsOf
	if at.IsZero() {
		at = time.Now()
	}
	rw := &drill.Ransomware{AttackTime: at.UTC()}
	opts.Ransomware = rw
	mode.asOf = at
	mode.keepFor = func(ctx context.Context, region string, st storage.Storage) (func(context.Context, storage.VersionInfo) (bool, error), error) {
		rr := drill.RansomwareRegion{Region: region, Versioned: true, AppendOnly: st.Capabilities().AppendOnly}
		s, err := pitr.MakeSurvey(ctx, st, at, pitr.SurveyOptions{Retained: retainedAt(st, at), NoDelete: rr.AppendOnly})
		if err != nil {
			if errors.Is(err, storage.ErrNoVersioning) {
				rr.Versioned = false
			} else {
				rr.Error = err.Error()
			}
			rw.Regions = append(rw.Regions, rr)
			return nil, err
		}
		rr.Objects, rr.Destroyable = s.Objects, len(s.Destroyable)
		rr.Examples = s.Destroyable[:min(len(s.Destroyable), maxRansomwareExamples)]
		rw.Regions = append(rw.Regions, rr)
		return s.Keep, nil
	}
	return mode
}

// retainedAt reports whether a version of st survives an attack at at
// because object lock retains it: a legal hold, or a retention (either
// mode: a backup host's credentials are not to hold the governance
// bypass) that has not ended by then. Only the current version's lock is
// known (some servers omit the headers of older versions), so an older
// one counts as removable. nil when st has no object lock at all.
func retainedAt(st storage.Storage, at time.Time) func(context.Context, storage.VersionInfo) (bool, error) {
	r, ok := storage.FindRetainer(st)
	if !ok {
		return nil
	}
	return func(ctx context.Context, v storage.VersionInfo) (bool, error) {
		if !v.IsLatest {
			return false, nil
		}
		ret, err := r.Retention(ctx, v.Name)
		if err != nil {
			return false, fmt.Errorf("region lock state: %w", err)
		}
		return ret.LegalHold || (ret.Mode != "" && ret.Until.After(at)), nil
	}
}

// printRansomware prints a ransomware drill's simulated attack: per
// region, what it destroys.
func printRansomware(w io.Writer, rw *drill.Ransomware) {
	if rw == nil {
		return
	}
	fmt.Fprintf(w, "ransomware\tattack simulated at %s, recovered as of then\n", rw.AttackTime.Local().Format("2006-01-02 15:04:05.000"))
	for _, r := range rw.Regions {
		var what string
		switch {
		case r.Error != "":
			what = "not surveyed: " + r.Error
		case !r.Versioned:
			what = "no object versions: all of it destroyed"
		case r.AppendOnly:
			what = fmt.Sprintf("append-only: %d objects, none destroyable", r.Objects)
		default:
			what = fmt.Sprintf("%d of %d objects destroyable (not retained)", r.Destroyable, r.Objects)
		}
		fmt.Fprintf(w, "\t%s: %s\n", r.Region, what)
	}
}
