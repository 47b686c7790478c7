// Package store keeps the coordinator's desired state in one bbolt file.
//
// It owns buckets of string keys and []byte values, a single global
// revision, and a changelog of every change keyed by revision. It knows
// nothing of Kubernetes objects: callers hand it opaque bytes (through
// Op.Value) and get opaque bytes back. It must not import any other package
// of this project.
//
// # Layout on disk
//
//   - One bucket per resource ("pods", "deployments", ...), created by the
//     first write. A stored value is a 16-byte header (modification revision
//     and creation revision, big-endian) followed by the payload, sealed by
//     the bucket's Transformer when it has one. Preconditions read only the
//     header.
//   - "changelog": one record per revision, keyed by the big-endian revision,
//     holding every change of that commit (bucket, key, new and previous
//     stored value). It is written in the same transaction as the data.
//   - "meta": the current revision, the compacted revision and the format
//     version.
//
// A new store is at revision 1 and its first commit is revision 2, so
// "after revision 1" means "from the beginning" and 0 stays free to mean
// "from now" in Watch. Revision 1 never has a changelog record.
//
// # Writes
//
// Commit is an atomic transaction of one or more ops that takes exactly one
// new revision. A single writer goroutine takes every commit waiting (up to
// Config.MaxBatch), checks and applies them one after the other in one bbolt
// transaction, fsyncs once, and then answers all of them (group commit). A
// commit whose precondition fails writes nothing and does not disturb the
// others of its batch. Commit returns only once its data is on disk.
//
// # Reads and watches
//
// Get and List read bbolt snapshots and never wait for the writer. Watch
// replays the changelog from disk and then follows the writer's live
// fan-out, without gaps or duplicates. The writer never blocks on a
// watcher: one that falls too far behind is dropped with ErrTooSlow.
//
// The writer also compacts the changelog a bounded chunk at a time, keeping
// at least Config.ChangelogRetention revisions.
package store
