/*
 * The rotation runner: executes the rotation work the Secrets Manager
 * domain records (secret_rotations) by running each step of the rotation
 * "Lambda" - a local executable registered in the lambdas table - as a
 * child process watched on the event loop (never blocking it).
 */
#ifndef EMU_ROTATION_H
#define EMU_ROTATION_H

struct loop;
struct store;

/* Starts the runner: a 1 s timer looks for due work (scheduled rotations
 * whose NextRotationDate passed on the domain clock, retries, new
 * RotateSecret calls).  endpoint_url is given to every child as
 * AWS_ENDPOINT_URL / SECRETS_MANAGER_ENDPOINT.  0, or -1 on failure. */
int rotation_init(struct loop *l, struct store *s, const char *endpoint_url);
/* Kills every child, frees everything; the runner is off afterwards. */
void rotation_shutdown(void);
/* Looks for work on the next loop iteration (no-op when not running). */
void rotation_kick(void);
/* Kills every running child without recording a result (before a state
 * reset); the runner keeps running. */
void rotation_cancel_all(void);

#endif
