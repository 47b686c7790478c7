package main

import (
	"context"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/runc/images"
)

// nodeImages presents the image store to the node loop: the two sides'
// value types have one shape and convert one to one.
type nodeImages struct{ s *images.Store }

var _ agent.Images = nodeImages{}

func (a nodeImages) Pull(ctx context.Context, ref string, auth []agent.RegistryAuth, progress func(string)) (agent.Image, error) {
	creds := make([]images.RegistryAuth, len(auth))
	for i, c := range auth {
		creds[i] = images.RegistryAuth(c)
	}
	img, err := a.s.Pull(ctx, ref, creds, progress)
	return agent.Image(img), err
}

func (a nodeImages) Get(ref string) (agent.Image, error) {
	img, err := a.s.Get(ref)
	return agent.Image(img), err
}

func (a nodeImages) Mount(ctx context.Context, img agent.Image, id string) (string, error) {
	return a.s.Mount(ctx, images.Image(img), id)
}

func (a nodeImages) Unmount(ctx context.Context, id string) error { return a.s.Unmount(ctx, id) }
