// Package pki owns the cluster's trust material: the cluster certificate
// authority, the API server's serving certificate, client certificates, the
// admin credentials (client certificate and bearer token), the admin
// kubeconfig, and authentication of API requests against them.
//
// Everything lives in one directory (the agent passes DATA/pki), created with
// mode 0700 on first start and reloaded afterwards. Every file is written
// atomically (temporary file, fsync, rename, fsync of the directory) with
// mode 0600; a private file found readable by group or others is refused.
//
// Files in the directory:
//
//	ca.crt, ca.key            cluster CA (ECDSA P-256, 10 years); ca.crt is written last
//	serving.crt, serving.key  API serving certificate (1 year, re-issued as needed)
//	admin.crt, admin.key      admin client certificate (CN keel-admin, O system:masters)
//	admin.token               admin bearer token (32 random bytes, base64url)
//
// The package must not log, must not put key material or tokens into errors,
// and must not call time.Now: callers pass the current time in. It knows
// nothing about the API server beyond the *http.Request it authenticates.
package pki
