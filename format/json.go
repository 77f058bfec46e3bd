package format

import (
	"encoding/json"
	"io"
)

// WriteJSON writes v to w as one JSON document indented by two spaces, with
// a trailing newline and without HTML escaping (<, > and & stay as they are).
// Nothing is written if v cannot be marshalled.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// JSONLWriter writes a stream of values as JSON Lines (NDJSON): one compact
// object per line, without HTML escaping. Output is buffered and written
// in large writes (about 1 MiB): call Flush when done, and check its error.
// Hot paths append their lines straight into the writer's buffer (Buffer
// and Commit), so a line is encoded once and copied only by the write
// system call. A JSONLWriter is not safe for concurrent use.
type JSONLWriter struct {
	w   io.Writer
	buf []byte
	err error // the first write error: sticky
	enc *json.Encoder
}

// jsonlBufferSize is how much a JSONLWriter buffers before it writes.
const jsonlBufferSize = 1 << 20

// jsonlKeepSize caps the buffer a JSONLWriter keeps after a write: one
// huge line does not keep its memory.
const jsonlKeepSize = 4 * jsonlBufferSize

// NewJSONL returns a JSONLWriter writing to w.
func NewJSONL(w io.Writer) *JSONLWriter {
	j := &JSONLWriter{w: w, buf: make([]byte, 0, jsonlBufferSize+jsonlBufferSize/8)}
	j.enc = json.NewEncoder(jsonlAppender{j})
	j.enc.SetEscapeHTML(false)
	return j
}

// jsonlAppender appends what the encoder writes (one whole value and its
// newline per call) to the buffer.
type jsonlAppender struct{ j *JSONLWriter }

func (a jsonlAppender) Write(p []byte) (int, error) {
	a.j.buf = append(a.j.buf, p...)
	return len(p), nil
}

// Write appends v as one line. A value that cannot be marshalled writes
// nothing and returns the error; a write error is sticky and is also
// returned by every later Write and by Flush.
func (j *JSONLWriter) Write(v any) error {
	if j.err != nil {
		return j.err
	}
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	return j.Commit(j.buf)
}

// Buffer returns the writer's buffer, to append complete lines (each a
// JSON object and a newline) to and hand back with Commit. Nothing else
// may be done with the writer in between.
func (j *JSONLWriter) Buffer() []byte {
	return j.buf
}

// Commit takes back the buffer returned by Buffer with lines appended,
// and writes it out once it holds about 1 MiB. It returns the sticky
// write error, if any.
func (j *JSONLWriter) Commit(b []byte) error {
	j.buf = b
	if len(b) >= jsonlBufferSize {
		return j.Flush()
	}
	return j.err
}

// Flush writes any buffered lines to the underlying writer.
func (j *JSONLWriter) Flush() error {
	if j.err == nil && len(j.buf) > 0 {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
	if cap(j.buf) > jsonlKeepSize {
		j.buf = make([]byte, 0, jsonlBufferSize+jsonlBufferSize/8)
	}
	return j.err
}

// WriteRaw appends line, which must be one complete JSON object followed by
// a newline, as it is.
func (j *JSONLWriter) WriteRaw(line []byte) error {
	return j.Commit(append(j.buf, line...))
}
