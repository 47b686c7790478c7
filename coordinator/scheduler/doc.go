// Package scheduler places pods on nodes the way kube-scheduler's default
// profile does, for the subset of features keel serves.
//
// Cluster is the pure core: it holds nodes, the pods bound (or assumed
// bound) to them, namespaces and volumes, kept up to date incrementally,
// and Schedule filters and scores nodes for one pod and returns a
// Decision. It reads no clock and does no I/O. The queue of pods waiting
// to be scheduled (active, backing off, unschedulable until the cluster
// changes) is another pure type that takes now as an argument.
//
// Scheduler is the thin loop around both: it feeds informer events into
// the Cluster from one goroutine, binds through the pods/binding
// subresource from a pool of workers, and reports failures with the
// PodScheduled condition and FailedScheduling events.
package scheduler
