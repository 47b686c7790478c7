// Package conformance holds only a test: that the image store satisfies
// the agent's Images interface through plain type conversions. It is kept
// apart so the store's own tests do not depend on the agent package.
package conformance
