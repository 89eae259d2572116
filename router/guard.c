/* guard.c — hand-written detectors for secrets and personal data, redaction and restoration.
 * See guard.h for the contract. Each detector scans the whole text for its own anchors (a prefix, an '@',
 * a digit run...) and checks structure and checksums; overlaps are resolved once at the end. */
#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ kinds */

static const struct {
    const char *name, *label;
} kinds[GUARD_N_KINDS] = {
    [GUARD_AWS_KEY] = {"aws_key", "SECRET"},         [GUARD_GCP_KEY] = {"gcp_key", "SECRET"},
    [GUARD_AZURE_KEY] = {"azure_key", "SECRET"},     [GUARD_GITHUB_TOKEN] = {"github_token", "SECRET"},
    [GUARD_GITLAB_TOKEN] = {"gitlab_token", "SECRET"}, [GUARD_SLACK_TOKEN] = {"slack_token", "SECRET"},
    [GUARD_STRIPE_KEY] = {"stripe_key", "SECRET"},   [GUARD_OPENAI_KEY] = {"openai_key", "SECRET"},
    [GUARD_PRIVATE_KEY] = {"private_key", "SECRET"}, [GUARD_JWT] = {"jwt", "SECRET"},
    [GUARD_URL_PASSWORD] = {"url_password", "SECRET"}, [GUARD_SECRET_ASSIGN] = {"secret_assignment", "SECRET"},
    [GUARD_EMAIL] = {"email", "EMAIL"},              [GUARD_PHONE] = {"phone", "PHONE"},
    [GUARD_CARD] = {"card", "CARD"},                 [GUARD_IBAN] = {"iban", "IBAN"},
    [GUARD_IPV4] = {"ipv4", "IP"},                   [GUARD_IPV6] = {"ipv6", "IP"},
    [GUARD_SSN] = {"ssn", "SSN"},
};

const char *guard_kind_name(guard_kind k) { return (unsigned)k < GUARD_N_KINDS ? kinds[k].name : "?"; }
const char *guard_kind_label(guard_kind k) { return (unsigned)k < GUARD_N_KINDS ? kinds[k].label : "?"; }
bool guard_kind_is_secret(guard_kind k) { return k <= GUARD_SECRET_ASSIGN; }

int guard_kind_from_name(const char *name) {
    for (int k = 0; k < GUARD_N_KINDS; k++)
        if (!strcmp(kinds[k].name, name)) return k;
    return -1;
}

