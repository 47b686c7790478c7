package agenttest

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/keel-edge/keel/agent"
)

// Images is an in-memory agent.Images: Pull finds images in a registry
// map the test fills; Get finds only pulled ones.
type Images struct {
	mu       sync.Mutex
	registry map[string]agent.Image
	stored   map[string]agent.Image
	mounts   map[string]string
	pulls    []Pull
	pullErr  map[string]error
}

// Pull records one pull.
type Pull struct {
	Ref  string
	Auth []agent.RegistryAuth
}

// NewImages returns a store whose registry serves imgs (by Ref).
func NewImages(imgs ...agent.Image) *Images {
	m := &Images{registry: map[string]agent.Image{}, stored: map[string]agent.Image{},
		mounts: map[string]string{}, pullErr: map[string]error{}}
	for _, img := range imgs {
		m.registry[img.Ref] = img
	}
	return m
}

// Store puts img in the local store as if pulled before.
func (m *Images) Store(img agent.Image) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stored[img.Ref] = img
}

// FailPulls makes pulls of ref fail with err (nil clears it).
func (m *Images) FailPulls(ref string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.pullErr, ref)
		return
	}
	m.pullErr[ref] = err
}

// Pull copies ref from the registry into the store.
func (m *Images) Pull(_ context.Context, ref string, auth []agent.RegistryAuth, progress func(string)) (agent.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pulls = append(m.pulls, Pull{Ref: ref, Auth: auth})
	if err := m.pullErr[ref]; err != nil {
		return agent.Image{}, err
	}
	img, ok := m.registry[ref]
	if !ok {
		return agent.Image{}, fmt.Errorf("pull %s: manifest unknown", ref)
	}
	if progress != nil {
		progress("pulled " + ref)
	}
	m.stored[ref] = img
	return img, nil
}

// Get returns a stored image or os.ErrNotExist.
func (m *Images) Get(ref string) (agent.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	img, ok := m.stored[ref]
	if !ok {
		return agent.Image{}, fmt.Errorf("image %s: %w", ref, os.ErrNotExist)
	}
	return img, nil
}

// Mount returns a made-up root filesystem path for the container.
func (m *Images) Mount(_ context.Context, img agent.Image, containerID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := "/rootfs/" + containerID
	m.mounts[containerID] = img.Ref
	return p, nil
}

// Unmount forgets the container's root filesystem.
func (m *Images) Unmount(_ context.Context, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.mounts, containerID)
	return nil
}

// Pulls returns the pulls so far.
func (m *Images) Pulls() []Pull {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Pull(nil), m.pulls...)
}
