package formatv4

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrFormat marks stored data that does not decode: corrupt, truncated, of
// an unknown version, or hostile.
var ErrFormat = errors.New("malformed repository data")

// ErrNewerVersion marks stored data that a newer Lifeboat wrote and this
// one does not understand: a config or snapshot of a higher format version,
// a tree field that must be understood. It is not ErrFormat: the data is
// not damaged, and a newer release reads it.
var ErrNewerVersion = errors.New("written by a newer version of lifeboat; upgrade lifeboat")

// decodeJSON strictly decodes one JSON value from data into v: unknown
// fields and trailing data are errors, and so is input above maxSize.
func decodeJSON(what string, data []byte, maxSize int, v any) error {
	if len(data) > maxSize {
		return fmt.Errorf("decode %s: %d bytes exceeds the %d byte limit: %w", what, len(data), maxSize, ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w: %w", what, ErrFormat, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode %s: trailing data: %w", what, ErrFormat)
	}
	return nil
}

func formatErr(what, msg string, args ...any) error {
	return fmt.Errorf("decode %s: %s: %w", what, fmt.Sprintf(msg, args...), ErrFormat)
}
