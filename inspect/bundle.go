package inspect

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"google.golang.org/protobuf/encoding/protowire"
)

// BundleSchemaVersion is the version of a bundle's manifest.
const BundleSchemaVersion = 1

// BundleKind tells a bundle's manifest from other JSON.
const BundleKind = "raftctl-bundle"

// BundleManifestName is the name of the bundle's header in the archive.
const BundleManifestName = "raftctl-bundle.json"

// redactMin is the shortest payload a bundle redacts: 8 bytes of hash and
// 4 bytes that keep the record's CRC.
const redactMin = 12

// maxBundleFile caps the size a bundle may restore a file to (a bundle is
// untrusted input).
const maxBundleFile = 1 << 40

// BundleManifest describes a bundle: a gzip-compressed tar archive of a
// PATH's groups (their wal/ and snap/ files), each file with its trailing
// zero bytes cut off (restored on extraction) and, unless WithData, every
// entry payload and .snap data of 12 bytes or more replaced by its hash:
//
//	payload (n >= 12 bytes)          redacted payload (n bytes)
//	+------------------------+       +-------------+-----------+---------+
//	| application bytes      |  -->  | xxh64 (8 B, | '.' * n-12| 4 bytes |
//	+------------------------+       | big-endian) |           | (CRC)   |
//	                                 +-------------+-----------+---------+
//
// The last 4 bytes are chosen so that the record's CRC-32C (and so the
// WAL's CRC chain, and a .snap file's CRC) is what it was: every byte
// outside the payloads, every offset and every size is the original's, so
// verify, groups, wal segments, snap list and compare judge the extracted
// bundle as they judge the directory (bar the consistent index of etcd's
// backend, snap/db, which a bundle without data leaves out).
type BundleManifest struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"`
	// Root is the name of the directory the archive's files are under
	// (the PATH's base name).
	Root     string `json:"root"`
	WithData bool   `json:"with_data"`
	// Created is when the bundle was written (RFC 3339, UTC).
	Created string       `json:"created"`
	Files   []BundleFile `json:"files"`
	// Dirs are the groups' wal and snap directories below Root (empty
	// ones included).
	Dirs []string `json:"dirs"`
	// Omitted lists files left out (snap/db without --with-data).
	Omitted []string `json:"omitted"`
}

// BundleFile is one file of a bundle.
type BundleFile struct {
	// Path is the file's path below Root, with slashes.
	Path string `json:"path"`
	// Size is the original size; Stored the bytes in the archive (the
	// rest were zeros).
	Size   int64 `json:"size"`
	Stored int64 `json:"stored"`
	// Redacted counts payloads replaced by their hash; Kept counts
	// payloads too short to redact (under 12 bytes).
	Redacted int64 `json:"redacted"`
	Kept     int64 `json:"kept_short"`
	// Unparsed is the number of bytes copied as they are because they do
	// not frame as records (damage): payloads there are not redacted.
	Unparsed int64 `json:"unparsed"`
}

// BundleOptions tune WriteBundle.
type BundleOptions struct {
	// WithData keeps payloads and snap/db as they are.
	WithData bool
	// Now stamps the manifest (time.Now when zero).
	Now time.Time
}

// WriteBundle writes the groups found under root (see Discover) as a
// bundle to w. It reads each file once, a file at a time (a segment is
// held in memory while it is redacted), and changes nothing.
func WriteBundle(ctx context.Context, w io.Writer, root string, groups []Group, opts BundleOptions) (*BundleManifest, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	m := newBundleManifest(root, opts.WithData, now)
	base := root
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		base = filepath.Dir(root)
	}
	names, err := bundleFileNames(m, base, groups)
	if err != nil {
		return nil, err
	}
	bw, err := newBundleWriter(w, now)
	if err != nil {
		return nil, err
	}
	if err := bw.writeJSON(BundleManifestName, bundleHeader{SchemaVersion: m.SchemaVersion, Kind: m.Kind, Root: m.Root, WithData: m.WithData, Created: m.Created}); err != nil {
		return nil, err
	}
	var buf []byte
	for _, p := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if buf, err = bw.addFile(m, base, p, buf); err != nil {
			return nil, err
		}
	}
	if err := bw.writeJSON(bundleFilesName, bundleFiles{Files: m.Files, Dirs: m.Dirs, Omitted: m.Omitted}); err != nil {
		return nil, err
	}
	if err := bw.close(); err != nil {
		return nil, err
	}
	return m, nil
}

