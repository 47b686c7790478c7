// Package kubectlbin finds the kubectl releases the tests drive: the one
// on PATH and the versioned ones (kubectl.1.27 ...) installed beside it.
package kubectlbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Versions are the kubectl releases every scenario runs with: the oldest and
// the newest the project supports.
var Versions = []string{"1.27", "1.33"}

// ErrNoKubectl reports that the kubectl on PATH, which the versioned
// releases are installed beside, is missing.
var ErrNoKubectl = errors.New("kubectl is not on PATH")

// BinaryDir is the directory the versioned releases (kubectl.1.27 ...) live
// in: the one holding the file that the kubectl on PATH resolves to.
func BinaryDir() (string, error) {
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoKubectl, err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	return filepath.Dir(real), nil
}

// Binary is the path of kubectl.<version> beside the kubectl on PATH, or an
// error wrapping os.ErrNotExist when that release is not installed.
func Binary(version string) (string, error) {
	dir, err := BinaryDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "kubectl."+version)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w", version, err)
	}
	if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("kubectl %s: %s is not an executable file: %w", version, p, os.ErrNotExist)
	}
	return p, nil
}

// Require returns the path of kubectl.<version>. When that release is
// missing the test fails if CI=true, since the CI machine must have every
// release, and is skipped with the reason otherwise.
func Require(t testing.TB, version string) string {
	t.Helper()
	p, err := Binary(version)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v: CI=true and the suite needs every supported kubectl release installed beside the kubectl on PATH", err)
	}
	t.Skipf("%v: install it beside the kubectl on PATH to run this test", err)
	return ""
}