/* ------------------------------------------------------------ character helpers (ASCII only: locale-free) */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(int c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(int c) { return is_upper(c) || is_lower(c); }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool is_word(int c) { return is_alnum(c) || c == '_'; }
static bool is_b64url(int c) { return is_alnum(c) || c == '_' || c == '-'; }
static bool is_b64(int c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; }
static int lower(int c) { return is_upper(c) ? c + 32 : c; }

typedef bool (*cls_fn)(int);

/* Length of the run of class `f` starting at i. */
static size_t run(const char *s, size_t n, size_t i, cls_fn f) {
    size_t j = i;
    while (j < n && f((unsigned char)s[j])) j++;
    return j - i;
}

/* Case-insensitive prefix match of the NUL-terminated word w at s[i]. */
static bool at_ci(const char *s, size_t n, size_t i, const char *w) {
    size_t k = 0;
    for (; w[k]; k++)
        if (i + k >= n || lower((unsigned char)s[i + k]) != lower((unsigned char)w[k])) return false;
    return true;
}

static bool at(const char *s, size_t n, size_t i, const char *w) {
    size_t k = strlen(w);
    return i + k <= n && !memcmp(s + i, w, k);
}

static int ch(const char *s, size_t n, size_t i) { return i < n ? (unsigned char)s[i] : 0; }
static int prev(const char *s, size_t i) { return i ? (unsigned char)s[i - 1] : 0; }

/* Case-insensitive substring test within s[a, b). */
static bool contains_ci(const char *s, size_t a, size_t b, const char *w) {
    size_t k = strlen(w);
    for (size_t i = a; i + k <= b; i++)
        if (at_ci(s, b, i, w)) return true;
    return false;
}

/* ------------------------------------------------------------ findings */

static bool add(guard_list *l, guard_kind k, size_t start, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        guard_finding *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (guard_finding){k, start, len};
    return true;
}

void guard_list_free(guard_list *l) {
    free(l->v);
    *l = (guard_list){0};
}

/* Shannon entropy in bits per byte. */
static double entropy(const char *s, size_t n) {
    if (!n) return 0;
    unsigned cnt[256] = {0};
    for (size_t i = 0; i < n; i++) cnt[(unsigned char)s[i]]++;
    double h = 0;
    for (int c = 0; c < 256; c++) {
        if (!cnt[c]) continue;
        double p = (double)cnt[c] / (double)n;
        /* log2 without libm: the module stays dependency-free; ln via a short series is enough here */
        double x = p, l2 = 0;
        while (x < 0.5) { x *= 2; l2 -= 1; }
        /* x in [0.5, 1): log2(x) = ln(x)/ln2, ln(x) = 2 atanh((x-1)/(x+1)) */
        double y = (x - 1) / (x + 1), y2 = y * y, t = y, ln = 0;
        for (int k = 1; k < 30; k += 2) { ln += t / k; t *= y2; }
        l2 += 2 * ln / 0.6931471805599453;
        h -= p * l2;
    }
    return h;
}

/* Values that documentation uses in place of a real secret. */
static bool placeholder_value(const char *v, size_t n) {
    static const char *const words[] = {"example", "your", "xxxx", "****", "....", "placeholder", "dummy",
                                        "redacted", "changeme", "change_me", "replace", "insert", "todo",
                                        "secret_here", "key_here", "token_here", "<", ">", "${", "{{", "%(",
                                        "process.env", "os.environ", "getenv", "env(", "env.", "fake", "sample",
                                        "test123", "foobar", "none", "null", "true", "false", "undefined",
                                        "password", "passw0rd", "secret", "hunter", "1234567", "abcdef"};
    if (!n) return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (contains_ci(v, 0, n, words[i])) return true;
    if (v[0] == '$' || v[0] == '%' || v[0] == '@' || v[0] == '&' || v[0] == '*') return true;
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += v[i] == v[0];
    return same == n;
}

/* ------------------------------------------------------------ secrets with a known prefix */

/* Token = prefix + run of `cls` of at least min_body (at most max_body, 0: no limit) bytes, not glued to a
 * preceding word character or to a longer run. */
static bool prefixed(const char *s, size_t n, guard_list *out, guard_kind k, const char *prefix, cls_fn cls,
                     size_t min_body, size_t max_body, bool need_digit) {
    size_t pl = strlen(prefix);
    for (size_t i = 0; i + pl <= n; i++) {
        if (s[i] != prefix[0] || !at(s, n, i, prefix) || is_word(prev(s, i))) continue;
        size_t body = run(s, n, i + pl, cls);
        if (body < min_body || (max_body && body > max_body)) continue;
        if (need_digit) {
            bool d = false, a = false;
            for (size_t j = i + pl; j < i + pl + body; j++) { d |= is_digit((unsigned char)s[j]); a |= is_alpha((unsigned char)s[j]); }
            if (!d || !a) continue;
        }
        /* documentation keys (AWS's AKIAIOSFODNN7EXAMPLE and the like) */
        if (contains_ci(s, i, i + pl + body, "EXAMPLE")) continue;
        if (!add(out, k, i, pl + body)) return false;
        i += pl + body - 1;
    }
    return true;
}

static bool upper_digit(int c) { return is_upper(c) || is_digit(c); }
static bool azure_secret_char(int c) { return is_alnum(c) || c == '_' || c == '~' || c == '.' || c == '-'; }
static bool slack_char(int c) { return is_alnum(c) || c == '-'; }

static bool det_prefixed(const char *s, size_t n, guard_list *out, const guard_config *cfg) {
    static const struct {
        guard_kind k;
        const char *prefix;
        cls_fn cls;
        size_t min, max;
        bool need_digit;
    } t[] = {
        {GUARD_AWS_KEY, "AKIA", upper_digit, 16, 16, false}, {GUARD_AWS_KEY, "ASIA", upper_digit, 16, 16, false},
        {GUARD_AWS_KEY, "ABIA", upper_digit, 16, 16, false}, {GUARD_AWS_KEY, "ACCA", upper_digit, 16, 16, false},
        {GUARD_GCP_KEY, "AIza", is_b64url, 35, 35, false},   {GUARD_GCP_KEY, "GOCSPX-", is_b64url, 28, 28, false},
        {GUARD_GITHUB_TOKEN, "ghp_", is_alnum, 36, 255, false}, {GUARD_GITHUB_TOKEN, "gho_", is_alnum, 36, 255, false},
        {GUARD_GITHUB_TOKEN, "ghu_", is_alnum, 36, 255, false}, {GUARD_GITHUB_TOKEN, "ghs_", is_alnum, 36, 255, false},
        {GUARD_GITHUB_TOKEN, "ghr_", is_alnum, 36, 255, false}, {GUARD_GITHUB_TOKEN, "github_pat_", is_word, 22, 255, false},
        {GUARD_GITLAB_TOKEN, "glpat-", is_b64url, 20, 255, false}, {GUARD_GITLAB_TOKEN, "gldt-", is_b64url, 20, 255, false},
        {GUARD_GITLAB_TOKEN, "glrt-", is_b64url, 20, 255, false},  {GUARD_GITLAB_TOKEN, "glptt-", is_b64url, 20, 255, false},
        {GUARD_GITLAB_TOKEN, "glcbt-", is_b64url, 20, 255, false}, {GUARD_GITLAB_TOKEN, "glsoat-", is_b64url, 20, 255, false},
        {GUARD_GITLAB_TOKEN, "glft-", is_b64url, 20, 255, false},  {GUARD_GITLAB_TOKEN, "gloas-", is_b64url, 20, 255, false},
        {GUARD_SLACK_TOKEN, "xoxb-", slack_char, 10, 0, true}, {GUARD_SLACK_TOKEN, "xoxp-", slack_char, 10, 0, true},
        {GUARD_SLACK_TOKEN, "xoxa-", slack_char, 10, 0, true}, {GUARD_SLACK_TOKEN, "xoxr-", slack_char, 10, 0, true},
        {GUARD_SLACK_TOKEN, "xoxs-", slack_char, 10, 0, true}, {GUARD_SLACK_TOKEN, "xoxe-", slack_char, 10, 0, true},
        {GUARD_STRIPE_KEY, "sk_live_", is_alnum, 16, 0, false}, {GUARD_STRIPE_KEY, "sk_test_", is_alnum, 16, 0, false},
        {GUARD_STRIPE_KEY, "rk_live_", is_alnum, 16, 0, false}, {GUARD_STRIPE_KEY, "rk_test_", is_alnum, 16, 0, false},
        {GUARD_STRIPE_KEY, "whsec_", is_alnum, 24, 0, false},
        /* sk-..., sk-proj-..., sk-ant-api03-...: letters and digits both, so "sk-learn-..." prose is no key */
        {GUARD_OPENAI_KEY, "sk-", is_b64url, 20, 0, true},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!cfg->disabled[t[i].k] && !prefixed(s, n, out, t[i].k, t[i].prefix, t[i].cls, t[i].min, t[i].max, t[i].need_digit))
            return false;
    return true;
}

/* Azure: AccountKey=/SharedAccessKey= base64 values in connection strings; Entra ID client secrets
 * (3 chars, a digit, "Q~", 31-34 chars). */
static bool det_azure(const char *s, size_t n, guard_list *out) {
    static const char *const keys[] = {"AccountKey=", "SharedAccessKey=", "SharedAccessSignature=sig="};
    for (size_t w = 0; w < sizeof keys / sizeof keys[0]; w++) {
        size_t kl = strlen(keys[w]);
        for (size_t i = 0; i + kl <= n; i++) {
            if (!at_ci(s, n, i, keys[w]) || is_word(prev(s, i))) continue;
            size_t v = run(s, n, i + kl, is_b64);
            if (v >= 40 && !add(out, GUARD_AZURE_KEY, i + kl, v)) return false;
        }
    }
    for (size_t i = 4; i + 2 <= n; i++) {
        if (s[i] != 'Q' || s[i + 1] != '~' || !is_digit((unsigned char)s[i - 1])) continue;
        size_t st = i - 4;
        if (run(s, n, st, azure_secret_char) < 4 + 2 || is_word(prev(s, st)) || prev(s, st) == '~') continue;
        size_t body = run(s, n, i + 2, azure_secret_char);
        if (body >= 31 && body <= 34 && !add(out, GUARD_AZURE_KEY, st, 6 + body)) return false;
    }
    return true;
}

/* Slack incoming webhooks: the whole URL is the secret. */
static bool det_slack_webhook(const char *s, size_t n, guard_list *out) {
    static const char host[] = "hooks.slack.com/services/";
    for (size_t i = 0; i + sizeof host - 1 <= n; i++) {
        if (!at(s, n, i, host)) continue;
        size_t st = i >= 8 && at(s, n, i - 8, "https://") ? i - 8 : i;
        size_t p = i + sizeof host - 1;
        size_t body = 0;
        while (p + body < n && (is_alnum((unsigned char)s[p + body]) || s[p + body] == '/')) body++;
        if (body >= 20 && !add(out, GUARD_SLACK_TOKEN, st, p + body - st)) return false;
    }
    return true;
}

/* -----BEGIN [RSA |EC |OPENSSH |ENCRYPTED |PGP |DSA ]PRIVATE KEY[ BLOCK]----- ... END line. A block without
 * its END line extends over the base64 body (also inside JSON strings, where newlines are "\n"). */
static bool det_private_key(const char *s, size_t n, guard_list *out) {
    for (size_t i = 0; i + 11 <= n; i++) {
        if (!at(s, n, i, "-----BEGIN ")) continue;
        size_t j = i + 11, lim = j + 40;
        while (j < n && j < lim && (is_upper((unsigned char)s[j]) || s[j] == ' ') && !at(s, n, j, "PRIVATE KEY")) j++;
        if (!at(s, n, j, "PRIVATE KEY")) continue;
        j += 11;
        if (at(s, n, j, " BLOCK")) j += 6;
        if (!at(s, n, j, "-----")) continue;
        j += 5;
        size_t end = j;
        const char *e = NULL;
        for (size_t k = j; k + 9 <= n; k++)
            if (at(s, n, k, "-----END ")) { e = s + k; break; }
        if (e) {
            size_t k = (size_t)(e - s) + 9;
            while (k < n && (is_upper((unsigned char)s[k]) || s[k] == ' ')) k++;
            end = at(s, n, k, "-----") ? k + 5 : k;
        } else {
            while (end < n && (is_b64((unsigned char)s[end]) || s[end] == '\n' || s[end] == '\r' || s[end] == ' ' ||
                               s[end] == '\\' || s[end] == ':' || s[end] == '-'))
                end++;
        }
        if (!add(out, GUARD_PRIVATE_KEY, i, end - i)) return false;
        i = end - 1;
    }
    return true;
}

/* header.payload.signature, both JSON parts starting "eyJ" (base64url of '{"'). */
static bool det_jwt(const char *s, size_t n, guard_list *out) {
    for (size_t i = 0; i + 3 <= n; i++) {
        if (!at(s, n, i, "eyJ") || is_b64url(prev(s, i)) || prev(s, i) == '.') continue;
        size_t a = run(s, n, i, is_b64url);
        if (a < 10 || ch(s, n, i + a) != '.' || !at(s, n, i + a + 1, "eyJ")) continue;
        size_t b = run(s, n, i + a + 1, is_b64url);
        if (b < 10 || ch(s, n, i + a + 1 + b) != '.') continue;
        size_t c = run(s, n, i + a + 2 + b, is_b64url);
        if (c < 16) continue;
        size_t len = a + b + c + 2;
        if (!add(out, GUARD_JWT, i, len)) return false;
        i += len - 1;
    }
    return true;
}

static bool doc_domain(const char *d, size_t n); /* below, with e-mail */

static bool userinfo_char(int c) {
    return c > ' ' && c != '/' && c != '@' && c != '?' && c != '"' && c != '\'' && c != '<' && c != '>' && c < 127;
}

/* scheme://user:PASSWORD@host — only the password is a finding, so the rest of the URL stays readable;
 * Password=/Pwd= values in ADO/ODBC/libpq connection strings. */
static bool det_url_password(const char *s, size_t n, guard_list *out) {
    for (size_t i = 1; i + 3 <= n; i++) {
        if (!at(s, n, i, "://") || !is_alnum((unsigned char)s[i - 1])) continue;
        size_t u = i + 3, e = u;
        while (e < n && userinfo_char((unsigned char)s[e])) e++;
        if (ch(s, n, e) != '@') continue;
        const char *colon = memchr(s + u, ':', e - u);
        if (!colon) continue;
        size_t p = (size_t)(colon - s) + 1;
        size_t host = e + 1, hl = 0;
        while (host + hl < n && (is_alnum((unsigned char)s[host + hl]) || s[host + hl] == '.' || s[host + hl] == '-')) hl++;
        if (e - p < 1 || placeholder_value(s + p, e - p) || doc_domain(s + host, hl)) continue;
        if (!add(out, GUARD_URL_PASSWORD, p, e - p)) return false;
        i = e;
    }
    static const char *const keys[] = {"password=", "pwd=", "passwd="};
    for (size_t w = 0; w < 3; w++) {
        size_t kl = strlen(keys[w]);
        for (size_t i = 0; i + kl <= n; i++) {
            if (!at_ci(s, n, i, keys[w])) continue;
            int pc = prev(s, i);
            if (!(pc == 0 || pc == ';' || pc == ' ' || pc == '"' || pc == '\'' || pc == '\t')) continue;
            size_t v = i + kl, e = v;
            bool semi = false; /* connection strings have ';' between pairs */
            for (size_t k = i; k > 0 && k + 200 > i; k--) if (s[k - 1] == ';') { semi = true; break; }
            while (e < n && s[e] != ';' && s[e] != '"' && s[e] != '\'' && s[e] != ' ' && s[e] != '\n' && s[e] != '&') e++;
            if (!semi && ch(s, n, e) != ';') continue;
            if (e - v >= 4 && !placeholder_value(s + v, e - v) && !add(out, GUARD_URL_PASSWORD, v, e - v)) return false;
        }
    }
    return true;
}

/* name = "value" where the name says secret and the value looks like one. */
static bool det_assign(const char *s, size_t n, guard_list *out) {
    static const char *const pw_words[] = {"password", "passwd", "passphrase", "pwd"};
    static const char *const key_words[] = {"apikey", "api_key", "api-key", "secret", "token", "access_key",
                                            "accesskey", "private_key", "auth", "credential", "bearer"};
    static const char *const not_words[] = {"tokens", "tokenizer", "token_count", "token_type", "token_id",
                                            "tokenize", "author", "secretary", "_url", "_file", "_path", "_env",
                                            "_name", "_len", "_length", "_hash", "oauth2", "_id", "_type"};
    for (size_t i = 0; i < n; i++) {
        if (!is_word((unsigned char)s[i]) || is_word(prev(s, i)) || prev(s, i) == '-' || prev(s, i) == '.') continue;
        size_t nl = 0;
        while (i + nl < n && (is_word((unsigned char)s[i + nl]) || s[i + nl] == '-' || s[i + nl] == '.')) nl++;
        bool pw = false, key = false;
        for (size_t w = 0; w < 4; w++) pw |= contains_ci(s, i, i + nl, pw_words[w]);
        for (size_t w = 0; w < sizeof key_words / sizeof key_words[0]; w++) key |= contains_ci(s, i, i + nl, key_words[w]);
        for (size_t w = 0; w < sizeof not_words / sizeof not_words[0]; w++)
            if (contains_ci(s, i, i + nl, not_words[w])) pw = key = false;
        size_t name_end = i + nl;
        i = name_end - 1;
        /* FOO_KEY / storageKey: only with a long, random-looking value (below) */
        bool suffix_key = !pw && !key && nl >= 4 && at_ci(s, n, name_end - 3, "key") && !contains_ci(s, name_end - nl, name_end, "_id");
        if (!pw && !key && !suffix_key) continue;
        size_t j = name_end;
        if (ch(s, n, j) == '"' || ch(s, n, j) == '\'') j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
        if (at(s, n, j, ":=") || at(s, n, j, "=>")) j += 2;
        else if (ch(s, n, j) == '=' || ch(s, n, j) == ':') j++;
        else continue;
        if (ch(s, n, j) == '=') continue; /* ==: a comparison */
        while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
        if (at_ci(s, n, j, "bearer ")) j += 7;
        else if (at_ci(s, n, j, "basic ")) j += 6;
        size_t v = j, e;
        bool quoted = false;
        int q = ch(s, n, j);
        if (q == '"' || q == '\'' || q == '`') {
            quoted = true;
            v = j + 1;
            e = v;
            while (e < n && s[e] != q && s[e] != '\n' && e - v < 512) e++;
            if (ch(s, n, e) != q) continue;
        } else {
            e = v;
            while (e < n && s[e] > ' ' && s[e] != ',' && s[e] != ';' && s[e] != ')' && s[e] != '}' && s[e] != ']' &&
                   s[e] != '(' && s[e] != '[' && s[e] != '"' && s[e] != '\'' && (unsigned char)s[e] < 127)
                e++;
            if (ch(s, n, e) == '(' || ch(s, n, e) == '[') continue; /* a call or an index: code */
        }
        size_t vl = e - v;
        if (vl == 0 || placeholder_value(s + v, vl)) continue;
        const char *val = s + v;
        int cls_lower = 0, cls_upper = 0, cls_digit = 0, cls_sym = 0, spaces = 0;
        for (size_t k = 0; k < vl; k++) {
            int c = (unsigned char)val[k];
            if (is_lower(c)) cls_lower = 1;
            else if (is_upper(c)) cls_upper = 1;
            else if (is_digit(c)) cls_digit = 1;
            else if (c == ' ') spaces++;
            else if (c != '_') cls_sym = 1;
        }
        int classes = cls_lower + cls_upper + cls_digit + cls_sym;
        bool secret;
        if (!quoted && !cls_digit) secret = false; /* unquoted and digit-free: a variable or attribute name */
        else if (suffix_key)
            secret = vl >= 20 && spaces == 0 && cls_digit && classes >= 2 && entropy(val, vl) >= 3.5;
        else if (pw)
            /* passwords can be low-entropy; an unquoted one must still not read like a variable name */
            secret = vl >= 6 && vl <= 128 && spaces == 0 && (quoted ? classes >= 2 || vl >= 10 : cls_digit || cls_sym);
        else
            secret = vl >= 12 && spaces == 0 && classes >= 2 && (cls_digit || cls_sym || classes >= 3) &&
                     entropy(val, vl) >= 3.0;
        /* paths, URLs and dotted identifiers are configuration, not the secret itself */
        if (secret && (memchr(val, '/', vl) && !pw && contains_ci(val, 0, vl, "://"))) secret = false;
        if (secret && !add(out, GUARD_SECRET_ASSIGN, v, vl)) return false;
        if (secret) i = e;
    }
    return true;
}

/* ------------------------------------------------------------ personal data */

/* RFC 2606 / 6761 names used in documentation. */
static bool doc_domain(const char *d, size_t n) {
    static const char *const tails[] = {"example.com", "example.org", "example.net", ".example", ".test", ".invalid",
                                        ".localhost", ".local", "localhost", "example.edu"};
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        size_t k = strlen(tails[t]);
        if (n >= k && at_ci(d, n, n - k, tails[t]) && (n == k || tails[t][0] == '.' || d[n - k - 1] == '.')) return true;
    }
    return false;
}