// newBundleManifest returns the manifest of a bundle of root, its lists
// empty: Root is root's base name, or "data" when root has none.
func newBundleManifest(root string, withData bool, now time.Time) *BundleManifest {
	m := &BundleManifest{SchemaVersion: BundleSchemaVersion, Kind: BundleKind, Root: filepath.Base(filepath.Clean(root)), WithData: withData,
		Created: now.UTC().Format(time.RFC3339), Files: []BundleFile{}, Dirs: []string{}, Omitted: []string{}}
	if m.Root == "." || m.Root == "/" || m.Root == "" {
		m.Root = "data"
	}
	return m
}

// bundleFileNames lists, sorted and each once, the regular files in the
// groups' wal and snap directories, and adds those directories (below
// base, with slashes) to m.Dirs. A directory that does not exist is
// skipped; one outside base is an error.
func bundleFileNames(m *BundleManifest, base string, groups []Group) ([]string, error) {
	files := map[string]bool{}
	for _, g := range groups {
		for _, d := range []string{g.WALDir, g.SnapDir} {
			if d == "" {
				continue
			}
			des, err := os.ReadDir(d)
			if err != nil {
				if isNotExist(err) {
					continue
				}
				return nil, err
			}
			rel, err := bundleRel(base, d)
			if err != nil {
				return nil, err
			}
			if rel != "." {
				m.Dirs = append(m.Dirs, rel)
			}
			for _, de := range des {
				if de.Type().IsRegular() {
					files[filepath.Join(d, de.Name())] = true
				}
			}
		}
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	return names, nil
}

// bundleRel returns p's path below base, with slashes, or an error when
// p is not below base.
func bundleRel(base, p string) (string, error) {
	rel, err := filepath.Rel(base, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s is not below %s", p, base)
	}
	return filepath.ToSlash(rel), nil
}

// bundleWriter is the archive being written: a tar stream in a gzip
// stream, every entry stamped with the same time.
type bundleWriter struct {
	gz  *gzip.Writer
	tw  *tar.Writer
	now time.Time
}

// newBundleWriter starts the archive on w.
func newBundleWriter(w io.Writer, now time.Time) (*bundleWriter, error) {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	return &bundleWriter{gz: gz, tw: tar.NewWriter(gz), now: now.UTC()}, nil
}

// writeEntry writes one regular file of the archive.
func (bw *bundleWriter) writeEntry(name string, b []byte, pax map[string]string) error {
	h := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: bw.now, Typeflag: tar.TypeReg, Format: tar.FormatPAX, PAXRecords: pax}
	if err := bw.tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := bw.tw.Write(b)
	return err
}

// writeJSON writes v, indented, as the archive's file name.
func (bw *bundleWriter) writeJSON(name string, v any) error {
	j, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return bw.writeEntry(name, j, nil)
}

// addFile reads the file p (below base) into buf, redacts it unless
// m.WithData, and writes it without its zero tail under m.Root, its
// original size in the PAX record paxSize; it records the file in m.Files
// (or m.Omitted for snap/db without data). A file gone meanwhile (purged
// by a live server) is skipped. It returns the buffer to reuse.
func (bw *bundleWriter) addFile(m *BundleManifest, base, p string, buf []byte) ([]byte, error) {
	rel, err := bundleRel(base, p)
	if err != nil {
		return buf, err
	}
	if filepath.Base(p) == "db" && !m.WithData {
		m.Omitted = append(m.Omitted, rel)
		return buf, nil
	}
	// One file in memory at a time (a WAL segment is 64 MB), in one
	// buffer reused from file to file.
	b, err := readFileInto(p, buf)
	if err != nil {
		if isNotExist(err) {
			return buf, nil // purged by a live server meanwhile
		}
		return buf, err
	}
	bf := BundleFile{Path: rel, Size: int64(len(b))}
	if !m.WithData {
		redactFile(p, b, &bf)
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	bf.Stored = int64(end)
	m.Files = append(m.Files, bf)
	if err := bw.writeEntry(path.Join(m.Root, rel), b[:end], map[string]string{paxSize: strconv.FormatInt(bf.Size, 10)}); err != nil {
		return b[:0], err
	}
	return b[:0], nil
}

// redactFile redacts the bytes b of the file p in place, by its kind,
// and counts what it did in bf.
func redactFile(p string, b []byte, bf *BundleFile) {
	if strings.HasSuffix(p, ".snap") {
		bf.Redacted, bf.Kept = redactSnap(b)
		if bf.Redacted == 0 && bf.Kept == 0 {
			bf.Unparsed = int64(len(b))
		}
		return
	}
	// Segments, and anything else in wal/ and snap/.
	bf.Redacted, bf.Kept, bf.Unparsed = redactSegment(b)
}

// close ends the tar stream, then the gzip stream.
func (bw *bundleWriter) close() error {
	if err := bw.tw.Close(); err != nil {
		return err
	}
	return bw.gz.Close()
}

// readFileInto reads the file at p into buf's array when it is large
// enough.
func readFileInto(p string, buf []byte) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxBundleFile {
		return nil, fmt.Errorf("%s: %d bytes is too large", p, fi.Size())
	}
	n := int(fi.Size())
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	b := buf[:n]
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return b, nil
}

