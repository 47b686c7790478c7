package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// mountKubectl adapts one of kubectl's own commands to agentctl: its help
// names agentctl, and it selects and checks the transport before running.
func mountKubectl(cmd *cobra.Command, getter *clientGetter) *cobra.Command {
	cmd.Short = renameKubectl(cmd.Short)
	cmd.Long = renameKubectl(cmd.Long)
	cmd.Example = renameKubectl(cmd.Example)
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		return getter.check(cmd.Context())
	}
	return cmd
}

// renameKubectl replaces the command name in kubectl's help text, leaving
// names such as kubectl.kubernetes.io/last-applied-configuration alone.
func renameKubectl(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "kubectl")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+len("kubectl"):]
		before := byte(' ')
		if i > 0 {
			before = s[i-1]
		}
		after := byte(' ')
		if rest != "" {
			after = rest[0]
		}
		if isWordByte(before) || after == '.' || after == '-' || isWordByte(after) {
			b.WriteString("kubectl")
		} else {
			b.WriteString("agentctl")
		}
		s = rest
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '/' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
