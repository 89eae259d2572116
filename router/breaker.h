/* breaker.h — a circuit breaker per upstream, so a dead endpoint is not hammered by every request.
 *
 * Contract
 *   - closed: calls go through; `failures` consecutive failures open it.
 *   - open: calls are refused until `cooldown_s` has passed since it opened; then it is half-open.
 *   - half-open: exactly one caller gets to probe; success closes, failure opens it again for another
 *     cool-down. Other callers are refused while the probe is in flight.
 *   - Time is passed in (seconds, any monotonic origin), so behaviour is testable without sleeping.
 *     Thread-safe (one mutex per breaker).
 */
#ifndef HEARTH_ROUTER_BREAKER_H
#define HEARTH_ROUTER_BREAKER_H

#include <pthread.h>
#include <stdbool.h>

typedef enum { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

typedef struct {
    pthread_mutex_t mu;
    breaker_state state;
    int failures, threshold;
    double cooldown_s, opened_at;
    bool probing;
} breaker;

void breaker_init(breaker *b, int threshold, double cooldown_s);
void breaker_destroy(breaker *b);
/* May a call go to this upstream now? A true answer in half-open state makes the caller the probe. */
bool breaker_allow(breaker *b, double now);
/* Report the outcome of a call that breaker_allow let through. */
void breaker_record(breaker *b, bool ok, double now);
breaker_state breaker_get(breaker *b, double now);
const char *breaker_state_name(breaker_state s);
/* Monotonic seconds. */
double breaker_now(void);

#endif
