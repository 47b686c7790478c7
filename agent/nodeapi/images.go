package nodeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/keel-edge/keel/runtimeapi"
)

// Images is the node's image store, as the node API exposes it.
type Images interface {
	// Import stores the images of an OCI-layout or docker-archive tarball.
	Import(ctx context.Context, r io.Reader) ([]runtimeapi.Image, error)
	// List returns the stored images.
	List() []runtimeapi.Image
	// Remove deletes a reference; os.ErrNotExist when there is none.
	Remove(ref string) error
}

// maxImport bounds an imported tarball.
const maxImport = 8 << 30

// serveImages answers GET /images (list), POST /images (import the body)
// and DELETE /images?ref=REF.
func (s *Server) serveImages(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Images == nil {
		http.Error(w, "this node serves no image store", http.StatusNotImplemented)
		return
	}
	var out any
	switch r.Method {
	case http.MethodGet:
		out = s.cfg.Images.List()
	case http.MethodPost:
		imgs, err := s.cfg.Images.Import(r.Context(), io.LimitReader(r.Body, maxImport))
		if err != nil {
			http.Error(w, "import: "+err.Error(), http.StatusBadRequest)
			return
		}
		out = imgs
	case http.MethodDelete:
		ref := r.URL.Query().Get("ref")
		err := s.cfg.Images.Remove(ref)
		switch {
		case errors.Is(err, os.ErrNotExist):
			http.Error(w, "image "+ref+" not found", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "remove "+ref+": "+err.Error(), http.StatusConflict)
			return
		}
		out = []string{ref}
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