static bool email_local_char(int c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
static bool domain_char(int c) { return is_alnum(c) || c == '.' || c == '-'; }

static bool det_email(const char *s, size_t n, guard_list *out) {
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '@') continue;
        size_t a = i;
        while (a > 0 && email_local_char((unsigned char)s[a - 1])) a--;
        while (a < i && (s[a] == '.' || s[a] == '-')) a++;
        if (a == i || i - a > 64) continue;
        size_t e = i + 1;
        while (e < n && domain_char((unsigned char)s[e])) e++;
        while (e > i + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) e--;
        size_t dl = e - i - 1;
        const char *d = s + i + 1;
        const char *dot = NULL;
        for (size_t k = 0; k < dl; k++) if (d[k] == '.') dot = d + k;
        if (!dot || dot == d) continue;
        size_t tld = (size_t)(d + dl - dot - 1);
        bool tld_ok = tld >= 2 && tld <= 24;
        for (size_t k = 0; k < tld; k++) tld_ok &= is_alpha((unsigned char)dot[1 + k]);
        if (!tld_ok || strstr(d, "..") == d || doc_domain(d, dl)) continue;
        /* user:pass@host inside a URL is the URL detector's */
        if (a > 0 && s[a - 1] == ':') {
            bool url = false;
            for (size_t k = a - 1; k > 0 && k + 256 > a && s[k - 1] > ' '; k--)
                if (k >= 3 && at(s, n, k - 3, "://")) { url = true; break; }
            if (url) continue;
        }
        if ((i - a == 3 && at_ci(s, n, a, "git")) || at_ci(s, n, a, "noreply") || at_ci(s, n, a, "no-reply")) continue;
        if (!add(out, GUARD_EMAIL, a, e - a)) return false;
        i = e;
    }
    return true;
}

