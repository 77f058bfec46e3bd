package crashstate

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// hexq renders s the way strace -xx prints a string argument.
func hexq(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "\\x%02x", s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// A hand-written trace in strace's format: a directory and a file are
// created and synced, the file is appended to (one write torn across
// sectors), a second file is created and renamed, an ACK is printed.
func syntheticTrace() string {
	big := strings.Repeat("B", 1100) // covers sectors 0..2 from offset 10
	lines := []string{
		`100 mkdirat(AT_FDCWD, ` + hexq("/r/d") + `, 0755) = 0`,
		`100 openat(AT_FDCWD, ` + hexq("/r/d/f") + `, O_WRONLY|O_CREAT|O_CLOEXEC, 0600) = 5`,
		`100 write(5, ` + hexq("0123456789") + `, 10) = 10`,
		`100 fsync(5) = 0`,
		`101 openat(AT_FDCWD, ` + hexq("/outside") + `, O_RDONLY) = 6`,
		`101 write(6, ` + hexq("ignored") + `, 7) = 7`,
		`100 write(5, ` + hexq(big) + ` <unfinished ...>`,
		`101 close(6) = 0`,
		`100 <... write resumed>, 1100) = 1100`,
		`100 --- SIGURG {si_signo=SIGURG} ---`,
		`100 openat(AT_FDCWD, ` + hexq("/r/d/t.tmp") + `, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 7`,
		`100 fallocate(7, 0, 0, 64) = 0`,
		`100 renameat(AT_FDCWD, ` + hexq("/r/d/t.tmp") + `, AT_FDCWD, ` + hexq("/r/d/t") + `) = 0`,
		`100 write(2, ` + hexq("ACK node=1 commit=3 term=2 vote=1 last=4 lastterm=2 snap=0\n") + `, 59) = 59`,
		`100 unlinkat(AT_FDCWD, ` + hexq("/r/d/missing") + `, 0) = -1 ENOENT (No such file or directory)`,
		`100 lseek(5, 0, SEEK_CUR) = 1110`,
		`100 ftruncate(5, 1110) = 0`,
		`100 +++ exited with 0 +++`,
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestParseTrace(t *testing.T) {
	ops, err := parseTrace(strings.NewReader(syntheticTrace()), "/r")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range ops {
		kinds = append(kinds, o.kind.String())
	}
	want := []string{"mkdir", "create", "write", "sync", "write", "create", "extend", "rename", "ack", "truncate"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("ops %v, want %v", kinds, want)
	}
	if o := ops[4]; o.off != 10 || len(o.data) != 1100 || o.data[0] != 'B' {
		t.Fatalf("second write at %d, %d bytes", o.off, len(o.data))
	}
	if o := ops[7]; o.path != "d/t.tmp" || o.path2 != "d/t" {
		t.Fatalf("rename %+v", o)
	}
	if a := ops[8].ack; a.node != 1 || a.commit != 3 || a.term != 2 || a.last != 4 {
		t.Fatalf("ack %+v", a)
	}
	if !ops[3].meta {
		t.Fatal("fsync must commit the journal")
	}

	open := `100 openat(AT_FDCWD, ` + hexq("/r/f") + `, O_WRONLY|O_CREAT, 0600) = 5` + "\n"
	for _, bad := range []string{
		`100 write(5, "\x41"..., 10) = 10`, // cut short by strace -s
		`100 write(5, "\x41", 10) = 10`,
		`100 openat(AT_FDCWD, ` + hexq("/r/x") + `, O_RDONLY) = 6`, // a file the model does not know
		`100 <... write resumed>) = 1`,
		`100 writev(5, [{iov_base="\x41", iov_len=1}], 1) = 1`,
		`100 dup(5) = 6`,
	} {
		if _, err := parseTrace(strings.NewReader(open+bad+"\n"), "/r"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestModelStates(t *testing.T) {
	ops, err := parseTrace(strings.NewReader(syntheticTrace()), "/r")
	if err != nil {
		t.Fatal(err)
	}
	m := newFSModel(ops)
	for k := 0; k <= 4; k++ { // up to the big write
		m.step(k)
	}
	byName := map[string]crashState{}
	for _, cs := range m.states("d") {
		byName[cs.variant] = cs
	}
	f := func(v string) []byte { return byName[v].files["f"] }
	synced := []byte("0123456789")
	full := append(slices.Clone(synced), bytes.Repeat([]byte("B"), 1100)...)
	if !bytes.Equal(f("all"), full) || !bytes.Equal(f("durable"), synced) {
		t.Fatalf("all %d bytes, durable %q", len(f("all")), f("durable"))
	}
	// The write spans [10, 1110): sector boundaries at 512 and 1024.
	if got := f("torn0"); !bytes.Equal(got, full[:512]) {
		t.Fatalf("torn0: %d bytes", len(got))
	}
	if got := f("torn1"); !bytes.Equal(got, full[:1024]) {
		t.Fatalf("torn1: %d bytes", len(got))
	}
	hole := f("hole")
	if len(hole) != 1110 || hole[511] != 'B' || hole[512] != 0 || hole[1023] != 0 || hole[1024] != 'B' {
		t.Fatalf("hole: %d bytes", len(hole))
	}
	if _, ok := byName["drop0"]; ok {
		t.Fatal("drop variants with a single pending op")
	}

	// After the rename: t.tmp's creation, its extension and the rename are
	// pending (no journal commit since the fsync).
	for k := 5; k <= 7; k++ {
		m.step(k)
	}
	byName = map[string]crashState{}
	for _, cs := range m.states("d") {
		byName[cs.variant] = cs
	}
	if _, ok := byName["all"].files["t"]; !ok || len(byName["all"].files["t"]) != 64 {
		t.Fatalf("all: %v", byName["all"].files)
	}
	if _, ok := byName["ns0"].files["t.tmp"]; ok {
		t.Fatal("ns0 holds the uncommitted creation")
	}
	if b, ok := byName["ns1"].files["t.tmp"]; !ok || len(b) != 64 {
		t.Fatalf("ns1: %v", byName["ns1"].files)
	}
	if _, ok := byName["durable"].files["t"]; ok {
		t.Fatal("durable holds the renamed file")
	}
	if len(byName["drop0"].files["f"]) != 10 || len(byName["drop1"].files["t"]) != 0 {
		t.Fatalf("drop0 %d, drop1 %d", len(byName["drop0"].files["f"]), len(byName["drop1"].files["t"]))
	}
	// An fsync of f commits the journal: the rename becomes durable.
	m.step(8)
	m.ops = append(m.ops, op{kind: opSync, ino: ops[1].ino, meta: true})
	m.step(len(m.ops) - 1)
	for _, cs := range m.states("d") {
		if cs.variant == "durable" {
			if len(cs.files["t"]) != 0 || len(cs.files) != 2 {
				t.Fatalf("after the fsync: durable %v", cs.files)
			}
		}
	}
}
