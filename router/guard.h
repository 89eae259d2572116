/* guard.h — the router's privacy guard: finds secrets and personal data in text, replaces them with
 * stable placeholders, and puts the values back into answers (also streamed ones).
 *
 * Contract
 *   - Pure functions over byte strings (UTF-8 or not): no I/O, no globals, no regex library; depends only
 *     on libc. Thread-safe as long as each guard_map / guard_restorer is used by one thread at a time.
 *   - Findings never overlap and come sorted by start. When two detectors claim overlapping bytes, the
 *     secret detectors win over personal-data ones, then the longer span.
 *   - Look-alikes are not findings: UUIDs, git SHAs, version strings, numbers that fail the Luhn or
 *     mod-97 check, invalid SSNs, RFC 2606 / RFC 5737 / RFC 3849 documentation domains and addresses
 *     (example.com, 192.0.2.x, 2001:db8::), loopback and unspecified IPs, placeholder passwords.
 *   - Redaction: each distinct value becomes <LABEL_N> (LABEL from guard_kind_label, N counted per label
 *     from 1 in order of first appearance); the same value gets the same placeholder across every call
 *     that shares a guard_map. Restoration replaces only placeholders that the map created.
 */
#ifndef HEARTH_ROUTER_GUARD_H
#define HEARTH_ROUTER_GUARD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    /* secrets */
    GUARD_AWS_KEY,        /* AKIA/ASIA... access key ids */
    GUARD_GCP_KEY,        /* AIza... API keys, GOCSPX- OAuth client secrets */
    GUARD_AZURE_KEY,      /* AccountKey= / SharedAccessKey= values, Entra client secrets (xxxNQ~...) */
    GUARD_GITHUB_TOKEN,   /* ghp_/gho_/ghu_/ghs_/ghr_, github_pat_ */
    GUARD_GITLAB_TOKEN,   /* glpat- and the other gl*- prefixes */
    GUARD_SLACK_TOKEN,    /* xoxb-/xoxp-/xoxa-/xoxr-/xoxs-, hooks.slack.com webhooks */
    GUARD_STRIPE_KEY,     /* sk_live_/sk_test_/rk_*, whsec_ */
    GUARD_OPENAI_KEY,     /* sk-..., sk-proj-..., sk-ant-... */
    GUARD_PRIVATE_KEY,    /* -----BEGIN ... PRIVATE KEY----- blocks (also with \n escapes inside JSON) */
    GUARD_JWT,            /* eyJ...eyJ...sig */
    GUARD_URL_PASSWORD,   /* scheme://user:PASSWORD@host; Password=/Pwd= in connection strings */
    GUARD_SECRET_ASSIGN,  /* api_key = "...", password: ..., token=... with a secret-looking value */
    /* personal data */
    GUARD_EMAIL,
    GUARD_PHONE,          /* +CC international, North American (NANP rules), or after a phone keyword */
    GUARD_CARD,           /* 13-19 digits, known issuer prefix, Luhn-valid */
    GUARD_IBAN,           /* country length table + mod-97 == 1 */
    GUARD_IPV4,
    GUARD_IPV6,
    GUARD_SSN,            /* US SSN with area/group/serial validity rules */
    GUARD_N_KINDS
} guard_kind;

typedef struct {
    guard_kind kind;
    size_t start, len;   /* byte span in the scanned text */
} guard_finding;

typedef struct {
    guard_finding *v;
    size_t n, cap;
} guard_list;

typedef struct {
    bool disabled[GUARD_N_KINDS]; /* zero-initialised: every detector on */
} guard_config;

/* Stable short name ("aws_key", "email", ...), used in config files and logs. */
const char *guard_kind_name(guard_kind k);
/* Placeholder label: "SECRET" for every secret kind, else "EMAIL", "PHONE", "CARD", "IBAN", "IP", "SSN". */
const char *guard_kind_label(guard_kind k);
bool guard_kind_is_secret(guard_kind k);
/* Kind by name, or -1. */
int guard_kind_from_name(const char *name);

/* Scan text; appends findings to *out (which the caller zero-initialises and frees with guard_list_free).
 * Returns the number of findings added, or -1 when out of memory. cfg may be NULL (all detectors). */
long guard_scan(const guard_config *cfg, const char *text, size_t len, guard_list *out);
void guard_list_free(guard_list *l);

/* Validity checks, exposed for tests. digits: ASCII digits only. */
bool guard_luhn_ok(const char *digits, size_t n);
bool guard_iban_ok(const char *iban, size_t n); /* compact form, no spaces */
bool guard_ssn_ok(int area, int group, int serial);

/* ------------------------------------------------------------ redaction */

typedef struct guard_map guard_map;

guard_map *guard_map_new(void);
void guard_map_free(guard_map *m);
/* Number of distinct values the map holds. */
size_t guard_map_size(const guard_map *m);

/* Per-kind counts of findings (every occurrence, not distinct values). */
typedef struct {
    unsigned n[GUARD_N_KINDS];
} guard_counts;

/* Redacted copy of text (malloc'ed, NUL-terminated; *out_len set when not NULL), adding new values to the
 * map and occurrences to counts (may be NULL). NULL when out of memory. */
char *guard_redact(guard_map *m, const guard_config *cfg, const char *text, size_t len, guard_counts *counts,
                   size_t *out_len);
/* Text with every placeholder of the map replaced by its value (malloc'ed). */
char *guard_restore(const guard_map *m, const char *text, size_t len, size_t *out_len);

/* Streaming restoration: text arrives in arbitrary chunks (a placeholder may be split across them). Bytes
 * that might begin a placeholder are held back until the next chunk or guard_restorer_flush. */
typedef struct guard_restorer guard_restorer;
typedef bool (*guard_emit_fn)(void *user, const char *text, size_t len); /* false: stop (returned upward) */

guard_restorer *guard_restorer_new(const guard_map *m);
void guard_restorer_free(guard_restorer *r);
/* Emits restored text through emit; returns false if emit did (or out of memory). */
bool guard_restorer_feed(guard_restorer *r, const char *text, size_t len, guard_emit_fn emit, void *user);
bool guard_restorer_flush(guard_restorer *r, guard_emit_fn emit, void *user);

#endif
