/* breaker.c — see breaker.h. */
#include "breaker.h"

#include <time.h>

void breaker_init(breaker *b, int threshold, double cooldown_s) {
    pthread_mutex_init(&b->mu, NULL);
    b->state = BREAKER_CLOSED;
    b->failures = 0;
    b->threshold = threshold > 0 ? threshold : 1;
    b->cooldown_s = cooldown_s;
    b->opened_at = 0;
    b->probing = false;
}

void breaker_destroy(breaker *b) { pthread_mutex_destroy(&b->mu); }

/* open -> half-open once the cool-down has passed (called with the lock held) */
static void tick(breaker *b, double now) {
    if (b->state == BREAKER_OPEN && now - b->opened_at >= b->cooldown_s) {
        b->state = BREAKER_HALF_OPEN;
        b->probing = false;
    }
}

bool breaker_allow(breaker *b, double now) {
    pthread_mutex_lock(&b->mu);
    tick(b, now);
    bool ok = b->state == BREAKER_CLOSED;
    if (b->state == BREAKER_HALF_OPEN && !b->probing) ok = b->probing = true;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

void breaker_record(breaker *b, bool ok, double now) {
    pthread_mutex_lock(&b->mu);
    if (ok) {
        b->state = BREAKER_CLOSED;
        b->failures = 0;
    } else if (b->state == BREAKER_HALF_OPEN || ++b->failures >= b->threshold) {
        b->state = BREAKER_OPEN;
        b->opened_at = now;
        b->failures = 0;
    }
    b->probing = false;
    pthread_mutex_unlock(&b->mu);
}

breaker_state breaker_get(breaker *b, double now) {
    pthread_mutex_lock(&b->mu);
    tick(b, now);
    breaker_state s = b->state;
    pthread_mutex_unlock(&b->mu);
    return s;
}

const char *breaker_state_name(breaker_state s) {
    return s == BREAKER_CLOSED ? "closed" : s == BREAKER_OPEN ? "open" : "half-open";
}

double breaker_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
