/*
 * loop.c owns the epoll fd, the fd -> handler table and the timer list.
 * Invariants: handlers[fd].cb != NULL iff fd is registered; timers are kept
 * sorted by due time (few timers: the janitor owns per-connection timeouts).
 */
#include "emu/loop.h"

#include "emu/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct fd_handler {
	loop_fd_cb cb;
	void *ud;
	uint32_t events; /* as last given to epoll: unchanged masks cost no syscall */
};

struct timer {
	long long id, due;
	loop_timer_cb cb;
	void *ud;
};

struct hook {
	loop_before_sleep_cb cb;
	void *ud;
};

struct loop {
	int epfd;
	int stop;
	struct fd_handler *fds;
	int nfds;
	struct timer *timers;
	int ntimers, ctimers;
	long long next_id;
	struct hook hooks[8];
	int nhooks;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->fds);
	free(l->timers);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud)
{
	if (fd < 0)
		return -1;
	if (fd >= l->nfds) {
		int n = l->nfds ? l->nfds : 64;
		while (n <= fd)
			n *= 2;
		struct fd_handler *nf = realloc(l->fds, (size_t)n * sizeof *nf);
		if (!nf)
			return -1;
		memset(nf + l->nfds, 0, (size_t)(n - l->nfds) * sizeof *nf);
		l->fds = nf;
		l->nfds = n;
	}
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	l->fds[fd].cb = cb;
	l->fds[fd].ud = ud;
	l->fds[fd].events = events;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	if (fd >= 0 && fd < l->nfds && l->fds[fd].cb && l->fds[fd].events == events)
		return 0;
	struct epoll_event ev = {.events = events, .data.fd = fd};
	int rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
	if (rc == 0 && fd >= 0 && fd < l->nfds)
		l->fds[fd].events = events;
	return rc;
}

void loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].cb)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].cb = NULL;
	l->fds[fd].ud = NULL;
}

long long loop_add_timer(struct loop *l, long long ms, loop_timer_cb cb, void *ud)
{
	if (l->ntimers == l->ctimers) {
		int n = l->ctimers ? l->ctimers * 2 : 16;
		struct timer *nt = realloc(l->timers, (size_t)n * sizeof *nt);
		if (!nt)
			return -1;
		l->timers = nt;
		l->ctimers = n;
	}
	struct timer t = {.id = ++l->next_id, .due = clock_mono_ms() + (ms < 0 ? 0 : ms), .cb = cb, .ud = ud};
	int i = l->ntimers;
	while (i > 0 && l->timers[i - 1].due > t.due) {
		l->timers[i] = l->timers[i - 1];
		i--;
	}
	l->timers[i] = t;
	l->ntimers++;
	return t.id;
}

void loop_del_timer(struct loop *l, long long id)
{
	for (int i = 0; i < l->ntimers; i++) {
		if (l->timers[i].id == id) {
			memmove(&l->timers[i], &l->timers[i + 1], (size_t)(l->ntimers - i - 1) * sizeof *l->timers);
			l->ntimers--;
			return;
		}
	}
}

void loop_add_before_sleep(struct loop *l, loop_before_sleep_cb cb, void *ud)
{
	if (l->nhooks < (int)(sizeof l->hooks / sizeof l->hooks[0]))
		l->hooks[l->nhooks++] = (struct hook){cb, ud};
}

static void run_timers(struct loop *l)
{
	long long now = clock_mono_ms();
	/* Bounded: only timers due now; callbacks may add timers (due later). */
	int budget = l->ntimers;
	while (budget-- > 0 && l->ntimers > 0 && l->timers[0].due <= now) {
		struct timer t = l->timers[0];
		memmove(&l->timers[0], &l->timers[1], (size_t)(l->ntimers - 1) * sizeof *l->timers);
		l->ntimers--;
		t.cb(l, t.id, t.ud);
	}
}

int loop_once(struct loop *l, long long max_ms)
{
	long long wait = max_ms;
	for (int i = 0; i < l->nhooks; i++) {
		long long w = l->hooks[i].cb(l, l->hooks[i].ud);
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;
	}
	if (l->ntimers > 0) {
		long long w = l->timers[0].due - clock_mono_ms();
		if (w < 0)
			w = 0;
		if (wait < 0 || w < wait)
			wait = w;
	}
	if (wait > 1000000)
		wait = 1000000;
	struct epoll_event evs[64];
	int n = epoll_wait(l->epfd, evs, 64, (int)wait);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		if (fd >= 0 && fd < l->nfds && l->fds[fd].cb)
			l->fds[fd].cb(l, fd, evs[i].events, l->fds[fd].ud);
	}
	run_timers(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_once(l, -1) < 0)
			return -1;
	return 0;
}

void loop_stop(struct loop *l) { l->stop = 1; }
