package graphsim

import "bytes"

type bytesBuffer struct{ bytes.Buffer }
