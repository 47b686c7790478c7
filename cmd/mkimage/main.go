// Command mkimage writes the project's own images as OCI-layout tarballs:
// busybox.tar (Debian's static busybox as /bin/busybox with its applets
// linked beside it, referenced localhost/busybox:v1) and demo.tar (the
// same plus the static demo server as its entrypoint, localhost/demo:v1).
// Timestamps are fixed, so the same inputs give the same digests.
//
//	go run ./cmd/mkimage -out build/images
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.out, "out", "build/images", "directory to write busybox.tar and demo.tar to")
	flag.StringVar(&o.busybox, "busybox", "", "static busybox binary (default: /bin/busybox, from Debian's busybox-static)")
	flag.StringVar(&o.demoBin, "demo-bin", "", "prebuilt static demo binary (default: build ./cmd/demo with go)")
	flag.StringVar(&o.goCmd, "go", "go", "go command used to build the demo server")
	flag.Parse()
	o.epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: SOURCE_DATE_EPOCH %q: %v\n", s, err)
			os.Exit(2)
		}
		o.epoch = time.Unix(sec, 0).UTC()
	}
	written, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
	for _, w := range written {
		fmt.Printf("%s %s %s\n", w.path, w.ref, w.digest)
	}
}
