// Package clusterdns is the node's cluster DNS: the records of Services
// and EndpointSlices under the cluster domain, served on a node-local
// address, and everything else forwarded to the node's resolvers. It also
// answers at the pod bridge's address, the node's endpoint of the kube-dns
// service, through which other nodes' pods reach it.
//
// It is built as a pure core and thin shells. A View is the whole record
// set at one moment, built from plain objects; View.Answer turns a query
// into a response (or a decision to forward) with no I/O, so every record
// rule is table-tested without sockets. Source keeps the objects through
// client-go informers (and a snapshot file for restarts without the API)
// and swaps in a new View after changes. Server owns the sockets, the
// link holding the address, and the exchanges with upstream resolvers.
//
// It imports nothing of ours: the agent reads pods' resolver settings
// (ResolvConf) and services (Source, as the agent's ServiceLister) from it
// through the values cmd/agent wires in.
package clusterdns
