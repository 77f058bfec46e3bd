package cmd

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// externalDecoder runs a user's command once and exchanges one line per
// entry: the payload in hex on its standard input, the decoded form on its
// standard output.
type externalDecoder struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	name string
}

func startExternalDecoder(ctx context.Context, command string, stderr io.Writer) (*externalDecoder, error) {
	c := exec.CommandContext(ctx, "sh", "-c", command)
	c.Stderr = stderr
	in, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, usageErrorf("--decoder-cmd %q: %v", command, err)
	}
	return &externalDecoder{cmd: c, in: in, out: bufio.NewReader(out), name: command}, nil
}

// Decode sends one payload and reads one line back.
func (d *externalDecoder) Decode(data []byte) (string, error) {
	if _, err := io.WriteString(d.in, hex.EncodeToString(data)+"\n"); err != nil {
		return "", fmt.Errorf("--decoder-cmd %q stopped reading: %v", d.name, err)
	}
	line, err := d.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("--decoder-cmd %q gave no line for an entry (it must print one line per input line): %v", d.name, err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Close ends the command's input and waits for it.
func (d *externalDecoder) Close() error {
	d.in.Close()
	return d.cmd.Wait()
}
