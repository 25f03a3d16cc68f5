package repo

import (
	"context"
	"fmt"

	"lifeboat/engine/format"
	"lifeboat/storage"
)

// DrillPrefix is where drill and verification records live (FORMAT.md
// section 11): DrillPrefix + the hex SHA-256 of the sealed object.
const DrillPrefix = "drills/"

// DrillName is the object name of the drill record with the given ID.
func DrillName(id format.ID) string { return DrillPrefix + id.String() }

// SaveDrillRecord seals plain with the data key and stores it as
// drills/<SHA-256 of the sealed bytes>, like a snapshot, in every region of
// the storage. The record's content is the caller's (engine/drill defines
// it). An error wrapping regions.ErrQuorum means the record was stored in
// fewer regions than the write quorum, not necessarily in none.
func (r *Repository) SaveDrillRecord(ctx context.Context, plain []byte) (format.ID, error) {
	id, err := r.writeSealed(ctx, DrillName, plain, storage.PutOptions{})
	if err != nil {
		return id, fmt.Errorf("save drill record: %w", err)
	}
	return id, nil
}

// ListDrillRecords returns the IDs of the stored drill records, sorted. On
// a region set it lists every region (a record written while a region was
// down is still found).
func (r *Repository) ListDrillRecords(ctx context.Context) ([]format.ID, error) {
	return listIDs(ctx, r.st, DrillPrefix)
}

// LoadDrillRecord reads one drill record, checks its SHA-256 against id and
// opens it, failing over between regions; it returns the plaintext.
func (r *Repository) LoadDrillRecord(ctx context.Context, id format.ID) ([]byte, error) {
	return r.readVerified(ctx, DrillName(id), id)
}
