/*
 * rtt.c: one loopback TCP round trip, measured.  A forked echo server and a
 * client ping-pong a small message (TCP_NODELAY on both ends); after a
 * warm-up, N round trips are timed one by one.  Prints the median and the
 * mean in microseconds on one line: "rtt_us median=X mean=Y n=N".
 * Usage: rtt [round trips, default 20000] [message bytes, default 64]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int full(int fd, char *p, size_t n, int writing)
{
	while (n) {
		ssize_t r = writing ? write(fd, p, n) : read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	size_t len = argc > 2 ? (size_t)atoi(argv[2]) : 64;
	int warm = 2000;
	char buf[4096];
	if (n < 1 || len < 1 || len > sizeof buf)
		return 2;
	memset(buf, 'x', sizeof buf);
	int one = 1;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		die("listen");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) { /* echo server */
		int s = accept(ls, NULL, NULL);
		if (s < 0)
			die("accept");
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		while (full(s, buf, len, 0) == 0 && full(s, buf, len, 1) == 0)
			;
		_exit(0);
	}
	close(ls);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect");
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double *t = malloc(sizeof *t * (size_t)n);
	if (!t)
		die("malloc");
	for (int i = -warm; i < n; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (full(s, buf, len, 1) < 0 || full(s, buf, len, 0) < 0)
			die("ping-pong");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (i >= 0)
			t[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	}
	close(s);
	waitpid(pid, NULL, 0);
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += t[i];
	qsort(t, (size_t)n, sizeof *t, cmp);
	printf("rtt_us median=%.1f mean=%.1f n=%d\n", t[n / 2], sum / n, n);
	free(t);
	return 0;
}
