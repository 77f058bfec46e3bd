package cmd

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// defaultDecoderTimeout is how long --decoder-cmd may take to answer one
// line before raftctl gives up on it.
const defaultDecoderTimeout = 10 * time.Second

// externalDecoder runs a user's command once and speaks a line protocol
// with it: for each entry, the payload as one line of lower-case hex on
// its standard input (an empty line for an empty payload); back, exactly
// one line on its standard output, the decoded form. Each exchange is
// bounded by a timeout, so a command that buffers its output (tr, sed
// without -u) or stops answering is reported instead of hanging raftctl.
type externalDecoder struct {
	cmd     *exec.Cmd
	in      *os.File
	outF    *os.File
	out     *bufio.Reader
	name    string
	timeout time.Duration
	line    []byte
}

func startExternalDecoder(ctx context.Context, command string, stderr io.Writer, timeout time.Duration) (*externalDecoder, error) {
	c := exec.CommandContext(ctx, "sh", "-c", command)
	c.Stderr = stderr
	// Pipes of our own (not StdinPipe/StdoutPipe): *os.File pipes take
	// deadlines.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	c.Stdin, c.Stdout = inR, outW
	err = c.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, usageErrorf("--decoder-cmd %q: %v", command, err)
	}
	return &externalDecoder{cmd: c, in: inW, outF: outR, out: bufio.NewReader(outR), name: command, timeout: timeout}, nil
}

// Decode sends one payload and reads one line back, within the timeout.
func (d *externalDecoder) Decode(data []byte) (string, error) {
	d.line = hex.AppendEncode(d.line[:0], data)
	d.line = append(d.line, '\n')
	deadline := time.Now().Add(d.timeout)
	_ = d.in.SetWriteDeadline(deadline)
	if _, err := d.in.Write(d.line); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", d.stalled("did not read its input")
		}
		return "", fmt.Errorf("--decoder-cmd %q stopped reading: %v", d.name, err)
	}
	_ = d.outF.SetReadDeadline(deadline)
	line, err := d.out.ReadString('\n')
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", d.stalled("gave no line")
		}
		return "", fmt.Errorf("--decoder-cmd %q gave no line for an entry (it must print one line per input line): %v", d.name, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (d *externalDecoder) stalled(what string) error {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Kill()
	}
	return fmt.Errorf("--decoder-cmd %q %s within %s: it must answer each input line with one output line and flush it (a buffering filter such as tr or sed without -u never answers; raise --decoder-timeout for a slow decoder)", d.name, what, d.timeout)
}

// Close ends the command's input and waits for it.
func (d *externalDecoder) Close() error {
	d.in.Close()
	err := d.cmd.Wait()
	d.outF.Close()
	return err
}
