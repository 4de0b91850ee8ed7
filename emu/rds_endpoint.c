/*
 * rds_endpoint.c owns the rds_endpoints table: which listen address each
 * RDS endpoint has (contract in rds_endpoint.h).
 * May call: emu/store, emu/err.
 * Invariants: (addr, port) is unique; in loopback mode one address per
 * endpoint, allocated lowest first from 127.0.0.2 and never 127.0.0.1
 * (where the machine's own servers usually listen), skipping addresses
 * another process already listens on at that port.
 */
#include "emu/rds_endpoint.h"

#include "emu/err.h"
#include "emu/rds_common.h"
#include "emu/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct {
	bool dns_names;
	char fixed_host[64];
	int port_base;
} cfg = {false, "", 15432};

void rds_endpoint_configure(const struct rds_endpoint_config *c)
{
	cfg.dns_names = c && c->dns_names;
	snprintf(cfg.fixed_host, sizeof cfg.fixed_host, "%s", c && c->fixed_host ? c->fixed_host : "");
	cfg.port_base = c && c->port_base > 0 ? c->port_base : 15432;
}

/* The reported address of a row. */
static void report(const char *addr, const char *dns, char *address)
{
	/* bound to every interface (a container publishing its ports): clients
	 * reach it as the loopback address */
	if (strcmp(addr, "0.0.0.0") == 0)
		addr = "127.0.0.1";
	snprintf(address, RDS_ADDR_MAX, "%s", cfg.dns_names && *dns ? dns : addr);
}

int rds_endpoint_listen(struct store *s, const char *kind, const char *account, const char *region,
                        const char *owner, char addr[64], int *port)
{
	sqlite3_stmt *st = store_prep(s, "SELECT addr, port FROM rds_endpoints WHERE kind = ?1 AND account = ?2 "
	                                 "AND region = ?3 AND owner = ?4");
	if (!st)
		return -1;
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, account);
	store_bind_text(st, 3, region);
	store_bind_text(st, 4, owner);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(addr, 64, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
		*port = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Is (addr, port) free?  With port 0: is addr used at all?  1/0, -1 error. */
static int is_free(struct store *s, const char *addr, int port)
{
	sqlite3_stmt *st = store_prep(s, "SELECT 1 FROM rds_endpoints WHERE addr = ?1 AND (?2 = 0 OR port = ?2)");
	if (!st)
		return -1;
	store_bind_text(st, 1, addr);
	sqlite3_bind_int(st, 2, port);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 1 : rc == SQLITE_ROW ? 0 : -1;
}

/* Does another process (say a second emulator on this machine) already
 * listen on addr:port?  Such an address is skipped when allocating. */
static bool taken_elsewhere(const char *addr, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return false;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	bool taken = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == EADDRINUSE;
	close(fd);
	return taken;
}

int rds_endpoint_alloc(struct store *s, const char *kind, const char *account, const char *region,
                       const char *owner, const char *dns_name, int std_port, char *address, int *port,
                       struct emu_err *err)
{
	char addr[64];
	int rc = rds_endpoint_listen(s, kind, account, region, owner, addr, port);
	if (rc < 0)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	if (rc == 1) {
		if (rds_exec(s, RDS_PREP(s, "UPDATE rds_endpoints SET dns = ?5 WHERE kind = ?1 AND account = ?2 AND region = ?3 "
		                            "AND owner = ?4", kind, account, region, owner, dns_name ? dns_name : ""), err) < 0)
			return -1;
		report(addr, dns_name ? dns_name : "", address);
		return 0;
	}
	bool found = false;
	if (cfg.fixed_host[0]) {
		snprintf(addr, sizeof addr, "%s", cfg.fixed_host);
		for (int p = cfg.port_base; p <= 65535 && !found; p++) {
			if ((rc = is_free(s, addr, p)) < 0)
				return emu_err_set(err, ERR_INTERNAL, "internal storage error");
			if (rc == 1 && !taken_elsewhere(addr, p)) {
				*port = p;
				found = true;
			}
		}
	} else {
		/* 127.0.0.2 .. 127.255.255.254, skipping .0 and .255 host bytes. */
		for (unsigned n = 2; n < (1u << 24) - 1 && !found; n++) {
			if ((n & 0xff) == 0 || (n & 0xff) == 0xff)
				continue;
			snprintf(addr, sizeof addr, "127.%u.%u.%u", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
			if ((rc = is_free(s, addr, 0)) < 0)
				return emu_err_set(err, ERR_INTERNAL, "internal storage error");
			if (rc == 1 && !taken_elsewhere(addr, std_port)) {
				*port = std_port;
				found = true;
			}
		}
	}
	if (!found)
		return emu_err_set(err, ERR_INTERNAL, "no free endpoint address");
	sqlite3_stmt *st = store_prep(s, "INSERT INTO rds_endpoints(kind, account, region, owner, addr, port, dns) "
	                                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
	if (!st)
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, account);
	store_bind_text(st, 3, region);
	store_bind_text(st, 4, owner);
	store_bind_text(st, 5, addr);
	sqlite3_bind_int(st, 6, *port);
	store_bind_text(st, 7, dns_name ? dns_name : "");
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(s, err);
	sqlite3_reset(st);
	report(addr, dns_name ? dns_name : "", address);
	return 0;
}

int rds_endpoint_free(struct store *s, const char *kind, const char *account, const char *region,
                      const char *owner, struct emu_err *err)
{
	return rds_exec(s, RDS_PREP(s, "DELETE FROM rds_endpoints WHERE kind = ?1 AND account = ?2 AND region = ?3 "
	                               "AND owner = ?4", kind, account, region, owner), err);
}
