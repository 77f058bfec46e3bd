package format

import (
	"fmt"
	"strings"

	"github.com/fatih/color"
)

// ColorMode is the value of --color.
type ColorMode string

// The colour modes.
const (
	ColorAuto   ColorMode = "auto"   // colour on a terminal unless NO_COLOR is set
	ColorAlways ColorMode = "always" // colour even in a pipe and despite NO_COLOR
	ColorNever  ColorMode = "never"  // no colour
)

// ColorModes lists the colour modes, for help text and shell completion.
func ColorModes() []string {
	return []string{string(ColorAuto), string(ColorAlways), string(ColorNever)}
}

// ParseColorMode parses the value of --color, case-insensitively; the empty
// string gives ColorAuto.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ColorAuto:
		return ColorAuto, nil
	case ColorAlways, ColorNever:
		return m, nil
	}
	return "", fmt.Errorf("invalid color mode %q (want %s)", s, strings.Join(ColorModes(), ", "))
}

// Scheme styles short strings for the table mode. It is decided once per
// process by [NewScheme]; render each output through [Scheme.For] so that
// plain, JSON and JSONL output stay free of escape sequences.
//
// A nil *Scheme is valid and styles nothing. A Scheme never consults
// color.NoColor, the environment or the terminal after construction.
type Scheme struct {
	enabled bool
	styles  [numStyles]*color.Color
}

type style int

const (
	styleOK style = iota
	styleWarn
	styleErr
	styleInfo
	styleBold
	styleDim
	numStyles
)

var styleAttrs = [numStyles]color.Attribute{
	styleOK:   color.FgGreen,
	styleWarn: color.FgYellow,
	styleErr:  color.FgRed,
	styleInfo: color.FgCyan,
	styleBold: color.Bold,
	styleDim:  color.Faint,
}

// NewScheme decides whether colour is on: ColorAlways turns it on, ColorNever
// off, and ColorAuto (or any other value) turns it on only when isTTY is true
// and noColorEnv is false. noColorEnv reports whether NO_COLOR is set to a
// non-empty value (https://no-color.org); the caller reads the environment.
func NewScheme(mode ColorMode, isTTY bool, noColorEnv bool) *Scheme {
	switch mode {
	case ColorAlways:
		return newScheme(true)
	case ColorNever:
		return newScheme(false)
	default:
		return newScheme(isTTY && !noColorEnv)
	}
}

func newScheme(on bool) *Scheme {
	s := &Scheme{enabled: on}
	for i, a := range styleAttrs {
		c := color.New(a)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		s.styles[i] = c
	}
	return s
}

// For returns the scheme to use when rendering in mode m: s itself for
// ModeTable, a scheme that styles nothing for every other mode.
func (s *Scheme) For(m Mode) *Scheme {
	if m == ModeTable || !s.Enabled() {
		return s
	}
	return newScheme(false)
}

// Enabled reports whether the scheme emits escape sequences.
func (s *Scheme) Enabled() bool { return s != nil && s.enabled }

// OK styles a success (green).
func (s *Scheme) OK(str string) string { return s.paint(styleOK, str) }

// Warn styles a warning (yellow).
func (s *Scheme) Warn(str string) string { return s.paint(styleWarn, str) }

// Err styles an error (red).
func (s *Scheme) Err(str string) string { return s.paint(styleErr, str) }

// Info styles neutral information (cyan).
func (s *Scheme) Info(str string) string { return s.paint(styleInfo, str) }

// Bold emphasises str.
func (s *Scheme) Bold(str string) string { return s.paint(styleBold, str) }

// Dim de-emphasises str (faint).
func (s *Scheme) Dim(str string) string { return s.paint(styleDim, str) }

func (s *Scheme) paint(st style, str string) string {
	if !s.Enabled() || str == "" {
		return str
	}
	return s.styles[st].Sprint(str)
}