/* Digits with single separators from `seps` between them, starting at i. Returns the end (exclusive) after
 * the last digit and the digit count; digits copied to dig (cap 32). */
static size_t digit_groups(const char *s, size_t n, size_t i, const char *seps, char *dig, size_t *nd) {
    size_t j = i, end = i;
    *nd = 0;
    while (j < n) {
        if (is_digit((unsigned char)s[j])) {
            if (*nd < 32) dig[*nd] = s[j];
            (*nd)++;
            end = ++j;
        } else if (s[j] && strchr(seps, s[j]) && j + 1 < n && is_digit((unsigned char)s[j + 1]) && j > i &&
                   is_digit((unsigned char)s[j - 1])) {
            j++;
        } else break;
    }
    return end;
}

static bool num_boundary_before(const char *s, size_t i) {
    int c = prev(s, i);
    return !(is_alnum(c) || c == '.' || c == '-' || c == '/' || c == '_' || c == '+' || c == ':' || c == '#');
}

static bool num_boundary_after(const char *s, size_t n, size_t e) {
    int c = ch(s, n, e);
    if (is_alnum(c) || c == '_') return false;
    if ((c == '.' || c == '-' || c == '/' || c == ':') && is_digit(ch(s, n, e + 1))) return false;
    return true;
}

