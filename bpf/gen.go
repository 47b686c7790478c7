// Package bpf holds the eBPF programs of service load balancing, their
// maps and their loader: SocketLB translates service addresses at the
// cgroup socket hooks, from maps pinned in bpffs that outlive the agent.
// Generated names stay in this package.
package bpf

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" sock c/sock.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" tc c/tc.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" fwd c/fwd.c
