/*
 * Endpoint addresses of RDS resources (instances, cluster writer/reader,
 * proxy default and custom endpoints).  Each endpoint gets its own listen
 * address, stored in the rds_endpoints table: by default a loopback address
 * 127.0.0.N (N from 2 upward) at the engine's standard port, so that
 * Describe* -> connect works with no port in the name (design.md); in fixed
 * host mode every endpoint listens on one host (e.g. 127.0.0.1) at its own
 * port from a base upward.
 *
 * What Describe* reports as the address is, by default, the listen address
 * itself (names like x.abc.us-east-1.rds.amazonaws.com do not resolve on a
 * developer machine); in DNS mode it is the AWS-style DNS name, and
 * rds_endpoint_hosts() gives /etc/hosts lines for them.
 *
 * Called inside the domain's savepoint: a rolled back create frees nothing
 * and allocates nothing.  The runtime (emu/rdsrun.c) opens listeners for
 * the rows of rds_endpoints and closes those whose row is gone.
 */
#ifndef EMU_RDS_ENDPOINT_H
#define EMU_RDS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

struct store;
struct emu_err;

#define RDS_EP_KIND_INSTANCE "instance"
#define RDS_EP_KIND_CLUSTER "cluster"       /* cluster writer endpoint */
#define RDS_EP_KIND_CLUSTER_RO "cluster-ro" /* cluster reader endpoint */
#define RDS_EP_KIND_PROXY "proxy"           /* proxy default endpoint; owner = prx-... id */
#define RDS_EP_KIND_PROXY_ENDPOINT "proxy-endpoint" /* custom proxy endpoint; owner = its resource id */

#define RDS_ADDR_MAX 256

struct rds_endpoint_config {
	bool dns_names;         /* report DNS names instead of listen addresses */
	const char *fixed_host; /* NULL: 127.0.0.N per endpoint; else this host, ports from port_base */
	int port_base;          /* fixed host mode: first port (default 15432) */
};

/* Process-wide; NULL = defaults (127.0.0.N, addresses reported). */
void rds_endpoint_configure(const struct rds_endpoint_config *c);

/* Allocates the listen address of (kind, account, region, owner), or finds
 * the one it already has.  std_port: the port the endpoint would have in
 * AWS (5432, 3306 or the instance's Port).  dns_name: the AWS-style name.
 * Writes what Describe* reports into address (RDS_ADDR_MAX) and *port.
 * 0, or -1 with err (address space exhausted, storage error). */
int rds_endpoint_alloc(struct store *s, const char *kind, const char *account, const char *region,
                       const char *owner, const char *dns_name, int std_port, char *address, int *port,
                       struct emu_err *err);

/* Releases it (no error when there is none). */
int rds_endpoint_free(struct store *s, const char *kind, const char *account, const char *region,
                      const char *owner, struct emu_err *err);

/* The listen address of an endpoint: 1 found, 0 none, -1 error. */
int rds_endpoint_listen(struct store *s, const char *kind, const char *account, const char *region,
                        const char *owner, char addr[64], int *port);

#endif
