package crashstate

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// The syscalls the writer is traced for (strace -e trace=...).
const traceSyscalls = "open,openat,creat,close,dup,dup2,dup3,lseek,write,pwrite64,writev,pwritev,pwritev2," +
	"fsync,fdatasync,sync_file_range,rename,renameat,renameat2,truncate,ftruncate,fallocate," +
	"unlink,unlinkat,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat"

// opKind is the kind of one file-system operation of the trace, already
// resolved by the volatile model (paths to inodes, fds to offsets).
type opKind int

const (
	opWrite    opKind = iota // data: write data at off (extends the file if needed)
	opTruncate               // data: set the size to size
	opExtend                 // data: fallocate mode 0, size = max(size, size field)
	opSync                   // fsync/fdatasync of ino; meta: a journal commit too
	opCreate                 // namespace: new file ino at path
	opMkdir                  // namespace: new directory ino at path
	opRename                 // namespace: path -> path2
	opUnlink                 // namespace: remove path (file or empty directory)
	opAck                    // the writer's acknowledgement marker
)

func (k opKind) String() string {
	return [...]string{"write", "truncate", "extend", "sync", "create", "mkdir", "rename", "unlink", "ack"}[k]
}

// op is one resolved operation.
type op struct {
	kind        opKind
	line        int // line of the trace
	ino         int
	path, path2 string // relative to the traced root
	off         int64
	data        []byte
	size        int64
	meta        bool // opSync: a journal commit (fsync, or fdatasync with a size change pending)
	ack         ack
}

func (o op) isNamespace() bool {
	return o.kind == opCreate || o.kind == opMkdir || o.kind == opRename || o.kind == opUnlink
}

// ack is one "ACK ..." marker line of the writer.
type ack struct {
	node                               uint64
	commit, term, vote, last, lastTerm uint64
	snap                               uint64
}

func parseAck(s string) (ack, bool) {
	if !strings.HasPrefix(s, "ACK ") {
		return ack{}, false
	}
	var a ack
	_, err := fmt.Sscanf(strings.TrimSpace(s), "ACK node=%d commit=%d term=%d vote=%d last=%d lastterm=%d snap=%d",
		&a.node, &a.commit, &a.term, &a.vote, &a.last, &a.lastTerm, &a.snap)
	return a, err == nil
}

func (a ack) String() string {
	return fmt.Sprintf("ACK node=%d commit=%d term=%d vote=%d last=%d lastterm=%d snap=%d",
		a.node, a.commit, a.term, a.vote, a.last, a.lastTerm, a.snap)
}

// volatile is the file system as the running writer sees it: what it
// needs to resolve the trace into ops (names, descriptors, positions,
// sizes). Only paths under root are modelled; everything else is ignored.
type volatile struct {
	root  string
	names map[string]int // relative path -> inode
	dirs  map[int]bool
	sizes map[int]int64
	fds   map[int]*fdState
	next  int
	// sizeDirty marks inodes with a size change not yet fsynced.
	sizeDirty map[int]bool
	ops       []op
}

type fdState struct {
	ino int // -1: a file outside root
	pos int64
	app bool
}

func newVolatile(root string) *volatile {
	return &volatile{root: filepath.Clean(root), names: map[string]int{}, dirs: map[int]bool{},
		sizes: map[int]int64{}, fds: map[int]*fdState{}, next: 1, sizeDirty: map[int]bool{}}
}

// rel maps an absolute path to one relative to root; ok is false outside.
func (v *volatile) rel(dirfd, p string) (string, bool) {
	if !filepath.IsAbs(p) {
		if dirfd != "AT_FDCWD" && dirfd != "" {
			fd, err := strconv.Atoi(dirfd)
			if err != nil {
				return "", false
			}
			st := v.fds[fd]
			if st == nil || st.ino < 0 {
				return "", false
			}
			dp := v.pathOf(st.ino)
			if dp == "" {
				return "", false
			}
			return filepath.Clean(filepath.Join(dp, p)), true
		}
		return "", false // the writer uses absolute paths only
	}
	p = filepath.Clean(p)
	if p == v.root {
		return ".", true
	}
	r, err := filepath.Rel(v.root, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return "", false
	}
	return r, true
}