bool guard_luhn_ok(const char *d, size_t n) {
    int sum = 0;
    for (size_t k = 0; k < n; k++) {
        int v = d[n - 1 - k] - '0';
        if (k & 1) { v *= 2; if (v > 9) v -= 9; }
        sum += v;
    }
    return n > 0 && sum % 10 == 0;
}

static bool card_prefix_ok(const char *d, size_t n) {
    int p2 = (d[0] - '0') * 10 + d[1] - '0', p3 = p2 * 10 + d[2] - '0', p4 = p3 * 10 + d[3] - '0';
    if (d[0] == '4') return n == 13 || n == 16 || n == 19;                          /* Visa */
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16;      /* Mastercard */
    if (p2 == 34 || p2 == 37) return n == 15;                                       /* Amex */
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) return n >= 16;         /* Discover */
    if (p4 >= 3528 && p4 <= 3589) return n >= 16;                                   /* JCB */
    if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305)) return n >= 14;           /* Diners */
    if (p2 == 62) return n >= 16;                                                   /* UnionPay */
    if (p2 == 50 || (p2 >= 56 && p2 <= 69)) return n >= 12;                        /* Maestro */
    return false;
}

static bool det_card(const char *s, size_t n, guard_list *out) {
    char dig[32];
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]) || !num_boundary_before(s, i)) continue;
        size_t nd, e = digit_groups(s, n, i, " -", dig, &nd);
        if (nd >= 13 && nd <= 19 && num_boundary_after(s, n, e) && card_prefix_ok(dig, nd) && guard_luhn_ok(dig, nd)) {
            size_t same = 0;
            for (size_t k = 0; k < nd; k++) same += dig[k] == dig[0];
            if (same < nd - 1 && !add(out, GUARD_CARD, i, e - i)) return false;
        }
        i = e > i ? e - 1 : i;
    }
    return true;
}

/* IBAN lengths by country (ISO 13616 registry). */
static int iban_length(const char *cc) {
    static const char t[] = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24FI18FO18"
                            "FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IS26IT27JO30KW30KZ20LB28LI21LT20LU20LV21MC27"
                            "MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22SA24SE24SI19SK24SM27TN24TR26"
                            "UA29VG24XK20";
    for (size_t i = 0; i + 4 <= sizeof t - 1; i += 4)
        if (t[i] == cc[0] && t[i + 1] == cc[1]) return (t[i + 2] - '0') * 10 + t[i + 3] - '0';
    return 0;
}

bool guard_iban_ok(const char *iban, size_t n) {
    if (n < 15 || n > 34 || !is_upper((unsigned char)iban[0]) || !is_upper((unsigned char)iban[1]) ||
        !is_digit((unsigned char)iban[2]) || !is_digit((unsigned char)iban[3]) || iban_length(iban) != (int)n)
        return false;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        int c = (unsigned char)iban[(k + 4) % n];
        if (is_digit(c)) rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (is_upper(c)) rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else return false;
    }
    return rem == 1;
}

static bool det_iban(const char *s, size_t n, guard_list *out) {
    for (size_t i = 0; i + 15 <= n; i++) {
        if (!is_upper((unsigned char)s[i]) || !is_upper((unsigned char)s[i + 1]) || is_alnum(prev(s, i))) continue;
        int want = iban_length(s + i);
        if (!want || !is_digit((unsigned char)s[i + 2]) || !is_digit((unsigned char)s[i + 3])) continue;
        char buf[40];
        size_t k = 0, j = i;
        while (j < n && k < (size_t)want) {
            int c = (unsigned char)s[j];
            if (is_upper(c) || is_digit(c)) { buf[k++] = (char)c; j++; }
            else if (c == ' ' && k % 4 == 0 && k > 0 && j + 1 < n && is_alnum((unsigned char)s[j + 1])) j++;
            else break;
        }
        if (k != (size_t)want || is_alnum(ch(s, n, j)) || !guard_iban_ok(buf, k)) continue;
        if (!add(out, GUARD_IBAN, i, j - i)) return false;
        i = j - 1;
    }
    return true;
}

/* Looks like "version 1.2.3.4", "pkg==1.2.3.4", "v1.2.3.4" or "@1.2.3.4" just before position i. */
static bool version_context(const char *s, size_t i) {
    size_t a = i > 32 ? i - 32 : 0;
    if (contains_ci(s, a, i, "version") || contains_ci(s, a, i, "ver ") || contains_ci(s, a, i, "release") ||
        contains_ci(s, a, i, "==") || contains_ci(s, a, i, "upgrade") || contains_ci(s, a, i, "downgrade") ||
        contains_ci(s, a, i, "bump"))
        return true;
    int c = prev(s, i);
    return c == '@' || c == '=' || c == '~' || c == '^' || c == 'v' || c == 'V';
}

static bool det_ipv4(const char *s, size_t n, guard_list *out) {
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]) || is_alnum(prev(s, i)) || prev(s, i) == '.' || prev(s, i) == '_') continue;
        int oct[4];
        size_t j = i;
        int k = 0;
        bool ok = true;
        for (; k < 4; k++) {
            size_t d = run(s, n, j, is_digit);
            if (d == 0 || d > 3 || (d > 1 && s[j] == '0')) { ok = false; break; }
            oct[k] = 0;
            for (size_t t = 0; t < d; t++) oct[k] = oct[k] * 10 + s[j + t] - '0';
            if (oct[k] > 255) { ok = false; break; }
            j += d;
            if (k < 3) {
                if (ch(s, n, j) != '.') { ok = false; break; }
                j++;
            }
        }
        if (!ok) { i += run(s, n, i, is_digit); continue; }
        if (is_alnum(ch(s, n, j)) || (ch(s, n, j) == '.' && is_digit(ch(s, n, j + 1)))) { i = j; continue; }
        bool skip = oct[0] == 0 || oct[0] == 127 || oct[0] == 255 || oct[0] >= 224 ||
                    (oct[0] == 192 && oct[1] == 0 && oct[2] == 2) || (oct[0] == 198 && oct[1] == 51 && oct[2] == 100) ||
                    (oct[0] == 203 && oct[1] == 0 && oct[2] == 113) || version_context(s, i);
        if (!skip && !add(out, GUARD_IPV4, i, j - i)) return false;
        i = j;
    }
    return true;
}

