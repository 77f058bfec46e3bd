package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/raftctl/raftctl/testdata/fixture"
)

func TestForgeCRC(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for k := 0; k < 1000; k++ {
		s, want := rng.Uint32(), rng.Uint32()
		b := forgeCRC(s, want)
		if got := crc32.Update(s, crcTable, b[:]); got != want {
			t.Fatalf("forgeCRC(%#x, %#x) = %x: crc %#x", s, want, b, got)
		}
	}
}

// bundleRoundTrip bundles server, restores it, and returns the restored
// root and the manifest.
func bundleRoundTrip(t *testing.T, server string, withData bool) (string, *BundleManifest, int) {
	t.Helper()
	gs, err := Discover([]string{server}, DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := WriteBundle(context.Background(), &buf, server, gs, BundleOptions{WithData: withData})
	if err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	m2, root, err := ExtractBundle(context.Background(), &buf, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Files) != len(m.Files) {
		t.Fatalf("manifest %+v, read back %+v", m, m2)
	}
	return root, m2, n
}

// sameJSON marshals a and b, replaces the directory prefixes, and
// compares.
func sameJSON(t *testing.T, what string, a, b any, dirA, dirB string) {
	t.Helper()
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if !bytes.Equal(ja, bytes.ReplaceAll(jb, []byte(dirB), []byte(dirA))) {
		t.Fatalf("%s differs on the bundle:\n%s\n----\n%s", what, ja, jb)
	}
}

// TestBundleRoundTrip: a bundle of a RawNode cluster's member (snapshots,
// several segments) and of damaged copies, restored, gives the same verify
// report, group summary, segment inventory, snapshot list and content
// hashes' shape as the directory; payloads are their hash; the bundle is a
// fraction of the directory.
func TestBundleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := fixture.RaftCluster(filepath.Join(dir, "c"), fixture.ClusterOptions{Groups: 2, EntrySize: 512}); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(dir, "c", "node-1")
	dmg := filepath.Join(dir, "damaged", "node-1")
	if err := fixture.CopyDir(node, dmg); err != nil {
		t.Fatal(err)
	}
	// A flipped byte in the middle of a segment with entries after it.
	walDir := filepath.Join(dmg, "group-1", "wal")
	segs1, err := fixture.WALSegments(walDir)
	if err != nil {
		t.Fatal(err)
	}
	flipped := false
	for _, s := range segs1 {
		recs, err := fixture.EntryRecords(filepath.Join(walDir, s))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= 3 {
			if err := fixture.FlipByte(filepath.Join(walDir, s), recs[1].Offset+20); err != nil {
				t.Fatal(err)
			}
			flipped = true
			break
		}
	}
	if !flipped {
		t.Fatal("no segment with 3 entries")
	}
	segs2, err := fixture.WALSegments(filepath.Join(dmg, "group-2", "wal"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Truncate(filepath.Join(dmg, "group-2", "wal", segs2[0]), 3000); err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{node, dmg} {
		root, m, n := bundleRoundTrip(t, server, false)
		size, err := fixture.TreeSize(server)
		if err != nil {
			t.Fatal(err)
		}
		if int64(n)*4 > size {
			t.Errorf("bundle of %d bytes for %d bytes of data", n, size)
		}
		gsA, _ := Discover([]string{server}, DiscoverOptions{})
		gsB, err := Discover([]string{root}, DiscoverOptions{})
		if err != nil || len(gsA) != len(gsB) {
			t.Fatalf("groups %v, restored %v (%v)", gsA, gsB, err)
		}
		var redacted int64
		for _, f := range m.Files {
			redacted += f.Redacted
		}
		if redacted == 0 {
			t.Fatalf("nothing redacted: %+v", m)
		}
		for k := range gsA {
			a, b := gsA[k], gsB[k]
			ra, _ := Verify(t.Context(), a, VerifyOptions{NoLockCheck: true})
			rb, _ := Verify(t.Context(), b, VerifyOptions{NoLockCheck: true})
			sameJSON(t, "verify "+a.Name, ra, rb, server, root)
			t.Logf("%s %s: bundle %d bytes of %d, verify %s %v", server, a.Name, n, size, ra.Status, ra.Codes())
			if server == dmg && a.Name == "group-1" && ra.Status != StatusError {
				t.Fatalf("%s: the damage was not found: %v", a.Name, ra.Codes())
			}
			sa, err1 := Summarize(t.Context(), a)
			sb, err2 := Summarize(t.Context(), b)
			if (err1 == nil) != (err2 == nil) {
				t.Fatalf("summarize: %v, restored %v", err1, err2)
			}
			if err1 == nil {
				sameJSON(t, "groups "+a.Name, sa, sb, server, root)
				sameJSON(t, "segments "+a.Name, sa.Log.Segments, sb.Log.Segments, server, root)
			}
			fa, _ := ListSnapFiles(a.SnapDir)
			fb, _ := ListSnapFiles(b.SnapDir)
			sameJSON(t, "snap list "+a.Name, fa, fb, server, root)
			ha, _, _ := summarizeGroup(t.Context(), a, DefaultHashRange, VerifyOptions{NoLockCheck: true})
			hb, _, _ := summarizeGroup(t.Context(), b, DefaultHashRange, VerifyOptions{NoLockCheck: true})
			if !equalRuns(ha.TermRuns, hb.TermRuns) {
				t.Fatalf("%s: term runs differ", a.Name)
			}
			// The content hashes are the original's: a restored bundle
			// compares with the other replicas as the directory does.
			sameJSON(t, "hashes "+a.Name, ha.Hashes, hb.Hashes, server, root)
			if len(ha.Hashes) == 0 {
				t.Fatalf("%s: no hashes", a.Name)
			}
			if err1 != nil || server == dmg {
				continue
			}
			// Each payload is its hash: the same length, the original's
			// xxhash64 in front.
			orig := map[uint64][]byte{}
			if err := EffectiveEntries(t.Context(), sa.SegmentList, sa.Log, func(e *Entry, _ *Record) error {
				orig[e.Index] = bytes.Clone(e.Data)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			n := 0
			if err := EffectiveEntries(t.Context(), sb.SegmentList, sb.Log, func(e *Entry, _ *Record) error {
				o := orig[e.Index]
				switch {
				case len(o) != len(e.Data):
					t.Fatalf("entry %d: %d bytes, was %d", e.Index, len(e.Data), len(o))
				case len(o) >= redactMin && binary.BigEndian.Uint64(e.Data) != xxhash.Sum64(o):
					t.Fatalf("entry %d: not its hash", e.Index)
				case len(o) >= redactMin:
					n++
					if bytes.Equal(o, e.Data) {
						t.Fatalf("entry %d kept", e.Index)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("no payload redacted")
			}
		}
	}
}

func equalRuns(a, b []TermRun) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// TestBundleWithDataIsExact: with --with-data the restored files are the
// originals, byte for byte.
func TestBundleWithDataIsExact(t *testing.T) {
	dir := t.TempDir()
	if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(dir, "g"), Entries: 300, SnapshotEvery: 100, SegmentSize: 16 * 1024}); err != nil {
		t.Fatal(err)
	}
	root, _, _ := bundleRoundTrip(t, dir, true)
	diff, err := fixture.DiffTrees(dir, root)
	if err != nil || len(diff) != 0 {
		t.Fatalf("restored tree differs: %v %v", diff, err)
	}
}

// TestExtractBundleRefuses archives that are not bundles or escape DIR.
func TestExtractBundleRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, in := range [][]byte{[]byte("plain text"), {0x1f, 0x8b, 0, 0}} {
		if _, _, err := ExtractBundle(context.Background(), bytes.NewReader(in), dir); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
	for _, p := range []string{"../x", "/abs", "a/../../b", ""} {
		if validBundlePath(p) {
			t.Errorf("%q accepted", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "no such") {
		t.Errorf("something was written: %v", err)
	}
}

// FuzzExtractBundle: any bytes either extract below DIR or are refused;
// nothing is written outside DIR and nothing panics.
func FuzzExtractBundle(f *testing.F) {
	dir := f.TempDir()
	if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(dir, "g"), Entries: 20, SegmentSize: 4096}); err != nil {
		f.Fatal(err)
	}
	gs, err := Discover([]string{dir}, DiscoverOptions{})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := WriteBundle(context.Background(), &buf, dir, gs, BundleOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		out := t.TempDir()
		_, root, err := ExtractBundle(context.Background(), bytes.NewReader(b), filepath.Join(out, "x"))
		if err == nil && !strings.HasPrefix(root, filepath.Join(out, "x")+string(filepath.Separator)) {
			t.Fatalf("restored to %s, outside %s", root, out)
		}
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if e.Name() != "x" {
				t.Fatalf("wrote %s outside DIR", e.Name())
			}
		}
	})
}

// FuzzRedactSegment: redaction of any bytes keeps their length and their
// CRC-32C framing (it only touches payloads it could parse) and never
// panics.
func FuzzRedactSegment(f *testing.F) {
	dir := f.TempDir()
	if _, err := fixture.WriteGroup(fixture.GroupSpec{Dir: filepath.Join(dir, "g"), Entries: 20, SegmentSize: 4096}); err != nil {
		f.Fatal(err)
	}
	segs, _ := fixture.WALSegments(filepath.Join(dir, "g", "wal"))
	for _, s := range segs {
		b, err := os.ReadFile(filepath.Join(dir, "g", "wal", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := bytes.Clone(b)
		redactSegment(c)
		redactSnap(bytes.Clone(b))
		if len(c) != len(b) {
			t.Fatal("length changed")
		}
	})
}

// TestLastBytesField: redactSnap's field walk takes the last bytes field
// of the number asked for, skips the others (of any wire type), reads an
// absent field as nil, and refuses what does not parse.
func TestLastBytesField(t *testing.T) {
	msg := protowire.AppendTag(nil, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 300)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte("first"))
	msg = protowire.AppendTag(msg, 3, protowire.Fixed64Type)
	msg = protowire.AppendFixed64(msg, 7)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte("last"))
	if v, ok := lastBytesField(msg, 2); !ok || string(v) != "last" {
		t.Errorf("field 2: %q, %v; want \"last\", true", v, ok)
	}
	if v, ok := lastBytesField(msg, 4); !ok || v != nil {
		t.Errorf("absent field 4: %q, %v; want nil, true", v, ok)
	}
	if v, ok := lastBytesField(msg, 1); !ok || v != nil {
		t.Errorf("field 1 is a varint, not bytes: %q, %v; want nil, true", v, ok)
	}
	if _, ok := lastBytesField(msg[:len(msg)-2], 2); ok {
		t.Error("a truncated message parses")
	}
	// The value is a slice of msg: redactPayload writes through it.
	v, _ := lastBytesField(msg, 2)
	v[0] = 'L'
	if !bytes.Contains(msg, []byte("Last")) {
		t.Error("the value does not alias the message")
	}
}