// The archive: raftctl-bundle.json (bundleHeader) first, then the files
// under Root, each with its original size in the PAX record
// RAFTCTL.size, then raftctl-bundle-files.json (bundleFiles).
const (
	bundleFilesName = "raftctl-bundle-files.json"
	paxSize         = "RAFTCTL.size"
)

type bundleHeader struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"`
	Root          string `json:"root"`
	WithData      bool   `json:"with_data"`
	Created       string `json:"created"`
}

type bundleFiles struct {
	Files   []BundleFile `json:"files"`
	Dirs    []string     `json:"dirs"`
	Omitted []string     `json:"omitted"`
}

// redactSegment replaces, in place, the payload of every entry record of
// a segment's bytes that frames as records, keeping every CRC. It returns
// the payloads redacted, those kept (too short) and the bytes it could not
// frame (from the first frame that does not parse to the zero tail).
func redactSegment(b []byte) (redacted, kept, unparsed int64) {
	off := 0
	for off+8 <= len(b) {
		word := binary.LittleEndian.Uint64(b[off:])
		if word == 0 {
			break
		}
		n := int64(word & 0x00ffffffffffffff)
		var pad int64
		if word>>63 == 1 {
			pad = int64((word >> 56) & 0x7)
		}
		if n <= 0 || n > int64(len(b)-off-8) {
			break
		}
		rec := b[off+8 : off+8+int(n)]
		typ, _, data, err := parseRecord(rec)
		if err != nil {
			break
		}
		if typ == entryRecord && len(data) > 0 {
			var e Entry
			if parseEntry(data, &e) == nil && len(e.Data) > 0 {
				if len(e.Data) >= redactMin {
					redactPayload(data, e.Data)
					redacted++
				} else {
					kept++
				}
			}
		}
		off += 8 + int(n) + int(pad)
	}
	rest := b[min(off, len(b)):]
	for k := len(rest) - 1; k >= 0; k-- {
		if rest[k] != 0 {
			unparsed = int64(k + 1)
			break
		}
	}
	return redacted, kept, unparsed
}

// redactSnap replaces, in place, the data of a .snap file's raftpb.Snapshot
// (snappb.Snapshot {1: crc, 2: data = raftpb.Snapshot {1: data, 2:
// metadata}}), keeping its CRC. It returns 1, 0 when it redacted, 0, 1 when
// the data is too short, and 0, 0 when the file does not parse.
func redactSnap(b []byte) (redacted, kept int64) {
	outer, ok := lastBytesField(b, 2)
	if !ok {
		return 0, 0
	}
	payload, ok := lastBytesField(outer, 1)
	if !ok {
		return 0, 0
	}
	switch {
	case len(payload) >= redactMin:
		redactPayload(outer, payload)
		return 1, 0
	case len(payload) > 0:
		return 0, 1
	}
	return 0, 0
}

// lastBytesField returns the value of the last bytes-typed field numbered
// want in the protobuf message msg (a slice of msg, nil when there is
// none), skipping every other field; ok is false when msg does not parse.
func lastBytesField(msg []byte, want protowire.Number) (v []byte, ok bool) {
	for rest := msg; len(rest) > 0; {
		num, typ, n, err := consumeTag(rest)
		if err != nil {
			return nil, false
		}
		rest = rest[n:]
		if num == want && typ == protowire.BytesType {
			f, m := protowire.ConsumeBytes(rest)
			if m < 0 {
				return nil, false
			}
			v = f
			rest = rest[m:]
			continue
		}
		m, err := skipField(num, typ, rest)
		if err != nil {
			return nil, false
		}
		rest = rest[m:]
	}
	return v, true
}

