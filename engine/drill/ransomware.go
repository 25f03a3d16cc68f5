package drill

import (
	"fmt"
	"time"
)

// Ransomware is the simulated attack of a ransomware drill
// (Options.Ransomware): at AttackTime an attacker holding this host's
// credentials removes every object version those credentials may remove
// (every version not retained by object lock, or none when the
// credentials may not delete), and overwrites or deletes the rest (new
// versions and delete markers, invisible as of AttackTime). The caller
// opens each region as of AttackTime with only the surviving versions
// and counts here what the attack destroys; the drill then restores and
// verifies as usual, so it passes only when the repository survives the
// attack. Nothing is destroyed for real.
type Ransomware struct {
	// AttackTime is when the simulated attack starts; the drill recovers
	// as of it.
	AttackTime time.Time `json:"attack_time"`
	// Regions are the drilled regions, in configuration order.
	Regions []RansomwareRegion `json:"regions"`
}

// RansomwareRegion is what the simulated attack destroys in one region.
type RansomwareRegion struct {
	Region string `json:"region"`
	// Versioned is false when the region keeps no object versions: the
	// attacker's deletes and overwrites destroy all of it, and the drill
	// reads nothing from it.
	Versioned bool `json:"versioned"`
	// AppendOnly is true when this host may not delete in the region, so
	// no version can be removed.
	AppendOnly bool `json:"append_only,omitempty"`
	// Objects counts the objects that existed at AttackTime; Destroyable
	// those whose version then the attacker could remove (not retained),
	// which the drill treats as lost. Examples names a few of them.
	Objects     int      `json:"objects"`
	Destroyable int      `json:"destroyable"`
	Examples    []string `json:"examples,omitempty"`
	// Error is why the region's versions could not be read.
	Error string `json:"error,omitempty"`
}

// ransomwareWarnings describes what the simulated attack destroys.
func ransomwareWarnings(rw *Ransomware) []string {
	if rw == nil {
		return nil
	}
	var out []string
	for _, r := range rw.Regions {
		switch {
		case r.Error != "":
			out = append(out, fmt.Sprintf("ransomware: region %s could not be read as of the attack: %s", r.Region, r.Error))
		case !r.Versioned:
			out = append(out, fmt.Sprintf("ransomware: region %s keeps no object versions: an attacker with this host's credentials destroys all of it (enable versioning and object_lock on its bucket)", r.Region))
		case r.Destroyable > 0:
			ex := ""
			if len(r.Examples) > 0 {
				ex = " (first: " + r.Examples[0] + ")"
			}
			out = append(out, fmt.Sprintf("ransomware: in region %s, %d of %d objects could be destroyed by this host's credentials: not retained by object lock%s", r.Region, r.Destroyable, r.Objects, ex))
		}
	}
	return out
}
