package conformance

import (
	"context"
	"testing"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/runc/images"
)

// agentImages shows the store fits the agent's Images contract: the
// types convert one to one.
type agentImages struct{ s *images.Store }

var _ agent.Images = agentImages{}

func (a agentImages) Pull(ctx context.Context, ref string, auth []agent.RegistryAuth, progress func(string)) (agent.Image, error) {
	creds := make([]images.RegistryAuth, len(auth))
	for i, c := range auth {
		creds[i] = images.RegistryAuth(c)
	}
	img, err := a.s.Pull(ctx, ref, creds, progress)
	return agent.Image(img), err
}

func (a agentImages) Get(ref string) (agent.Image, error) {
	img, err := a.s.Get(ref)
	return agent.Image(img), err
}

func (a agentImages) Mount(ctx context.Context, img agent.Image, id string) (string, error) {
	return a.s.Mount(ctx, images.Image(img), id)
}

func (a agentImages) Unmount(ctx context.Context, id string) error { return a.s.Unmount(ctx, id) }

func TestStore_convertsToAgentTypes(t *testing.T) {
	img := agent.Image{Ref: "localhost/demo:v1", Digest: "sha256:00", Entrypoint: []string{"/bin/demo"}, User: "0"}
	if back := agent.Image(images.Image(img)); back.Ref != img.Ref || back.User != img.User || back.Entrypoint[0] != "/bin/demo" {
		t.Fatalf("round trip = %+v", back)
	}
}
