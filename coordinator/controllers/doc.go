// Package controllers runs the workload controllers of the coordinator:
// the ReplicaSet controller, which keeps a ReplicaSet's pods at its
// replica count; the Deployment controller, which rolls a Deployment's pod
// template out through ReplicaSets; the DaemonSet controller, which keeps a
// pod on every eligible node, and the StatefulSet controller, which keeps
// ordinal pods and their claims, both rolling templates out through
// ControllerRevisions; the volume controller, which binds claims to
// volumes and provisions node-local volumes for the keel.dev/local-path
// provisioner; the Job controller, which runs a Job's pods to completion;
// the CronJob controller, which creates Jobs on a schedule; and the
// garbage collector, which deletes what owners leave behind.
//
// Each controller is a pure core and a thin loop. The core
// (decideReplicaSet, decideDeployment, decideJob, decideCronJob, decideGC)
// takes the desired object, the observed objects it may own and the time,
// and returns a plan; it does no I/O and is table-tested. The loop watches
// the API with client-go informers, queues keys on a rate-limited
// workqueue, calls the core and carries the plan out through the client.
//
// Beside them run the Endpoints and EndpointSlice controller (the
// endpoints of every selector Service, from its pods), the node lifecycle
// controller (silent nodes turn Unknown and are tainted, their pods marked
// not ready), the taint manager (pods leave nodes with NoExecute taints
// they do not tolerate) and the disruption controller (the status of
// PodDisruptionBudgets, which the API server's eviction reads). Their cores
// are of the same kind: desiredSubsets, desiredSliceContents and
// reconcileSlices, decideNode, decideEvictions, decidePDB. Endpoints and
// slices of a deleted Service are deleted by the endpoints controller.
//
// The load balancer controller gives LoadBalancer services (without a
// class, or of class keel.dev/l2) addresses from the configured pool in
// status.loadBalancer.ingress; its core, decideLoadBalancers, decides
// over every service at once, oldest first, from nothing but the
// services, so a coordinator that takes over continues where the last
// one stopped. Nodes announce the addresses; see the agent package.
//
// The kube-dns controller keeps the EndpointSlices of kube-system/kube-dns,
// a Service without selector the coordinator makes: one endpoint per node
// that runs pods, at its pod bridge's address, where that node's agent
// answers DNS, ready while the node is Ready. Its core,
// desiredKubeDNSSlices and planKubeDNSSlices, takes the nodes and the
// existing slices and says what to write.
//
// The garbage collector follows metadata.ownerReferences across the kinds
// it watches. Owners delete nothing themselves: when an owner is gone, the
// collector deletes its dependents (background propagation); the API
// server records Orphan and Foreground deletions as the "orphan" and
// "foregroundDeletion" finalizers on the owner, which the collector
// removes once it has released or deleted the dependents. Before deleting
// a dependent, the collector confirms with a live read that its owner, by
// UID, is really gone.
//
// The package talks to the API only through client-go; it must not reach
// into the store, the API server's internals or anything on the node side.
package controllers
