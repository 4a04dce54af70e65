package tray

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"runtime"
	"sync"
)

// The icons are drawn here, in code, rather than shipped as files: a disc in
// the state's colour with a white mark, so the state reads by shape as well
// as by colour. Nothing is fetched, and a new state is one line.

// iconKind names one icon.
type iconKind int

const (
	iconStarting iconKind = iota
	iconActive
	iconIssues
	iconSuspended
	iconPaused
	iconDisabled
	iconNotConfigured
	numIcons
)

// iconFor is the icon of a state of docs/behaviour.md §3.
func iconFor(state string) iconKind {
	switch state {
	case StateActive, StateStandby:
		return iconActive
	case StateWithIssues:
		return iconIssues
	case StateSuspended:
		return iconSuspended
	case StatePaused:
		return iconPaused
	case StateDisabled:
		return iconDisabled
	case StateNotConfigured:
		return iconNotConfigured
	}
	return iconStarting
}

// seg is a stroke of a mark, in a unit square (0,0 top left, 1,1 bottom
// right); a seg with equal ends is a dot.
type seg struct{ x0, y0, x1, y1 float64 }

// iconStyle is how one icon looks.
type iconStyle struct {
	fill   color.NRGBA
	hollow bool // a ring instead of a disc
	mark   []seg
}

var iconStyles = [numIcons]iconStyle{
	iconStarting:      {fill: color.NRGBA{0x90, 0x90, 0x90, 0xff}, hollow: true},
	iconActive:        {fill: color.NRGBA{0x2e, 0x7d, 0x32, 0xff}, mark: []seg{{0.30, 0.52, 0.44, 0.66}, {0.44, 0.66, 0.70, 0.36}}},
	iconIssues:        {fill: color.NRGBA{0xe6, 0x8a, 0x00, 0xff}, mark: []seg{{0.5, 0.28, 0.5, 0.56}, {0.5, 0.72, 0.5, 0.72}}},
	iconSuspended:     {fill: color.NRGBA{0xc6, 0x28, 0x28, 0xff}, mark: []seg{{0.34, 0.34, 0.66, 0.66}, {0.66, 0.34, 0.34, 0.66}}},
	iconPaused:        {fill: color.NRGBA{0x45, 0x5a, 0x64, 0xff}, mark: []seg{{0.40, 0.32, 0.40, 0.68}, {0.60, 0.32, 0.60, 0.68}}},
	iconDisabled:      {fill: color.NRGBA{0x75, 0x75, 0x75, 0xff}, mark: []seg{{0.30, 0.5, 0.70, 0.5}}},
	iconNotConfigured: {fill: color.NRGBA{0x15, 0x65, 0xc0, 0xff}, hollow: true},
}

// drawIcon paints an icon of size×size pixels, anti-aliased by 4×4
// supersampling.
func drawIcon(k iconKind, size int) *image.NRGBA {
	st := iconStyles[k]
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	stroke := 0.075
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var disc, white int
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					r := math.Hypot(x-0.5, y-0.5)
					in := r <= 0.47
					if st.hollow {
						in = in && r >= 0.30
					}
					onMark := false
					for _, s := range st.mark {
						onMark = onMark || segDist(x, y, s) <= stroke
					}
					switch {
					case in && onMark:
						white++
					case in:
						disc++
					}
				}
			}
			n := disc + white
			if n == 0 {
				continue
			}
			// Blend white over the fill by their share of the samples.
			f := float64(white) / float64(n)
			mix := func(c uint8) uint8 { return uint8(float64(c)*(1-f) + 255*f + 0.5) }
			img.SetNRGBA(px, py, color.NRGBA{mix(st.fill.R), mix(st.fill.G), mix(st.fill.B), uint8(255 * n / (ss * ss))})
		}
	}
	return img
}

// segDist is the distance of (x, y) to the segment s.
func segDist(x, y float64, s seg) float64 {
	dx, dy := s.x1-s.x0, s.y1-s.y0
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((x-s.x0)*dx+(y-s.y0)*dy)/l))
	}
	return math.Hypot(x-(s.x0+t*dx), y-(s.y0+t*dy))
}

var (
	iconsOnce sync.Once
	icons     [numIcons][]byte
)

// iconBytes is an icon in the form the platform's tray takes: ICO on
// Windows (LoadImage), PNG elsewhere (decoded by fyne.io/systray for the
// StatusNotifierItem pixmap, or by AppKit).
func iconBytes(k iconKind) []byte {
	iconsOnce.Do(func() {
		for i := range numIcons {
			if runtime.GOOS == "windows" {
				icons[i] = encodeICO(drawIcon(i, 16), drawIcon(i, 32))
			} else {
				icons[i] = encodePNG(drawIcon(i, 32))
			}
		}
	})
	return icons[k]
}

// encodePNG is png.Encode to bytes (it cannot fail on an in-memory image).
func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// encodeICO writes an .ico of 32-bit bitmaps (BITMAPINFOHEADER, BGRA
// bottom-up, then an all-zero AND mask since alpha decides), the form every
// Windows version's LoadImage reads.
func encodeICO(imgs ...*image.NRGBA) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	w16 := func(v uint16) { binary.Write(&b, le, v) }
	w32 := func(v uint32) { binary.Write(&b, le, v) }
	w16(0)
	w16(1) // type: icon
	w16(uint16(len(imgs)))
	bodies := make([][]byte, len(imgs))
	offset := 6 + 16*len(imgs)
	for i, img := range imgs {
		size := img.Bounds().Dx()
		var d bytes.Buffer
		dw := func(v any) { binary.Write(&d, le, v) }
		maskRow := (size + 31) / 32 * 4
		dw(uint32(40))
		dw(int32(size))
		dw(int32(2 * size)) // colour and mask
		dw(uint16(1))
		dw(uint16(32))
		dw(uint32(0))
		dw(uint32(size*size*4 + maskRow*size))
		dw([4]uint32{})
		for y := size - 1; y >= 0; y-- {
			for x := 0; x < size; x++ {
				c := img.NRGBAAt(x, y)
				d.Write([]byte{c.B, c.G, c.R, c.A})
			}
		}
		d.Write(make([]byte, maskRow*size))
		bodies[i] = d.Bytes()
		b.WriteByte(byte(size % 256))
		b.WriteByte(byte(size % 256))
		b.WriteByte(0) // no palette
		b.WriteByte(0)
		w16(1)  // planes
		w16(32) // bits per pixel
		w32(uint32(len(bodies[i])))
		w32(uint32(offset))
		offset += len(bodies[i])
	}
	for _, body := range bodies {
		b.Write(body)
	}
	return b.Bytes()
}
