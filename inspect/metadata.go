package inspect

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/encoding/protowire"
)

// Metadata is what etcd writes in the metadata record at the head of every
// WAL segment: a marshalled etcdserverpb.Metadata.
//
//	etcdserverpb.Metadata
//	+-------------------------+--------------------------+
//	| 1: NodeID uint64 varint | 2: ClusterID uint64 varint |
//	+-------------------------+--------------------------+
//
// Other raft users write other bytes (or none): OK is false then.
type Metadata struct {
	NodeID    uint64
	ClusterID uint64
	// OK is true when the bytes decode as etcdserverpb.Metadata with both
	// IDs set.
	OK bool
}

// ParseMetadata decodes a WAL metadata record's data as
// etcdserverpb.Metadata. It never fails: bytes that are not etcd's
// metadata give a Metadata with OK false.
func ParseMetadata(b []byte) Metadata {
	var m Metadata
	var haveNode, haveCluster bool
	for len(b) > 0 {
		num, typ, n, err := consumeTag(b)
		if err != nil {
			return Metadata{}
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.VarintType {
			v, k := protowire.ConsumeVarint(b)
			if k < 0 {
				return Metadata{}
			}
			if num == 1 {
				m.NodeID, haveNode = v, true
			} else {
				m.ClusterID, haveCluster = v, true
			}
			b = b[k:]
			continue
		}
		k, err := skipField(num, typ, b)
		if err != nil {
			return Metadata{}
		}
		b = b[k:]
	}
	m.OK = haveNode && haveCluster && m.ClusterID != 0
	return m
}

// FormatID prints a member or cluster ID as etcd does (types.ID.String:
// lower-case hex without leading zeros); "" for 0.
func FormatID(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 16)
}

// Backend is what an etcd member's backend database (snap/db, bbolt) says
// about how far it applied the log: the "meta" bucket's consistent_index
// and term.
type Backend struct {
	// Path is the database file.
	Path string `json:"path"`
	// ConsistentIndex is the index of the last entry applied to the
	// database; Term its term (0 when etcd did not record it).
	ConsistentIndex uint64 `json:"consistent_index"`
	Term            uint64 `json:"term"`
	// Err says why the database could not be read ("" when it was).
	Err string `json:"error,omitempty"`
}

// backendOpenTimeout bounds the wait for bbolt's shared file lock: a live
// etcd holds an exclusive one, and raftctl does not wait for it.
const backendOpenTimeout = 100 * time.Millisecond

// ReadBackend reads the consistent index from the bbolt database at
// snapDir/db, read-only (bbolt takes a shared flock for the moment it
// reads; it gives up after 100ms when a live member holds the database).
// It returns nil when there is no such file (not an etcd member); a file
// that cannot be read yields a Backend with Err set.
func ReadBackend(snapDir string) *Backend {
	if snapDir == "" {
		return nil
	}
	p := filepath.Join(snapDir, "db")
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	b := &Backend{Path: p}
	if err != nil {
		b.Err = err.Error()
		return b
	}
	if !fi.Mode().IsRegular() {
		b.Err = "not a regular file"
		return b
	}
	db, err := bolt.Open(p, 0o400, &bolt.Options{ReadOnly: true, Timeout: backendOpenTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			b.Err = "in use by a live process"
		} else {
			b.Err = err.Error()
		}
		return b
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if meta == nil {
			return errors.New("no meta bucket")
		}
		v := meta.Get([]byte("consistent_index"))
		if len(v) != 8 {
			return fmt.Errorf("consistent_index is %d bytes, want 8", len(v))
		}
		b.ConsistentIndex = binary.BigEndian.Uint64(v)
		if t := meta.Get([]byte("term")); len(t) == 8 {
			b.Term = binary.BigEndian.Uint64(t)
		}
		return nil
	})
	if err != nil {
		b.Err = err.Error()
	}
	return b
}
