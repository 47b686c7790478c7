// Package openapi builds the OpenAPI v2 and v3 documents of the served kinds
// and answers /openapi/v2 and /openapi/v3 with them.
//
// kubectl reads these documents to decide whether the server validates
// fields itself (the fieldValidation query parameter), to validate manifests
// on the client when it does not, to compute strategic merge patches and to
// explain fields. The schemas are derived by reflection from the Go types of
// the kinds in a kinds.Registry (json tags, omitempty, patchStrategy and
// patchMergeKey tags) and named the way Kubernetes names them, so the
// documents read like a Kubernetes API server's.
//
// Everything is built once by New; serving is a lookup of cached bytes.
// This package does not authenticate requests (the API server wraps the
// handler), does not know about storage, and does not describe paths the
// API server does not serve.
package openapi
