package legacytest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Manifest is what a generated directory holds, record by record, in
// reading order: the oracle a migration is checked against.
type Manifest struct {
	// Files are the files written, in reading order (rotated files by end
	// timestamp, then the current file), with the records each holds.
	Files []ManifestFile `json:"files"`
	// Count and Bytes are the number and size of the complete records.
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
	// TornBytes is the size of the torn record at the end, if any.
	TornBytes int `json:"torn_bytes"`
}

// ManifestFile is one file of a [Manifest].
type ManifestFile struct {
	Name    string           `json:"name"`
	Records []ManifestRecord `json:"records"`
}

// ManifestRecord is one complete record: its header ts and hash, and the
// SHA-256 of its bytes (header and payload).
type ManifestRecord struct {
	TS     int64  `json:"ts"`
	Hash   uint32 `json:"hash"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

func manifestRecord(rec []byte) ManifestRecord {
	sum := sha256.Sum256(rec)
	return ManifestRecord{
		TS:     int64(binary.LittleEndian.Uint64(rec[0:8])),
		Hash:   binary.LittleEndian.Uint32(rec[8:12]),
		Size:   len(rec),
		SHA256: hex.EncodeToString(sum[:]),
	}
}

// Records returns the records of every file in order, leaving out the
// files named in without.
func (m *Manifest) Records(without ...string) []ManifestRecord {
	var out []ManifestRecord
	for _, f := range m.Files {
		if !slices.Contains(without, f.Name) {
			out = append(out, f.Records...)
		}
	}
	return out
}

// Rotated returns the name of the i-th rotated file (0 = the first read).
func (m *Manifest) Rotated(i int) (string, error) {
	var rotated []string
	for _, f := range m.Files {
		if !isCurrent(f.Name) {
			rotated = append(rotated, f.Name)
		}
	}
	if i < 0 || i >= len(rotated) {
		return "", fmt.Errorf("legacytest: rotated file %d of %d", i, len(rotated))
	}
	return rotated[i], nil
}

func isCurrent(name string) bool { return strings.HasSuffix(name, "-current.log") }

// sortFiles puts the files in reading order: rotated files by the end
// timestamp in their name, then the current file.
func (m *Manifest) sortFiles(prefix string) {
	endTS := func(name string) int64 {
		ts, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, prefix+"-"), ".log"), 16, 64)
		return ts
	}
	sort.SliceStable(m.Files, func(i, j int) bool {
		a, b := m.Files[i].Name, m.Files[j].Name
		if ca, cb := isCurrent(a), isCurrent(b); ca != cb {
			return cb
		}
		if ta, tb := endTS(a), endTS(b); ta != tb {
			return ta < tb
		}
		return a < b
	})
}

// WriteFile writes m as JSON.
func (m *Manifest) WriteFile(path string) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadManifest reads a manifest written by [Manifest.WriteFile].
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("legacytest: %s: %w", path, err)
	}
	return m, nil
}

// ChecksumOf is migrate's Result.Checksum over entry data: xxHash64 over
// each datum preceded by its length as a little-endian uint32.
func ChecksumOf(data [][]byte) string {
	h := xxhash.New()
	var l [4]byte
	for _, d := range data {
		binary.LittleEndian.PutUint32(l[:], uint32(len(d)))
		h.Write(l[:])
		h.Write(d)
	}
	return fmt.Sprintf("xxh64:%016x", h.Sum64())
}