// redactPayload overwrites payload, a part of msg, with its xxhash64, dots
// and 4 bytes chosen so that the CRC-32C of msg is unchanged. CRC-32C is
// affine: for messages of one length, crc(p, x) ^ crc(p, x') does not
// depend on the initial value p, so a record keeps its CRC, and the CRC
// chain after it is the same, whatever precedes it.
func redactPayload(msg, payload []byte) {
	// payload's offset in msg (both slice the same array, and payload
	// runs to msg's end or before).
	start := cap(msg) - cap(payload)
	end := start + len(payload)
	want := crc32.Update(0, crcTable, msg[:end])
	h := xxhash.Sum64(payload)
	binary.BigEndian.PutUint64(payload[:8], h)
	for k := 8; k < len(payload)-4; k++ {
		payload[k] = '.'
	}
	s := crc32.Update(0, crcTable, msg[:end-4])
	patch := forgeCRC(s, want)
	copy(payload[len(payload)-4:], patch[:])
}

// forgeCRC returns the 4 bytes b with crc32.Update(s, crcTable, b) == t.
// Working on the register (the complement of Go's CRC values), the last
// four bytes' table entries are fixed by t alone: the i-th byte's entry is
// the one whose top byte matches what remains of t; then each byte is
// chosen to select its entry from the register that s leads to.
func forgeCRC(s, t uint32) [4]byte {
	var top [256]byte
	for k := 0; k < 256; k++ {
		top[crcTable[k]>>24] = byte(k)
	}
	var idx [4]byte
	r := ^t
	for i := 3; i >= 0; i-- {
		k := top[r>>24]
		idx[i] = k
		r = (r ^ crcTable[k]) << 8
	}
	var out [4]byte
	reg := ^s
	for i := 0; i < 4; i++ {
		out[i] = byte(reg) ^ idx[i]
		reg = crcTable[idx[i]] ^ (reg >> 8)
	}
	return out
}

// ReadBundleManifest reads a bundle's header (its first file): what the
// manifest holds but the file list, which ExtractBundle reads at the end.
func ReadBundleManifest(r io.Reader) (*BundleManifest, *tar.Reader, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("not a raftctl bundle (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	h, err := tr.Next()
	if err != nil {
		return nil, nil, fmt.Errorf("not a raftctl bundle (tar): %w", err)
	}
	if h.Name != BundleManifestName || h.Size > 1<<20 {
		return nil, nil, errors.New("not a raftctl bundle (no " + BundleManifestName + " first)")
	}
	var hd bundleHeader
	if err := json.NewDecoder(io.LimitReader(tr, h.Size)).Decode(&hd); err != nil {
		return nil, nil, fmt.Errorf("not a raftctl bundle: %w", err)
	}
	if hd.Kind != BundleKind || hd.SchemaVersion < 1 || hd.SchemaVersion > BundleSchemaVersion {
		return nil, nil, fmt.Errorf("not a raftctl bundle this version reads (kind %q, schema_version %d)", hd.Kind, hd.SchemaVersion)
	}
	if !validBundlePath(hd.Root) || strings.Contains(hd.Root, "/") {
		return nil, nil, fmt.Errorf("bundle root %q is not a plain name", hd.Root)
	}
	m := &BundleManifest{SchemaVersion: hd.SchemaVersion, Kind: hd.Kind, Root: hd.Root, WithData: hd.WithData, Created: hd.Created}
	return m, tr, nil
}

func validBundlePath(p string) bool {
	if p == "" || path.IsAbs(p) || strings.Contains(p, "\\") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// ExtractBundle restores a bundle under dir: dir/<root>/... holds the
// files as they were (their zero tails restored, sparse; payloads as the
// bundle holds them). It returns the manifest and the restored root. It
// refuses paths outside the root, files twice or not in the file list,
// and sizes above 1 TiB; it never overwrites a file.
func ExtractBundle(ctx context.Context, r io.Reader, dir string) (*BundleManifest, string, error) {
	m, tr, err := ReadBundleManifest(r)
	if err != nil {
		return nil, "", err
	}
	root := filepath.Join(dir, m.Root)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, "", err
	}
	got, list, err := extractBundleFiles(ctx, tr, m.Root, root)
	if err != nil {
		return nil, "", err
	}
	if err := checkBundleList(list, got); err != nil {
		return nil, "", err
	}
	for _, d := range list.Dirs {
		if !validBundlePath(d) {
			return nil, "", fmt.Errorf("bundle: bad directory entry %q", d)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o700); err != nil {
			return nil, "", err
		}
	}
	m.Files, m.Dirs, m.Omitted = list.Files, list.Dirs, list.Omitted
	if !m.WithData {
		// Mark the tree: its payloads are hashes (RestoredWithoutData).
		if err := writeBundleMarker(root, m); err != nil {
			return nil, "", err
		}
	}
	return m, root, nil
}

// extracted is what a bundle's archive held for one file: the bytes
// stored and the size restored.
type extracted struct{ stored, size int64 }

// extractBundleFiles restores every file of the archive after its header
// under root (the archive's name for it is name/<path>) and reads the
// file list at its end. It returns what it restored by path and the list,
// or an error for an entry outside name/, a path twice, a bad size, an
// entry after the list, or no list at all.
func extractBundleFiles(ctx context.Context, tr *tar.Reader, name, root string) (map[string]extracted, *bundleFiles, error) {
	got := map[string]extracted{} // by path below root
	var list *bundleFiles
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: %w", err)
		}
		if list != nil {
			return nil, nil, fmt.Errorf("bundle: %s after the file list", h.Name)
		}
		if h.Name == bundleFilesName {
			if list, err = readBundleList(tr, h); err != nil {
				return nil, nil, err
			}
			continue
		}
		rel, ok := strings.CutPrefix(h.Name, name+"/")
		if !ok || !validBundlePath(rel) || h.Typeflag != tar.TypeReg {
			return nil, nil, fmt.Errorf("bundle: unexpected entry %q", h.Name)
		}
		if _, dup := got[rel]; dup {
			return nil, nil, fmt.Errorf("bundle: %s twice", h.Name)
		}
		size, err := strconv.ParseInt(h.PAXRecords[paxSize], 10, 64)
		if err != nil || size < h.Size || size > maxBundleFile {
			return nil, nil, fmt.Errorf("bundle: %s: bad size %q", h.Name, h.PAXRecords[paxSize])
		}
		got[rel] = extracted{stored: h.Size, size: size}
		if err := extractBundleFile(tr, h.Size, size, filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			return nil, nil, err
		}
	}
	if list == nil {
		return nil, nil, errors.New("bundle: no file list (a truncated archive?)")
	}
	return got, list, nil
}

