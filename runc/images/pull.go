package images

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull fetches ref (a tag or a digest) from its registry with the first of
// auth whose registry matches (anonymously if none does), picking the
// configured platform from a multi-platform index, and stores it under
// ref. progress, if not nil, receives "Pulling image X" and "Pulled image X
// in 1.2s (N bytes)". Errors name the reference and the registry and carry
// the registry's own message.
func (s *Store) Pull(ctx context.Context, ref string, auth []RegistryAuth, progress func(string)) (Image, error) {
	r, err := s.parseRef(ref)
	if err != nil {
		return Image{}, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	progress("Pulling image " + ref)
	start := s.cfg.Now()
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(keychain(auth)),
		remote.WithPlatform(s.platform),
	}
	if s.cfg.Transport != nil {
		opts = append(opts, remote.WithTransport(s.cfg.Transport))
	}
	where := r.Context().RegistryStr()
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s from %s: %w", ref, where, err)
	}
	img, err := desc.Image()
	if err != nil {
		return Image{}, fmt.Errorf("pull %s from %s: %w", ref, where, err)
	}
	out, n, err := s.storeImage(ctx, img, []string{r.Name()})
	if err != nil {
		return Image{}, fmt.Errorf("pull %s from %s: %w", ref, where, err)
	}
	took := s.cfg.Now().Sub(start).Round(time.Millisecond)
	progress(fmt.Sprintf("Pulled image %s in %s (%d bytes)", ref, took, n))
	return out, nil
}

// keychain hands go-containerregistry the credentials for a registry.
type keychain []RegistryAuth

// Resolve returns the first matching credentials, or anonymous access.
func (k keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	want := registryHost(res.RegistryStr())
	for _, a := range k {
		if registryHost(a.Registry) != want {
			continue
		}
		return authn.FromConfig(authn.AuthConfig{
			Username:      a.Username,
			Password:      a.Password,
			IdentityToken: a.IdentityToken,
		}), nil
	}
	return authn.Anonymous, nil
}

// registryHost reduces a registry as written in a pull secret
// ("https://index.docker.io/v1/", "Registry.Example:5000") to the host
// go-containerregistry names it by; Docker Hub's aliases are one host.
func registryHost(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimPrefix(s, "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return s
}