func (v *volatile) pathOf(ino int) string {
	for p, i := range v.names {
		if i == ino {
			return p
		}
	}
	return ""
}

func (v *volatile) emit(o op) { v.ops = append(v.ops, o) }

// syscall applies one completed syscall to the model.
func (v *volatile) syscall(line int, name string, args []string, ret int64) error {
	if ret < 0 {
		return nil // failed calls change nothing
	}
	fdArg := func(i int) (*fdState, int) {
		fd, err := strconv.Atoi(args[i])
		if err != nil {
			return nil, -1
		}
		st := v.fds[fd]
		if st == nil || st.ino < 0 {
			return nil, fd
		}
		return st, fd
	}
	switch name {
	case "open", "openat", "creat":
		dirfd, pi := "AT_FDCWD", 0
		if name == "openat" {
			dirfd, pi = args[0], 1
		}
		p, err := unquote(args[pi])
		if err != nil {
			return err
		}
		flags := "O_WRONLY|O_CREAT|O_TRUNC"
		if name != "creat" {
			flags = args[pi+1]
		}
		r, ok := v.rel(dirfd, p)
		if !ok {
			v.fds[int(ret)] = &fdState{ino: -1}
			return nil
		}
		ino, exists := v.names[r]
		if !exists {
			if !strings.Contains(flags, "O_CREAT") {
				return fmt.Errorf("line %d: open of %s, unknown to the model, succeeded", line, r)
			}
			ino = v.next
			v.next++
			v.names[r] = ino
			v.emit(op{kind: opCreate, line: line, ino: ino, path: r})
		}
		if strings.Contains(flags, "O_TRUNC") && v.sizes[ino] != 0 {
			v.sizes[ino] = 0
			v.sizeDirty[ino] = true
			v.emit(op{kind: opTruncate, line: line, ino: ino, size: 0})
		}
		v.fds[int(ret)] = &fdState{ino: ino, app: strings.Contains(flags, "O_APPEND")}
	case "close":
		fd, _ := strconv.Atoi(args[0])
		delete(v.fds, fd)
	case "dup", "dup2", "dup3":
		if st, _ := fdArg(0); st != nil {
			return fmt.Errorf("line %d: %s of a traced file is not modelled", line, name)
		}
		v.fds[int(ret)] = &fdState{ino: -1}
	case "lseek":
		if st, _ := fdArg(0); st != nil {
			st.pos = ret
		}
	case "write", "pwrite64":
		st, fd := fdArg(0)
		if st == nil {
			if fd == 2 && name == "write" {
				b, err := unquote(args[1])
				if err != nil {
					return err
				}
				for _, l := range strings.Split(b, "\n") {
					if a, ok := parseAck(l); ok {
						v.emit(op{kind: opAck, line: line, ack: a})
					}
				}
			}
			return nil
		}
		b, err := unquote(args[1])
		if err != nil {
			return err
		}
		if int64(len(b)) < ret {
			return fmt.Errorf("line %d: %s data truncated by strace (%d of %d bytes): raise -s", line, name, len(b), ret)
		}
		b = b[:ret]
		off := st.pos
		if name == "pwrite64" {
			if off, err = strconv.ParseInt(args[3], 10, 64); err != nil {
				return fmt.Errorf("line %d: %v", line, err)
			}
		} else if st.app {
			off = v.sizes[st.ino]
		}
		if end := off + int64(len(b)); end > v.sizes[st.ino] {
			v.sizes[st.ino] = end
			v.sizeDirty[st.ino] = true
		}
		if name == "write" {
			st.pos = off + int64(len(b))
		}
		v.emit(op{kind: opWrite, line: line, ino: st.ino, off: off, data: []byte(b)})
	case "writev", "pwritev", "pwritev2", "sync_file_range", "link", "linkat", "symlink", "symlinkat":
		if st, _ := fdArg(0); st != nil || name == "link" || name == "linkat" || name == "symlink" || name == "symlinkat" {
			return fmt.Errorf("line %d: %s is not modelled; extend the crash-state model", line, name)
		}
	case "fsync", "fdatasync":
		st, _ := fdArg(0)
		if st == nil {
			return nil
		}
		meta := name == "fsync" || v.sizeDirty[st.ino] || v.dirs[st.ino]
		if meta {
			clear(v.sizeDirty)
		}
		v.emit(op{kind: opSync, line: line, ino: st.ino, meta: meta})
	case "ftruncate", "truncate", "fallocate":
		var ino int
		var size int64
		var err error
		switch name {
		case "truncate":
			p, err := unquote(args[0])
			if err != nil {
				return err
			}
			r, ok := v.rel("", p)
			if !ok {
				return nil
			}
			ino = v.names[r]
			size, err = strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return err
			}
		case "ftruncate":
			st, _ := fdArg(0)
			if st == nil {
				return nil
			}
			ino = st.ino
			if size, err = strconv.ParseInt(args[1], 10, 64); err != nil {
				return err
			}
		case "fallocate":
			st, _ := fdArg(0)
			if st == nil {
				return nil
			}
			ino = st.ino
			if args[1] != "0" {
				if strings.Contains(args[1], "KEEP_SIZE") {
					return nil // no visible change
				}
				return fmt.Errorf("line %d: fallocate mode %s is not modelled", line, args[1])
			}
			off, err1 := strconv.ParseInt(args[2], 10, 64)
			n, err2 := strconv.ParseInt(args[3], 10, 64)
			if err1 != nil || err2 != nil {
				return fmt.Errorf("line %d: bad fallocate arguments %v", line, args)
			}
			if off+n > v.sizes[ino] {
				v.sizes[ino] = off + n
				v.sizeDirty[ino] = true
				v.emit(op{kind: opExtend, line: line, ino: ino, size: off + n})
			}
			return nil
		}
		v.sizes[ino] = size
		v.sizeDirty[ino] = true
		v.emit(op{kind: opTruncate, line: line, ino: ino, size: size})
	case "rename", "renameat", "renameat2":
		var d1, p1, d2, p2 = "AT_FDCWD", args[0], "AT_FDCWD", args[1]
		if name != "rename" {
			d1, p1, d2, p2 = args[0], args[1], args[2], args[3]
			if name == "renameat2" && len(args) > 4 && args[4] != "0" {
				return fmt.Errorf("line %d: renameat2 flags %s are not modelled", line, args[4])
			}
		}
		a, err := unquote(p1)
		if err != nil {
			return err
		}
		b, err := unquote(p2)
		if err != nil {
			return err
		}
		ra, oka := v.rel(d1, a)
		rb, okb := v.rel(d2, b)
		if !oka && !okb {
			return nil
		}
		if oka != okb {
			return fmt.Errorf("line %d: rename across the traced root", line)
		}
		renameNames(v.names, ra, rb)
		v.emit(op{kind: opRename, line: line, path: ra, path2: rb})
	case "unlink", "unlinkat", "rmdir":
		d, pa := "AT_FDCWD", args[0]
		if name == "unlinkat" {
			d, pa = args[0], args[1]
		}
		p, err := unquote(pa)
		if err != nil {
			return err
		}
		r, ok := v.rel(d, p)
		if !ok {
			return nil
		}
		delete(v.names, r)
		v.emit(op{kind: opUnlink, line: line, path: r})
	case "mkdir", "mkdirat":
		d, pa := "AT_FDCWD", args[0]
		if name == "mkdirat" {
			d, pa = args[0], args[1]
		}
		p, err := unquote(pa)
		if err != nil {
			return err
		}
		r, ok := v.rel(d, p)
		if !ok {
			return nil
		}
		ino := v.next
		v.next++
		v.names[r] = ino
		v.dirs[ino] = true
		v.emit(op{kind: opMkdir, line: line, ino: ino, path: r})
	}
	return nil
}

