package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// applyConfigFile sets the flags that the command line left unset from a
// YAML file whose keys are the flag names:
//
//	data-dir: /var/lib/keel
//	coordinator: true
//	join: [10.0.0.1:6443, 10.0.0.2:6443]
//	token: K10...
//
// The command line wins over the file; an unknown key, or a value the
// flag does not take, is an error naming the file and the key.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	return applyConfig(fs, path, data)
}

func applyConfig(fs *pflag.FlagSet, path string, data []byte) error {
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		f := fs.Lookup(key)
		if f == nil || key == "config" {
			return fmt.Errorf("config file %s: unknown key %q", path, key)
		}
		if f.Changed {
			continue
		}
		s, err := flagValue(values[key])
		if err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
		if err := fs.Set(key, s); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
	}
	return nil
}

// flagValue is a YAML value as the flag's text.
func flagValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := flagValue(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q holds a comma", s)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", fmt.Errorf("no value")
	}
	return "", fmt.Errorf("a %T is not a flag value", v)
}
