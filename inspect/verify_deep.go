package inspect

import (
	"context"
	"errors"
	"fmt"
	"math"

	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
)

// verifyRaftPanic carries the message of a raft logger's Panic or Fatal.
type verifyRaftPanic string

// verifyRaftLogger discards raft's log output and turns its Panic and
// Fatal calls into a panic that deep mode recovers.
type verifyRaftLogger struct{}

func (verifyRaftLogger) Debug(...any)          {}
func (verifyRaftLogger) Debugf(string, ...any) {}
func (verifyRaftLogger) Error(...any)          {}
func (verifyRaftLogger) Errorf(string, ...any) {}
func (verifyRaftLogger) Info(...any)           {}
func (verifyRaftLogger) Infof(string, ...any)  {}
func (verifyRaftLogger) Warning(...any)        {}
func (verifyRaftLogger) Warningf(string, ...any) {
}
func (verifyRaftLogger) Fatal(v ...any) { panic(verifyRaftPanic(fmt.Sprint(v...))) }
func (verifyRaftLogger) Fatalf(f string, v ...any) {
	panic(verifyRaftPanic(fmt.Sprintf(f, v...)))
}
func (verifyRaftLogger) Panic(v ...any) { panic(verifyRaftPanic(fmt.Sprint(v...))) }
func (verifyRaftLogger) Panicf(f string, v ...any) {
	panic(verifyRaftPanic(fmt.Sprintf(f, v...)))
}

// errVerifyDeep stops the entry stream when raft's storage would refuse
// an entry.
var errVerifyDeep = errors.New("deep: storage refused an entry")

// deep restarts the group in memory as etcd would: a raft MemoryStorage
// holding the snapshot etcd restarts from (read with snap.Read, which
// never renames a broken file as Snapshotter.Load does), the HardState and
// the entries after the snapshot; then raft.NewRawNode and one Ready.
// Raft's refusal, error or panic becomes a raft-restart finding.
func (v *verifier) deep(ctx context.Context, usable *SnapFile) error {
	st, err := v.deepStorage(usable)
	if err != nil || st == nil {
		return err
	}
	next, err := v.deepAppend(ctx, st)
	if err != nil || next == 0 {
		return err
	}
	msg := verifyRestart(&raft.Config{
		ID:              st.id,
		ElectionTick:    10,
		HeartbeatTick:   1,
		Storage:         st.ms,
		MaxSizePerMsg:   math.MaxUint64,
		MaxInflightMsgs: 256,
		Applied:         st.snapIndex,
		Logger:          verifyRaftLogger{},
	})
	if msg != "" {
		v.add(CodeRaftRestart, v.g.WALDir, -1, 0, fmt.Sprintf("raft refuses to restart from %s, the HardState %+v and %d entries: %s", st.where, v.view.hs, next-1-st.snapIndex, msg))
	}
	return nil
}

// deepStart is the storage deep restarts raft from.
type deepStart struct {
	ms        *raft.MemoryStorage
	snapIndex uint64
	id        uint64
	// where names the snapshot, for findings.
	where string
}

// deepStorage builds a MemoryStorage holding the usable snapshot (nil for
// none) and the HardState. It returns nil when the snapshot cannot be
// used (a raft-restart finding says why).
func (v *verifier) deepStorage(usable *SnapFile) (*deepStart, error) {
	st := &deepStart{ms: raft.NewMemoryStorage(), id: 1, where: "an empty storage"}
	if usable != nil {
		s, err := snap.Read(zap.NewNop(), usable.Path)
		if err != nil && isNotExist(err) {
			// Purged by a live server since it was listed: Verify
			// starts again from a fresh listing.
			return nil, &verifyNoVerdict{err}
		}
		if err != nil {
			v.add(CodeRaftRestart, usable.Path, -1, usable.Index, fmt.Sprintf("snapshot file %s could not be read for the restart: %v", usable.Name, err))
			return nil, nil
		}
		if err := st.ms.ApplySnapshot(s); err != nil {
			v.add(CodeRaftRestart, usable.Path, -1, usable.Index, fmt.Sprintf("raft's MemoryStorage refuses snapshot %s: %v", usable.Name, err))
			return nil, nil
		}
		st.snapIndex = s.GetMetadata().GetIndex()
		if voters := s.GetMetadata().GetConfState().GetVoters(); len(voters) > 0 {
			st.id = voters[0]
		}
		st.where = "snapshot " + usable.Name
	}
	if v.view.hasHS {
		hs := v.view.hs
		_ = st.ms.SetHardState(&raftpb.HardState{Term: proto.Uint64(hs.Term), Vote: proto.Uint64(hs.Vote), Commit: proto.Uint64(hs.Commit)})
	}
	return st, nil
}

// deepAppend appends the effective entries after the snapshot to the
// storage, in batches, and returns the index after the last; 0 when the
// storage would refuse one (a raft-restart finding says why).
func (v *verifier) deepAppend(ctx context.Context, st *deepStart) (uint64, error) {
	p := v.parts[0]
	const batch = 4096
	var (
		ents    = make([]*raftpb.Entry, 0, batch)
		next    = st.snapIndex + 1
		refused string
		refFile string
		refOff  int64 = -1
		refIdx  uint64
	)
	flush := func() error {
		if len(ents) == 0 {
			return nil
		}
		err := st.ms.Append(ents)
		ents = ents[:0]
		return err
	}
	err := EffectiveEntries(ctx, p.segs, p.log, func(e *Entry, r *Record) error {
		if e.Index <= st.snapIndex {
			return nil
		}
		if e.Index != next {
			// MemoryStorage.Append would panic through raft's global
			// logger (which prints); say what it would say instead.
			refused = fmt.Sprintf("missing log entry [last: %d, append at: %d]", next-1, e.Index)
			refFile, refOff, refIdx = p.segs[r.Segment].Path, r.Offset, e.Index
			return errVerifyDeep
		}
		ents = append(ents, &raftpb.Entry{Term: proto.Uint64(e.Term), Index: proto.Uint64(e.Index), Type: raftpb.EntryType(e.Type).Enum(), Data: append([]byte(nil), e.Data...)})
		next++
		if len(ents) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	switch {
	case errors.Is(err, errVerifyDeep):
		v.add(CodeRaftRestart, refFile, refOff, refIdx, fmt.Sprintf("raft refuses to restart from %s and the log: its storage panics with %q", st.where, refused))
		return 0, nil
	case err != nil:
		var de *DecodeError
		if errors.As(err, &de) {
			return 0, &verifyNoVerdict{err}
		}
		return 0, err
	}
	return next, nil
}

// verifyRestart creates a RawNode and takes one Ready (which reads the
// committed entries back from storage), returning raft's complaint, ""
// when it has none.
func verifyRestart(cfg *raft.Config) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			switch r := r.(type) {
			case verifyRaftPanic:
				msg = "raft panics: " + string(r)
			default:
				msg = fmt.Sprintf("raft panics: %v", r)
			}
		}
	}()
	rn, err := raft.NewRawNode(cfg)
	if err != nil {
		return "raft.NewRawNode: " + err.Error()
	}
	if rn.HasReady() {
		rn.Ready()
	}
	return ""
}