// renameNames moves a (and, for a directory, everything under it) to b,
// replacing what b named.
func renameNames(names map[string]int, a, b string) {
	delete(names, b)
	for p, ino := range names {
		switch {
		case p == a:
			delete(names, p)
			names[b] = ino
		case strings.HasPrefix(p, a+"/"):
			delete(names, p)
			names[b+p[len(a):]] = ino
		}
	}
}

// traceLine matches "PID name(args) = ret ..." after unfinished/resumed
// pieces were joined.
var traceLine = regexp.MustCompile(`^(\d+)\s+([a-z0-9_]+)\((.*)\)\s+=\s+(-?\d+|\?)`)

// parseTrace reads an strace -f -xx -o log of the writer and resolves it
// into ops on the files under root.
func parseTrace(r io.Reader, root string) ([]op, error) {
	v := newVolatile(root)
	pending := map[string]string{} // pid -> the text of an unfinished call
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	ln := 0
	for sc.Scan() {
		ln++
		s := sc.Text()
		pid, rest, _ := strings.Cut(s, " ")
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "+++") {
			continue
		}
		if i := strings.Index(rest, " <unfinished ...>"); i >= 0 && strings.HasSuffix(rest, "<unfinished ...>") {
			pending[pid] = rest[:i]
			continue
		}
		if strings.HasPrefix(rest, "<... ") {
			_, tail, ok := strings.Cut(rest, " resumed>")
			if !ok {
				return nil, fmt.Errorf("trace line %d: %q", ln, s)
			}
			head, ok := pending[pid]
			if !ok {
				return nil, fmt.Errorf("trace line %d: resumed call without its start", ln)
			}
			delete(pending, pid)
			rest = head + tail
		}
		m := traceLine.FindStringSubmatch(pid + " " + rest)
		if m == nil {
			if strings.Contains(rest, "= ?") || strings.HasPrefix(rest, "exit") {
				continue
			}
			return nil, fmt.Errorf("trace line %d: cannot parse %.200q", ln, s)
		}
		if m[4] == "?" {
			continue
		}
		ret, _ := strconv.ParseInt(m[4], 10, 64)
		args, err := splitArgs(m[3])
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %v", ln, err)
		}
		if err := v.syscall(ln, m[2], args, ret); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return v.ops, nil
}

