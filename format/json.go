package format

import (
	"bufio"
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
// object per line, without HTML escaping. Output is buffered (64 KiB): call
// Flush when done, and check its error. A JSONLWriter is not safe for
// concurrent use.
type JSONLWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// jsonlBufferSize is the size of a JSONLWriter's buffer.
const jsonlBufferSize = 64 << 10

// NewJSONL returns a JSONLWriter writing to w.
func NewJSONL(w io.Writer) *JSONLWriter {
	bw := bufio.NewWriterSize(w, jsonlBufferSize)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONLWriter{bw: bw, enc: enc}
}

// Write appends v as one line. A value that cannot be marshalled writes
// nothing and returns the error; a write error is sticky and is also
// returned by every later Write and by Flush.
func (j *JSONLWriter) Write(v any) error {
	return j.enc.Encode(v)
}

// Flush writes any buffered lines to the underlying writer.
func (j *JSONLWriter) Flush() error {
	return j.bw.Flush()
}

// WriteRaw appends line, which must be one complete JSON object followed by
// a newline, as it is: for callers that encode a hot path by hand.
func (j *JSONLWriter) WriteRaw(line []byte) error {
	_, err := j.bw.Write(line)
	return err
}
