package kinds

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Table cells are rendered the way kubectl shows them against Kubernetes:
// ages as "5m" or "<unknown>", empty values as "<none>", long lists cut to a
// few items followed by "+ N more...".

// ageSince renders how long ago ts was, kubectl style; a zero time is
// "<unknown>".
func ageSince(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// microAgeSince is ageSince for a MicroTime.
func microAgeSince(ts metav1.MicroTime, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// column describes a string column shown by default.
func column(name, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Description: desc}
}

// intColumn describes an integer column shown by default.
func intColumn(name, desc string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "integer", Description: desc}
}

// wide marks a column as shown only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// ageColumn is the AGE column every kind ends its default columns with.
func ageColumn() metav1.TableColumnDefinition {
	return column("Age", "Time since the object was created.")
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// orUnknown returns s, or "<unknown>" when s is empty.
func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// joinWithMore joins the first items (already cut to at most max) with
// commas and appends "+ N more..." when count exceeds max.
func joinWithMore(items []string, count, max int) string {
	s := strings.Join(items, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", s, count-max)
	}
	return s
}