static bool ipv6_char(int c) { return is_hex(c) || c == ':'; }

/* Parses s[0,n) as an IPv6 address (no embedded IPv4); returns the number of groups written, -1 if invalid. */
static int ipv6_parse(const char *s, size_t n, bool *compressed, size_t *first_len) {
    int groups = 0;
    *compressed = false;
    *first_len = 0;
    size_t i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') { *compressed = true; i = 2; }
    else if (n && s[0] == ':') return -1;
    while (i < n) {
        size_t g = run(s, n, i, is_hex);
        if (g == 0 || g > 4) return -1;
        if (groups == 0 && !*compressed) *first_len = g;
        groups++;
        i += g;
        if (i == n) break;
        if (s[i] != ':') return -1;
        if (i + 1 < n && s[i + 1] == ':') {
            if (*compressed) return -1;
            *compressed = true;
            i += 2;
        } else {
            i++;
            if (i == n) return -1;
        }
    }
    if (groups > 8 || (!*compressed && groups != 8) || (*compressed && groups > 7)) return -1;
    return groups;
}

static bool det_ipv6(const char *s, size_t n, guard_list *out) {
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (!ipv6_char(c) || is_alnum(prev(s, i)) || prev(s, i) == ':' || prev(s, i) == '_' || prev(s, i) == '.') continue;
        size_t l = run(s, n, i, ipv6_char);
        size_t colons = 0;
        for (size_t k = 0; k < l; k++) colons += s[i + k] == ':';
        /* a trailing single ':' is punctuation ("addr: fe80::1:"), not part of the address */
        size_t al = l;
        if (al >= 2 && s[i + al - 1] == ':' && s[i + al - 2] != ':') al--;
        bool comp;
        size_t first;
        int g = colons >= 2 && !is_alnum(ch(s, n, i + l)) && ch(s, n, i + l) != '.' ? ipv6_parse(s + i, al, &comp, &first) : -1;
        if (g > 0 && (g >= 3 || (comp && first == 4))) {
            bool doc = at_ci(s, n, i, "2001:db8:") || at_ci(s, n, i, "2001:0db8:");
            bool loop = al <= 3 || at_ci(s, n, i, "::1") || at_ci(s, n, i, "0:0:0:0:0:0:0:");
            if (!doc && !(loop && !is_hex(ch(s, n, i + 3))) && !add(out, GUARD_IPV6, i, al)) return false;
        }
        i += l ? l - 1 : 0;
    }
    return true;
}

bool guard_ssn_ok(int area, int group, int serial) {
    if (area <= 0 || area == 666 || area >= 900 || group <= 0 || serial <= 0) return false;
    /* famous published numbers (the Woolworth wallet card, ads, the 123-45-6789 example) */
    if ((area == 78 && group == 5 && serial == 1120) || (area == 219 && group == 9 && serial == 9999) ||
        (area == 123 && group == 45 && serial == 6789))
        return false;
    return true;
}

static bool keyword_before(const char *s, size_t i, const char *const *words, size_t nw, size_t window) {
    size_t a = i > window ? i - window : 0;
    for (size_t w = 0; w < nw; w++)
        for (size_t k = a; k < i; k++)
            if (at_ci(s, i, k, words[w]) && !is_alpha(prev(s, k))) return true;
    return false;
}

static bool det_ssn(const char *s, size_t n, guard_list *out) {
    static const char *const kw[] = {"ssn", "social security", "social-security", "ss#", "taxpayer"};
    for (size_t i = 0; i + 9 <= n; i++) {
        if (!is_digit((unsigned char)s[i]) || !num_boundary_before(s, i)) continue;
        size_t a = run(s, n, i, is_digit), e;
        int area, group, serial;
        if (a == 3 && (s[i + 3] == '-' || s[i + 3] == ' ') && run(s, n, i + 4, is_digit) == 2 && ch(s, n, i + 6) == s[i + 3] &&
            run(s, n, i + 7, is_digit) == 4) {
            e = i + 11;
            area = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + s[i + 2] - '0';
            group = (s[i + 4] - '0') * 10 + s[i + 5] - '0';
            serial = atoi((char[5]){s[i + 7], s[i + 8], s[i + 9], s[i + 10], 0});
            /* "123 45 6789" with spaces is only an SSN after a keyword */
            if (s[i + 3] == ' ' && !keyword_before(s, i, kw, 5, 24)) { i = e - 1; continue; }
        } else if (a == 9 && keyword_before(s, i, kw, 5, 24)) {
            e = i + 9;
            area = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + s[i + 2] - '0';
            group = (s[i + 3] - '0') * 10 + s[i + 4] - '0';
            serial = atoi((char[5]){s[i + 5], s[i + 6], s[i + 7], s[i + 8], 0});
        } else { i += a - 1; continue; }
        if (num_boundary_after(s, n, e) && guard_ssn_ok(area, group, serial) && !add(out, GUARD_SSN, i, e - i)) return false;
        i = e - 1;
    }
    return true;
}

