package kinds

import (
	"encoding/json"
	"testing"
)

// FuzzCoreKinds decodes arbitrary JSON into a core kind and runs it through
// everything the server does with it; nothing may panic.
func FuzzCoreKinds(f *testing.F) {
	seeds := []string{
		`{"metadata":{"name":"web","namespace":"default"},"spec":{"initContainers":[{"name":"i","image":"busybox","restartPolicy":"Always","startupProbe":{"grpc":{"port":9}}}],"containers":[{"name":"app","image":"nginx","ports":[{"containerPort":80}],"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],"resources":{"limits":{"cpu":"1"}},"livenessProbe":{"httpGet":{"port":"http"}},"lifecycle":{"preStop":{"sleep":{"seconds":1}}}}],"volumes":[{"name":"v"},{"name":"p","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}}],"ephemeralContainers":[{"name":"dbg","image":"busybox"}]},"status":{"phase":"Running","initContainerStatuses":[{"name":"i","state":{"terminated":{"exitCode":1}}}],"containerStatuses":[{"name":"app","ready":true,"state":{"running":{}},"lastState":{"terminated":{"finishedAt":"2025-01-01T00:00:00Z"}}}]}}`,
		`{"metadata":{"name":"svc"},"spec":{"type":"LoadBalancer","clusterIP":"10.0.0.1","ports":[{"port":80,"nodePort":30001,"targetPort":"http"}],"sessionAffinity":"ClientIP"},"status":{"loadBalancer":{"ingress":[{"hostname":"lb"}]}}}`,
		`{"metadata":{"name":"n"},"spec":{"podCIDR":"10.244.0.0/24","taints":[{"key":"k","effect":"NoSchedule"}]},"status":{"capacity":{"cpu":"4"},"conditions":[{"type":"Ready","status":"False"}],"addresses":[{"type":"InternalIP","address":"10.0.0.2"}]}}`,
		`{"metadata":{"name":"s"},"type":"kubernetes.io/tls","data":{"tls.crt":"YQ=="},"stringData":{"tls.key":"k"}}`,
		`{"metadata":{"name":"ep"},"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]}`,
		`{"metadata":{"name":"e"},"involvedObject":{"kind":"Pod","name":"p"},"series":{"count":2,"lastObservedTime":"2025-01-01T00:00:00.000000Z"}}`,
		`{"metadata":{"name":"es"},"addressType":"IPv6","endpoints":[{"addresses":["fd00::1"]}],"ports":[{"name":"x"}]}`,
		`{"metadata":{"name":"cm"},"data":{"a":"b"},"binaryData":{"a":"Yg=="},"immutable":true}`,
		`{"spec":{"finalizers":["kubernetes"]}}`,
		`{}`,
	}
	kinds := coreKinds()
	for i, s := range seeds {
		for j := range kinds {
			if i%len(kinds) == j || s == `{}` {
				f.Add(uint8(j), []byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := kinds[int(which)%len(kinds)]
		old := k.New()
		if err := json.Unmarshal(data, old); err != nil {
			return
		}
		obj := old.DeepCopyObject().(Object)
		if k.Default != nil {
			k.Default(obj)
		}
		if k.InitStatus != nil {
			k.InitStatus(obj)
		}
		_ = k.Validate(obj)
		if k.ValidateUpdate != nil {
			_ = k.ValidateUpdate(obj, old)
			_ = k.ValidateUpdate(old, obj)
		}
		if cells := k.Row(obj, tableNow); len(cells) != len(k.Columns) {
			t.Fatalf("%s: %d cells for %d columns", k.Resource, len(cells), len(k.Columns))
		}
		_ = k.Row(old, tableNow)
		if k.Fields != nil {
			_ = k.Fields(obj)
		}
	})
}
