package kinds

// Builtin is the registry of every kind the API server serves.
func Builtin() (*Registry, error) {
	var ks []*Kind
	ks = append(ks, coreKinds()...)
	ks = append(ks, appsKinds()...)
	ks = append(ks, batchKinds()...)
	ks = append(ks, leaseKind())
	ks = append(ks, policyKinds()...)
	ks = append(ks, storageKinds()...)
	return NewRegistry(ks...)
}