static bool det_phone(const char *s, size_t n, guard_list *out) {
    char dig[32];
    size_t nd;
    for (size_t i = 0; i + 8 < n; i++) {
        /* international: +CC ... 8-15 digits */
        if (s[i] == '+' && is_digit(ch(s, n, i + 1)) && s[i + 1] != '0' && !is_alnum(prev(s, i)) && prev(s, i) != '+') {
            size_t e = digit_groups(s, n, i + 1, " -.()", dig, &nd);
            /* "(0)" trunk prefixes and "(20)" area codes: digit_groups stops at '(' after a space */
            while (nd < 15 && e + 1 < n && s[e] == ' ' && s[e + 1] == '(') {
                size_t close = e + 2 + run(s, n, e + 2, is_digit);
                if (ch(s, n, close) != ')' || close == e + 2) break;
                char more[32];
                size_t nm, e2 = digit_groups(s, n, close + 2, " -.", more, &nm);
                if (ch(s, n, close + 1) != ' ' || !nm) break;
                for (size_t k = e + 2; k < close && nd < 32; k++) dig[nd++] = s[k];
                for (size_t k = 0; k < nm && nd < 32; k++) dig[nd++] = more[k];
                e = e2;
            }
            if (nd >= 8 && nd <= 15 && num_boundary_after(s, n, e)) {
                if (!add(out, GUARD_PHONE, i, e - i)) return false;
                i = e - 1;
                continue;
            }
        }
        if (!num_boundary_before(s, i) || (!is_digit((unsigned char)s[i]) && s[i] != '(')) continue;
        /* North American: [1 ](NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX */
        size_t j = i;
        if (s[j] == '1' && (ch(s, n, j + 1) == ' ' || ch(s, n, j + 1) == '-' || ch(s, n, j + 1) == '.')) j += 2;
        bool paren = ch(s, n, j) == '(';
        if (paren) j++;
        if (run(s, n, j, is_digit) == 3 && (!paren || ch(s, n, j + 3) == ')')) {
            size_t a = j;
            j += 3 + paren;
            int sep = ch(s, n, j);
            if (paren && sep == ' ') j++;
            else if (sep == '-' || sep == '.' || sep == ' ') j++;
            else if (!paren) goto keyword;
            if (run(s, n, j, is_digit) == 3) {
                size_t x = j;
                int sep2 = ch(s, n, j + 3);
                if ((sep2 == '-' || sep2 == '.' || sep2 == ' ') && (paren || sep2 == sep) && run(s, n, j + 4, is_digit) == 4 &&
                    num_boundary_after(s, n, j + 8)) {
                    bool valid = s[a] >= '2' && !(s[a + 1] == '1' && s[a + 2] == '1') && s[x] >= '2' &&
                                 !(s[x + 1] == '1' && s[x + 2] == '1');
                    size_t st = paren && i < a - 1 ? i : (paren ? a - 1 : i);
                    if (valid) {
                        if (!add(out, GUARD_PHONE, st, j + 8 - st)) return false;
                        i = j + 7;
                        continue;
                    }
                }
            }
        }
    keyword:;
        /* anything 7-15 digits long right after a phone keyword */
        static const char *const kw[] = {"phone", "tel", "mobile", "cell", "fax", "call me", "whatsapp", "sms", "mob."};
        if (is_digit((unsigned char)s[i]) && keyword_before(s, i, kw, 9, 16)) {
            /* only punctuation and spaces between keyword and number */
            size_t k = i;
            while (k > 0 && !is_alpha((unsigned char)s[k - 1]) && s[k - 1] != '\n' && i - k < 8) k--;
            if (k > 0 && is_alpha((unsigned char)s[k - 1])) {
                size_t e = digit_groups(s, n, i, " -./", dig, &nd);
                if (nd >= 7 && nd <= 15 && num_boundary_after(s, n, e)) {
                    if (!add(out, GUARD_PHONE, i, e - i)) return false;
                    i = e - 1;
                }
            }
        }
    }
    return true;
}

/* ------------------------------------------------------------ scan */

static int rank_cmp(const void *pa, const void *pb) {
    const guard_finding *a = pa, *b = pb;
    bool sa = guard_kind_is_secret(a->kind), sb = guard_kind_is_secret(b->kind);
    if (sa != sb) return sa ? -1 : 1;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

static int start_cmp(const void *pa, const void *pb) {
    const guard_finding *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

long guard_scan(const guard_config *cfg, const char *text, size_t len, guard_list *out) {
    static const guard_config all_on;
    if (!cfg) cfg = &all_on;
    guard_list cand = {0};
    bool ok = det_prefixed(text, len, &cand, cfg);
#define RUN(kind, fn) if (ok && !cfg->disabled[kind]) ok = fn(text, len, &cand)
    RUN(GUARD_AZURE_KEY, det_azure);
    RUN(GUARD_SLACK_TOKEN, det_slack_webhook);
    RUN(GUARD_PRIVATE_KEY, det_private_key);
    RUN(GUARD_JWT, det_jwt);
    RUN(GUARD_URL_PASSWORD, det_url_password);
    RUN(GUARD_SECRET_ASSIGN, det_assign);
    RUN(GUARD_EMAIL, det_email);
    RUN(GUARD_CARD, det_card);
    RUN(GUARD_IBAN, det_iban);
    RUN(GUARD_IPV4, det_ipv4);
    RUN(GUARD_IPV6, det_ipv6);
    RUN(GUARD_SSN, det_ssn);
    RUN(GUARD_PHONE, det_phone);
#undef RUN
    if (!ok) { guard_list_free(&cand); return -1; }
    if (!cand.n) return 0;
    /* keep the best-ranked candidate of every overlapping group */
    qsort(cand.v, cand.n, sizeof *cand.v, rank_cmp);
    size_t first = out->n;
    for (size_t i = 0; i < cand.n; i++) {
        guard_finding *f = &cand.v[i];
        bool clash = false;
        for (size_t k = first; k < out->n && !clash; k++)
            clash = f->start < out->v[k].start + out->v[k].len && out->v[k].start < f->start + f->len;
        if (!clash && !add(out, f->kind, f->start, f->len)) { guard_list_free(&cand); return -1; }
    }
    guard_list_free(&cand);
    if (out->n > first) qsort(out->v + first, out->n - first, sizeof *out->v, start_cmp);
    return (long)(out->n - first);
}

/* ------------------------------------------------------------ redaction map */

typedef struct {
    char *value, *placeholder;
    size_t value_len, ph_len;
} map_entry;

struct guard_map {
    map_entry *v;
    size_t n, cap;
    unsigned counter[8]; /* per label */
};

static const char *const labels[] = {"SECRET", "EMAIL", "PHONE", "CARD", "IBAN", "IP", "SSN"};

guard_map *guard_map_new(void) { return calloc(1, sizeof(guard_map)); }

void guard_map_free(guard_map *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) { free(m->v[i].value); free(m->v[i].placeholder); }
    free(m->v);
    free(m);
}

size_t guard_map_size(const guard_map *m) { return m->n; }

static const map_entry *map_get(guard_map *m, guard_kind k, const char *v, size_t n) {
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].value_len == n && !memcmp(m->v[i].value, v, n)) return &m->v[i];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        map_entry *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv) return NULL;
        m->v = nv;
        m->cap = cap;
    }
    const char *label = guard_kind_label(k);
    size_t li = 0;
    while (li < 7 && strcmp(labels[li], label)) li++;
    char ph[32];
    int pl = snprintf(ph, sizeof ph, "<%s_%u>", label, ++m->counter[li]);
    map_entry e = {malloc(n + 1), strdup(ph), n, (size_t)pl};
    if (!e.value || !e.placeholder) { free(e.value); free(e.placeholder); return NULL; }
    memcpy(e.value, v, n);
    e.value[n] = 0;
    m->v[m->n] = e;
    return &m->v[m->n++];
}

