/*
 * A small epoll event loop in the shape of Redis's ae: file events, one-shot
 * timers, and a before-sleep hook that may shorten the next wait (used to
 * honour libmicrohttpd's own timeout).  Single-threaded: every callback runs
 * on the loop thread.
 */
#ifndef EMU_LOOP_H
#define EMU_LOOP_H

#include <stdint.h>

struct loop;
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *ud);
typedef void (*loop_timer_cb)(struct loop *l, long long id, void *ud);
/* Returns the longest the loop may sleep in ms, or -1 for "no limit". */
typedef long long (*loop_before_sleep_cb)(struct loop *l, void *ud);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* events: EPOLLIN/EPOLLOUT/... ; level-triggered. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *ud);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
void loop_del_fd(struct loop *l, int fd);
/* One-shot timer after ms milliseconds; returns an id > 0. */
long long loop_add_timer(struct loop *l, long long ms, loop_timer_cb cb, void *ud);
void loop_del_timer(struct loop *l, long long id);
void loop_add_before_sleep(struct loop *l, loop_before_sleep_cb cb, void *ud);
/* Runs until loop_stop; returns 0, or -1 if epoll itself failed. */
int loop_run(struct loop *l);
/* Runs one iteration, waiting at most max_ms (tests and shutdown drains). */
int loop_once(struct loop *l, long long max_ms);
void loop_stop(struct loop *l);

#endif
