package commitlog

import (
	"encoding/binary"
	"fmt"
)

// EntryData is the decoded data of a Raft entry written by a commit-log
// migration: a whole legacy record (data mode "record", the default), or a
// payload alone (data mode "payload": no timestamp, no hash).
type EntryData struct {
	// HasHeader is true when the data is a whole record; TS and Hash are
	// its header's then.
	HasHeader bool
	TS        int64
	Hash      uint32
	Posting   Posting
}

// DecodeEntryData decodes the data of a migrated entry. Data whose first 16
// bytes are a record header announcing exactly the bytes that follow, and
// whose rest is a posting, is a record; otherwise the whole data must be a
// posting. Anything else is an error wrapping ErrInvalidPosting. The
// returned Posting.Value aliases data.
//
//	record:   ts i64 LE | hash u32 LE | size i32 LE | payload (size bytes)
//	payload:  payload
func DecodeEntryData(data []byte) (EntryData, error) {
	if len(data) > HeaderSize {
		size := int32(binary.LittleEndian.Uint32(data[12:16]))
		if int64(size) == int64(len(data)-HeaderSize) {
			if p, err := DecodePosting(data[HeaderSize:]); err == nil {
				return EntryData{
					HasHeader: true,
					TS:        int64(binary.LittleEndian.Uint64(data[0:8])),
					Hash:      binary.LittleEndian.Uint32(data[8:12]),
					Posting:   p,
				}, nil
			}
		}
	}
	p, err := DecodePosting(data)
	if err != nil {
		return EntryData{}, fmt.Errorf("neither a legacy record nor a posting: %w", err)
	}
	return EntryData{Posting: p}, nil
}
