// Package controllers runs the apps/v1 workload controllers of the
// coordinator: the ReplicaSet controller, which keeps a ReplicaSet's pods
// at its replica count, and the Deployment controller, which rolls a
// Deployment's pod template out through ReplicaSets. The DaemonSet
// controller keeps a pod on every eligible node and the StatefulSet
// controller keeps ordinal pods and their claims; both roll templates out
// through ControllerRevisions. The volume controller binds claims to
// volumes and provisions node-local volumes for the keel.dev/local-path
// provisioner.
//
// Each controller is a pure core and a thin loop. The core,
// decideReplicaSet or decideDeployment, takes the desired object, the
// observed objects it may own and the time, and returns a plan; it does no
// I/O and is table-tested. The loop watches the API with client-go
// informers, queues keys on a rate-limited workqueue, calls the core and
// carries the plan out through the typed client.
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
// The coordinator has no garbage collector, so these controllers delete
// what their owners leave behind: when a Deployment is gone, the
// ReplicaSets it controlled are deleted, and when a ReplicaSet is gone, the
// pods it controlled are deleted (background propagation). Before deleting
// dependents the loop confirms with a live read that the owner, by UID, is
// really gone. Orphan and Foreground propagation are not told apart from
// Background: every deletion of an owner cascades.
//
// The package talks to the API only through client-go; it must not reach
// into the store, the API server's internals or anything on the node side.
package controllers
