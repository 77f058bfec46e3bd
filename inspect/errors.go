package inspect

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a DecodeError the way etcd's decoder would.
type ErrorKind int

// The kinds of decode error.
const (
	// KindTorn is a torn write: etcd's io.ErrUnexpectedEOF.
	KindTorn ErrorKind = iota + 1
	// KindCRC is a record whose CRC does not match its data.
	KindCRC
	// KindCRCChain is a crc record that does not continue the chain
	// (etcd's ReadAll returns wal.ErrCRCMismatch).
	KindCRCChain
	// KindMalformed is a record that does not decode.
	KindMalformed
	// KindIO is an error reading the file.
	KindIO
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case KindTorn:
		return "torn"
	case KindCRC:
		return "crc"
	case KindCRCChain:
		return "crc-chain"
	case KindMalformed:
		return "malformed"
	case KindIO:
		return "io"
	case 0:
		return "none"
	}
	return "unknown"
}

// DecodeError says which file, which byte offset and what was expected.
type DecodeError struct {
	Path    string
	Segment int
	Offset  int64
	Kind    ErrorKind
	Msg     string
	Err     error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.Path, e.Offset, e.Msg)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// AsDecodeError returns err as a *DecodeError if it is one.
func AsDecodeError(err error) (*DecodeError, bool) {
	var de *DecodeError
	ok := errors.As(err, &de)
	return de, ok
}