// splitArgs splits a syscall's argument text at top-level commas.
func splitArgs(s string) ([]string, error) {
	var out []string
	depth, start, inq := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inq:
			if c == '\\' {
				i++
			} else if c == '"' {
				inq = false
			}
		case c == '"':
			inq = true
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if inq || depth != 0 {
		return nil, fmt.Errorf("unbalanced arguments %.200q", s)
	}
	if t := strings.TrimSpace(s[start:]); t != "" || len(out) > 0 {
		out = append(out, t)
	}
	return out, nil
}

// unquote decodes a string argument printed with strace -xx ("\x41...").
// A string strace cut short ends in "..." after the quote: an error.
func unquote(a string) (string, error) {
	if len(a) < 2 || a[0] != '"' || a[len(a)-1] != '"' {
		return "", fmt.Errorf("not a complete string argument: %.80q", a)
	}
	s := a[1 : len(a)-1]
	b := make([]byte, 0, len(s)/4)
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b = append(b, s[i])
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("bad escape in %.80q", a)
		}
		switch s[i+1] {
		case 'x':
			if i+3 >= len(s)+0 && i+3 > len(s) {
				return "", fmt.Errorf("bad escape in %.80q", a)
			}
			n, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %.80q", a)
			}
			b = append(b, byte(n))
			i += 4
		case 'n':
			b = append(b, '\n')
			i += 2
		case 't':
			b = append(b, '\t')
			i += 2
		case '\\', '"':
			b = append(b, s[i+1])
			i += 2
		default:
			return "", fmt.Errorf("unknown escape \\%c in %.80q", s[i+1], a)
		}
	}
	return string(b), nil
}
