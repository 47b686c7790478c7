// Package cluster holds the multi-node end-to-end suite: real agents,
// each in a network namespace of its own on one bridge, forming a
// cluster by gossip, driven with the real kubectl.
package cluster
