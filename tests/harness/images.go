package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	imagesOnce sync.Once
	imagesDir  string
	imagesErr  error
)

// Images returns a directory holding busybox.tar and demo.tar: the ones
// `make images` built (KEEL_IMAGES_DIR) or built here once.
func Images(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("KEEL_IMAGES_DIR"); dir != "" {
		return dir
	}
	imagesOnce.Do(func() {
		imagesDir, imagesErr = os.MkdirTemp("", "keel-images-")
		if imagesErr != nil {
			return
		}
		cmd := exec.Command("go", "run", "./cmd/mkimage", "-out", imagesDir)
		cmd.Dir = Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			imagesErr = fmt.Errorf("build test images: %v\n%s", err, out)
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return imagesDir
}

// PreloadImages copies the test images into dataDir's import directory,
// which an agent imports when it starts.
func PreloadImages(t testing.TB, dataDir string) {
	t.Helper()
	imports := filepath.Join(dataDir, "images", "import")
	if err := os.MkdirAll(imports, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"busybox.tar", "demo.tar"} {
		src, err := os.ReadFile(filepath.Join(Images(t), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(imports, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
