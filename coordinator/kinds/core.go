package kinds

// coreKinds returns the core/v1 kinds and discovery.k8s.io/v1
// EndpointSlice, in the order `kubectl api-resources` lists them.
func coreKinds() []*Kind {
	return []*Kind{
		configMapKind(),
		endpointsKind(),
		eventKind(),
		namespaceKind(),
		nodeKind(),
		podKind(),
		secretKind(),
		serviceAccountKind(),
		serviceKind(),
		endpointSliceKind(),
	}
}