char *guard_redact(guard_map *m, const guard_config *cfg, const char *text, size_t len, guard_counts *counts,
                   size_t *out_len) {
    guard_list f = {0};
    if (guard_scan(cfg, text, len, &f) < 0) return NULL;
    size_t cap = len + 1 + f.n * 16, o = 0;
    char *out = malloc(cap);
    size_t pos = 0;
    for (size_t i = 0; out && i < f.n; i++) {
        const map_entry *e = map_get(m, f.v[i].kind, text + f.v[i].start, f.v[i].len);
        if (!e) { free(out); out = NULL; break; }
        if (counts) counts->n[f.v[i].kind]++;
        size_t keep = f.v[i].start - pos;
        if (o + keep + e->ph_len + 1 > cap) {
            cap = (o + keep + e->ph_len + 1) * 2 + (len - pos);
            char *no = realloc(out, cap);
            if (!no) { free(out); out = NULL; break; }
            out = no;
        }
        memcpy(out + o, text + pos, keep);
        o += keep;
        memcpy(out + o, e->placeholder, e->ph_len);
        o += e->ph_len;
        pos = f.v[i].start + f.v[i].len;
    }
    guard_list_free(&f);
    if (!out) return NULL;
    if (o + (len - pos) + 1 > cap) {
        char *no = realloc(out, o + (len - pos) + 1);
        if (!no) { free(out); return NULL; }
        out = no;
    }
    memcpy(out + o, text + pos, len - pos);
    o += len - pos;
    out[o] = 0;
    if (out_len) *out_len = o;
    return out;
}

/* ------------------------------------------------------------ restoration */

#define PH_MAX 24 /* longest placeholder: "<SECRET_4294967295>" is 19 bytes */

/* How much of s[0,n) (starting with '<') matches the placeholder shape: returns its full length when it is a
 * complete placeholder, 0 when it cannot be one, -1 when it is a proper prefix of one (need more text). */
static long ph_shape(const char *s, size_t n) {
    size_t i = 1;
    while (i < n && is_upper((unsigned char)s[i])) i++;
    if (i == n) return i < PH_MAX ? -1 : 0;
    if (i == 1 || s[i] != '_') return 0;
    i++;
    size_t d = i;
    while (i < n && is_digit((unsigned char)s[i])) i++;
    if (i == n) return i < PH_MAX ? -1 : 0;
    if (i == d || s[i] != '>') return 0;
    return (long)i + 1;
}

static const map_entry *map_find_ph(const guard_map *m, const char *s, size_t n) {
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].ph_len == n && !memcmp(m->v[i].placeholder, s, n)) return &m->v[i];
    return NULL;
}

/* Restores s[0,n) through emit; returns how many bytes were consumed (the rest may be a partial placeholder
 * when !final), or (size_t)-1 when emit returned false. */
static size_t restore_some(const guard_map *m, const char *s, size_t n, bool final, guard_emit_fn emit, void *user) {
    size_t pos = 0, i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt) { i = n; break; }
        i = (size_t)(lt - s);
        long sh = ph_shape(s + i, n - i);
        if (sh < 0) {
            if (final) { i = n; break; }
            if (i > pos && !emit(user, s + pos, i - pos)) return (size_t)-1;
            return i;
        }
        const map_entry *e = sh > 0 ? map_find_ph(m, s + i, (size_t)sh) : NULL;
        if (e) {
            if (i > pos && !emit(user, s + pos, i - pos)) return (size_t)-1;
            if (!emit(user, e->value, e->value_len)) return (size_t)-1;
            i += (size_t)sh;
            pos = i;
        } else i++;
    }
    if (n > pos && !emit(user, s + pos, n - pos)) return (size_t)-1;
    return n;
}

typedef struct {
    char *buf;
    size_t len, cap;
} strbuf;

static bool sb_add(void *user, const char *t, size_t n) {
    strbuf *b = user;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return false;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, t, n);
    b->len += n;
    b->buf[b->len] = 0;
    return true;
}

char *guard_restore(const guard_map *m, const char *text, size_t len, size_t *out_len) {
    strbuf b = {0};
    if (!sb_add(&b, "", 0) || restore_some(m, text, len, true, sb_add, &b) == (size_t)-1) { free(b.buf); return NULL; }
    if (out_len) *out_len = b.len;
    return b.buf;
}

struct guard_restorer {
    const guard_map *m;
    char pend[PH_MAX + 1];
    size_t n_pend;
};

guard_restorer *guard_restorer_new(const guard_map *m) {
    guard_restorer *r = calloc(1, sizeof *r);
    if (r) r->m = m;
    return r;
}

void guard_restorer_free(guard_restorer *r) { free(r); }

bool guard_restorer_feed(guard_restorer *r, const char *text, size_t len, guard_emit_fn emit, void *user) {
    /* complete a held-back placeholder prefix with the start of this chunk */
    while (r->n_pend && len) {
        size_t take = len < PH_MAX - r->n_pend ? len : PH_MAX - r->n_pend;
        char tmp[2 * PH_MAX + 1];
        memcpy(tmp, r->pend, r->n_pend);
        memcpy(tmp + r->n_pend, text, take);
        size_t tn = r->n_pend + take;
        long sh = ph_shape(tmp, tn);
        if (sh < 0) { /* still a prefix: everything so far is held */
            memcpy(r->pend + r->n_pend, text, take);
            r->n_pend += take;
            text += take;
            len -= take;
            if (r->n_pend >= PH_MAX) { /* cannot happen with PH_MAX-bounded prefixes; be safe */
                if (!emit(user, r->pend, r->n_pend)) return false;
                r->n_pend = 0;
            }
            return true;
        }
        size_t old = r->n_pend;
        r->n_pend = 0;
        if (sh == 0) { /* not a placeholder: release '<' and re-examine the rest with the new text */
            if (!emit(user, tmp, 1)) return false;
            size_t rest_old = old - 1;
            if (rest_old) {
                /* the held bytes after '<' contain no '<' of a longer prefix only if re-fed; do it */
                char again[PH_MAX + 1];
                memcpy(again, tmp + 1, rest_old);
                size_t c = restore_some(r->m, again, rest_old, false, emit, user);
                if (c == (size_t)-1) return false;
                memcpy(r->pend, again + c, rest_old - c);
                r->n_pend = rest_old - c;
            }
            continue;
        }
        const map_entry *e = map_find_ph(r->m, tmp, (size_t)sh);
        if (e) { if (!emit(user, e->value, e->value_len)) return false; }
        else if (!emit(user, tmp, (size_t)sh)) return false;
        size_t used_new = (size_t)sh - old;
        text += used_new;
        len -= used_new;
    }
    if (!len) return true;
    size_t c = restore_some(r->m, text, len, false, emit, user);
    if (c == (size_t)-1) return false;
    memcpy(r->pend, text + c, len - c);
    r->n_pend = len - c;
    return true;
}

bool guard_restorer_flush(guard_restorer *r, guard_emit_fn emit, void *user) {
    size_t n = r->n_pend;
    r->n_pend = 0;
    return !n || restore_some(r->m, r->pend, n, true, emit, user) != (size_t)-1;
}