// readBundleList decodes the file list, the archive entry h (at most
// 256 MiB).
func readBundleList(tr *tar.Reader, h *tar.Header) (*bundleFiles, error) {
	if h.Size > 256<<20 {
		return nil, errors.New("bundle: file list too large")
	}
	list := &bundleFiles{}
	if err := json.NewDecoder(io.LimitReader(tr, h.Size)).Decode(list); err != nil {
		return nil, fmt.Errorf("bundle: file list: %w", err)
	}
	return list, nil
}

// extractBundleFile creates the file p (never over an existing one) with
// the next stored bytes of tr, then extends it to size (a sparse zero
// tail).
func extractBundleFile(tr *tar.Reader, stored, size int64, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.LimitReader(tr, stored))
	if err == nil {
		err = out.Truncate(size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkBundleList checks that the files restored are exactly those of
// the list, with its sizes.
func checkBundleList(list *bundleFiles, got map[string]extracted) error {
	if len(list.Files) != len(got) {
		return fmt.Errorf("bundle: %d files, the list names %d", len(got), len(list.Files))
	}
	for _, f := range list.Files {
		if g, ok := got[f.Path]; !ok || g.stored != f.Stored || g.size != f.Size {
			return fmt.Errorf("bundle: %s does not match the file list", f.Path)
		}
	}
	return nil
}

// writeBundleMarker writes the manifest m as root's BundleMarkerName.
func writeBundleMarker(root string, m *BundleManifest) error {
	j, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, BundleMarkerName), append(j, '\n'), 0o600)
}

// BundleMarkerName is the file ExtractBundle leaves at the root of a tree
// restored from a bundle without data: the manifest.
const BundleMarkerName = ".raftctl-bundle.json"

// RestoredWithoutData reports whether dir lies in a tree ExtractBundle
// restored from a bundle without data (a BundleMarkerName file in dir or
// one of its parents, up to 8 levels): its payloads are their hashes.
func RestoredWithoutData(dir string) bool {
	d, err := filepath.Abs(dir)
	if err != nil {
		d = filepath.Clean(dir)
	}
	for k := 0; k < 8; k++ {
		if b, err := os.ReadFile(filepath.Join(d, BundleMarkerName)); err == nil {
			var m struct {
				Kind     string `json:"kind"`
				WithData bool   `json:"with_data"`
			}
			return json.Unmarshal(b, &m) == nil && m.Kind == BundleKind && !m.WithData
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return false
}

// IsBundleName reports whether a path names a bundle by its extension.
func IsBundleName(p string) bool {
	return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
}
