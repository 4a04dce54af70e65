package addin

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Icon draws the add-in's icon at a size: a white check mark (the e-mail is
// tracked) on a blue rounded square. Drawn rather than shipped, so that the
// sizes the manifest names (16, 32, 80 on the ribbon; 64, 128 in the store
// listing) stay in step with one design.
func Icon(size int) ([]byte, error) {
	if size < 8 || size > 512 {
		return nil, fmt.Errorf("icon size %d is out of range", size)
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	s := float64(size)
	blue := color.NRGBA{0x1b, 0x5e, 0x9b, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	r := s * 0.18
	// The check: two strokes, in units of the size.
	ax, ay, bx, by, cx, cy := 0.24*s, 0.52*s, 0.43*s, 0.71*s, 0.77*s, 0.31*s
	w := math.Max(1.2, s*0.075)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			if !insideRounded(px, py, s, r) {
				continue
			}
			c := blue
			if segDist(px, py, ax, ay, bx, by) <= w || segDist(px, py, bx, by, cx, cy) <= w {
				c = white
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode the icon: %w", err)
	}
	return b.Bytes(), nil
}

func insideRounded(x, y, s, r float64) bool {
	cx := math.Min(math.Max(x, r), s-r)
	cy := math.Min(math.Max(y, r), s-r)
	return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
}

func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	ex, ey := ax+t*dx-px, ay+t*dy-py
	return math.Sqrt(ex*ex + ey*ey)
}
