// Package images is the node's OCI image store.
//
// It owns a directory on the node: blobs addressed by their sha256 digest
// (verified as they are written), a small reference index mapping image
// references to manifest digests, layers unpacked once per diffID into
// snapshot directories, and one overlayfs root filesystem per container
// stacked read-only over those snapshots under a writable upper layer.
// Images arrive by pulling from a registry with go-containerregistry or by
// importing an OCI-layout or docker-archive tarball (for air-gapped sites).
//
// Whiteouts are converted when a layer is unpacked: a ".wh.name" entry
// becomes the overlayfs whiteout (a 0:0 character device named "name") and
// ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory, so the
// kernel applies OCI's deletion semantics when it stacks the layers.
// Layers are unpacked lazily by Mount, which needs root anyway; pulling,
// importing, listing, removing and GC work without root. Each layer is
// unpacked on its own, through an os.Root, so no entry can write outside
// its snapshot; a later layer writing through a directory symlink of an
// earlier layer gets a real directory instead (as in other overlay
// snapshotters that unpack layers apart).
//
// mount(2) carries overlay options in one page, which holds a few dozen
// layer paths; longer stacks are mounted with fsopen/fsconfig "lowerdir+"
// (Linux 6.8 and later), and on older kernels such an image fails to
// mount with an error saying so.
//
// It must not import anything of ours that uses it: the agent reaches it
// through the Images interface it declares, and this package's Image and
// RegistryAuth have the same shape as the agent's so a caller converts
// between them with a plain type conversion.
package images
