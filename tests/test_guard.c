/* test_guard.c — the privacy guard's detectors, checksums, redaction and (streamed) restoration.
 * The large planted corpus (recall and false-positive rate) is tests/router.test.sh's job; this file pins
 * each detector's edges: what must match, exactly which bytes, and the look-alikes that must not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../router/guard.h"
#include "testutil.h"

/* The single finding in text must be of kind k and cover exactly `want`. */
static void expect_one(const char *text, guard_kind k, const char *want) {
    guard_list l = {0};
    long n = guard_scan(NULL, text, strlen(text), &l);
    bool ok = n == 1 && l.v[0].kind == k && l.v[0].len == strlen(want) && !memcmp(text + l.v[0].start, want, l.v[0].len);
    CHECK(ok, "[%s] in \"%s\": got %ld finding(s)%s%.*s (%s)", guard_kind_name(k), text, n, n ? ", first " : "",
          n ? (int)l.v[0].len : 0, n ? text + l.v[0].start : "", n ? guard_kind_name(l.v[0].kind) : "");
    guard_list_free(&l);
}

static void expect_none(const char *text) {
    guard_list l = {0};
    long n = guard_scan(NULL, text, strlen(text), &l);
    CHECK(n == 0, "\"%s\": unexpected %s \"%.*s\"", text, n > 0 ? guard_kind_name(l.v[0].kind) : "?",
          n > 0 ? (int)l.v[0].len : 0, n > 0 ? text + l.v[0].start : "");
    guard_list_free(&l);
}

typedef struct {
    char buf[4096];
    size_t len;
} sink;

static bool to_sink(void *user, const char *t, size_t n) {
    sink *s = user;
    if (s->len + n >= sizeof s->buf) return false;
    memcpy(s->buf + s->len, t, n);
    s->len += n;
    s->buf[s->len] = 0;
    return true;
}

int main(void) {
    /* secrets with a known shape */
    expect_one("export AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986", GUARD_AWS_KEY, "AKIA2E0A8F3B244C9986");
    expect_none("the docs use AKIAIOSFODNN7EXAMPLE as the key id");
    expect_one("key=AIzaSyD3x7Qm0bZ4kLpT9vWn2cR8sUeYh6JfGaB here", GUARD_GCP_KEY, "AIzaSyD3x7Qm0bZ4kLpT9vWn2cR8sUeYh6JfGaB");
    expect_one("client 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 ok", GUARD_GCP_KEY, "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");
    expect_one("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=q0Wm3nV8sLk2Jd9Xa7Yt4Rb6Pc1Ze5Hf0Gu3Ki8Oj2Nl7Mx4Qw9Er1Ty6Ui3Op5As2Df8Gh0Jk4Lz7Xc1Vb9Nm6Q==;EndpointSuffix=core.windows.net",
               GUARD_AZURE_KEY, "q0Wm3nV8sLk2Jd9Xa7Yt4Rb6Pc1Ze5Hf0Gu3Ki8Oj2Nl7Mx4Qw9Er1Ty6Ui3Op5As2Df8Gh0Jk4Lz7Xc1Vb9Nm6Q==");
    expect_one("AZURE_CLIENT_SECRET: abc8Q~dEf9GhIjKlMnOpQrStUvWxYz0123456789", GUARD_AZURE_KEY, "abc8Q~dEf9GhIjKlMnOpQrStUvWxYz0123456789");
    expect_one("token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 in CI", GUARD_GITHUB_TOKEN, "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
    expect_one("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFG", GUARD_GITHUB_TOKEN,
               "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFG");
    expect_one("glpat-x9Yz8Wv7Ut6Sr5Qp4On3", GUARD_GITLAB_TOKEN, "glpat-x9Yz8Wv7Ut6Sr5Qp4On3");
    expect_one("SLACK=xoxb-2481632641-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", GUARD_SLACK_TOKEN,
               "xoxb-2481632641-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx");
    expect_one("post to https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcdEFGHijklMNOPqrstUVWX now", GUARD_SLACK_TOKEN,
               "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/abcdEFGHijklMNOPqrstUVWX");
    expect_one("stripe.api_key = sk_live_51Hx9aBcDeFgHiJkLmNoPqRs", GUARD_STRIPE_KEY, "sk_live_51Hx9aBcDeFgHiJkLmNoPqRs");
    expect_one("OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34", GUARD_OPENAI_KEY, "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34");
    expect_none("we use sk-learn-style-pipelines-everywhere for models");
    const char *pem = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----\nbye";
    expect_one(pem, GUARD_PRIVATE_KEY, "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----");
    expect_one("{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n\"}", GUARD_PRIVATE_KEY,
               "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----");
    expect_none("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----");
    expect_one("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",
               GUARD_JWT, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    expect_one("DATABASE_URL=postgres://app:Tr0ub4dor3xyz@db.internal.corp:5432/app", GUARD_URL_PASSWORD, "Tr0ub4dor3xyz");
    expect_none("connect with postgres://user:password@localhost/db or postgres://app:s3cr3t99@db.example.com/app");
    expect_one("Server=tcp:sql1;Database=app;User Id=sa;Password=Wint3r!Sun;Encrypt=true", GUARD_URL_PASSWORD, "Wint3r!Sun");
    expect_one("api_key = \"9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c\"", GUARD_SECRET_ASSIGN, "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c");
    expect_one("  \"client_secret\": \"Zx81-Kq02_Lm93Pn74\",", GUARD_SECRET_ASSIGN, "Zx81-Kq02_Lm93Pn74");
    expect_one("DB_PASSWORD=blue42horse", GUARD_SECRET_ASSIGN, "blue42horse");
    expect_none("password = get_password()  # and token = request.headers['x']");
    expect_none("api_key = os.environ[\"API_KEY\"]; secret = \"<your-secret-here>\"; password: ********");
    expect_none("max_tokens = 4096, tokenizer = \"cl100k_base\", token_count: 123456789012");

    /* personal data */
    expect_one("write to jane.doe+work@acme-mail.co.uk please", GUARD_EMAIL, "jane.doe+work@acme-mail.co.uk");
    expect_none("see admin@example.com, user@test.example, git@github.com:org/repo.git, lodash@4.17.21, @app.route");
    expect_one("call +44 20 7946 0958 tomorrow", GUARD_PHONE, "+44 20 7946 0958");
    expect_one("office: (415) 555-0132.", GUARD_PHONE, "(415) 555-0132");
    expect_one("cell 212-555-0199", GUARD_PHONE, "212-555-0199");
    expect_one("Tel.: 030 90182 345", GUARD_PHONE, "030 90182 345");
    expect_none("released 2024-01-15, build 123-456-7890 (area 1xx invalid), version 3.14.159.26");
    expect_one("card 4111 1111 1111 1111 exp 12/29", GUARD_CARD, "4111 1111 1111 1111");
    expect_one("amex 3782-822463-10005", GUARD_CARD, "3782-822463-10005");
    expect_none("order 4111111111111112 (bad Luhn) and id 1234567812345678");
    expect_one("IBAN: DE89 3704 0044 0532 0130 00.", GUARD_IBAN, "DE89 3704 0044 0532 0130 00");
    expect_one("pay GB82WEST12345698765432 today", GUARD_IBAN, "GB82WEST12345698765432");
    expect_none("GB82WEST12345698765433 fails mod-97; DE12 not an iban");
    expect_one("ssh into 10.20.30.40 now", GUARD_IPV4, "10.20.30.40");
    expect_none("listen on 127.0.0.1 and 0.0.0.0; docs use 192.0.2.10; version 1.2.3.4; pkg==2.0.0.1; v10.1.2.3");
    expect_one("host fe80::1ff:fe23:4567:890a%eth0", GUARD_IPV6, "fe80::1ff:fe23:4567:890a");
    expect_one("peer 2a01:4f8:c17:b8f::2 up", GUARD_IPV6, "2a01:4f8:c17:b8f::2");
    expect_none("std::vector<int> a; ::1 and 2001:db8::1 and 12:30:45 and 00:1a:2b:3c:4d:5e");
    expect_one("SSN 536-22-8170 on file", GUARD_SSN, "536-22-8170");
    expect_none("SSN 666-12-3456, 000-12-3456, 912-34-5678, 123-45-6789 are invalid or examples");
    expect_one("social security number: 536228170", GUARD_SSN, "536228170");

    /* look-alikes in code and docs */
    expect_none("commit 3f786850e387550fdab836ed7e6dc881de23001b, id 550e8400-e29b-41d4-a716-446655440000");
    expect_none("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 and v1.2.3-rc.4");

    /* checks */
    CHECK(guard_luhn_ok("79927398713", 11));
    CHECK(!guard_luhn_ok("79927398710", 11));
    CHECK(guard_iban_ok("NL91ABNA0417164300", 18));
    CHECK(!guard_iban_ok("NL91ABNA0417164301", 18));
    CHECK(!guard_ssn_ok(0, 12, 3456) && !guard_ssn_ok(536, 0, 1) && guard_ssn_ok(536, 22, 8170));

    /* redaction: stable placeholders, restoration, counts */
    guard_map *m = guard_map_new();
    guard_counts c = {0};
    const char *t1 = "mail bob@acme.io and bob@acme.io, key AKIA2E0A8F3B244C9986, alice@corp.net";
    size_t rl;
    char *r1 = guard_redact(m, NULL, t1, strlen(t1), &c, &rl);
    CHECK(r1 && !strcmp(r1, "mail <EMAIL_1> and <EMAIL_1>, key <SECRET_1>, <EMAIL_2>"), "%s", r1 ? r1 : "(null)");
    CHECK_EQ_INT(c.n[GUARD_EMAIL], 3);
    CHECK_EQ_INT(c.n[GUARD_AWS_KEY], 1);
    CHECK_EQ_INT(guard_map_size(m), 3);
    const char *t2 = "again alice@corp.net";
    char *r2 = guard_redact(m, NULL, t2, strlen(t2), NULL, NULL);
    CHECK(r2 && !strcmp(r2, "again <EMAIL_2>"), "%s", r2 ? r2 : "(null)");
    char *back = guard_restore(m, r1, rl, NULL);
    CHECK(back && !strcmp(back, t1));
    free(back);

    /* streamed restoration: every split of the answer into two and three chunks gives the same text */
    const char *ans = "Sure <EMAIL_1>, your <SECRET_1> is set; <EMAIL_9> and <b>bold</b> and <EMAIL_2><";
    const char *want = "Sure bob@acme.io, your AKIA2E0A8F3B244C9986 is set; <EMAIL_9> and <b>bold</b> and alice@corp.net<";
    size_t al = strlen(ans);
    int bad = 0;
    for (size_t a = 0; a <= al; a++)
        for (size_t b = a; b <= al; b += 3) {
            guard_restorer *rs = guard_restorer_new(m);
            sink s = {{0}, 0};
            guard_restorer_feed(rs, ans, a, to_sink, &s);
            guard_restorer_feed(rs, ans + a, b - a, to_sink, &s);
            guard_restorer_feed(rs, ans + b, al - b, to_sink, &s);
            guard_restorer_flush(rs, to_sink, &s);
            if (strcmp(s.buf, want)) { if (!bad++) fprintf(stderr, "split %zu/%zu: %s\n", a, b, s.buf); }
            guard_restorer_free(rs);
        }
    CHECK(bad == 0, "%d splits restored wrongly", bad);
    /* byte by byte */
    {
        guard_restorer *rs = guard_restorer_new(m);
        sink s = {{0}, 0};
        for (size_t i = 0; i < al; i++) guard_restorer_feed(rs, ans + i, 1, to_sink, &s);
        guard_restorer_flush(rs, to_sink, &s);
        CHECK(!strcmp(s.buf, want), "byte by byte: %s", s.buf);
        guard_restorer_free(rs);
    }
    free(r1);
    free(r2);
    guard_map_free(m);

    /* disabled detectors */
    guard_config cfg = {0};
    cfg.disabled[GUARD_EMAIL] = true;
    guard_list l = {0};
    CHECK(guard_scan(&cfg, "x bob@acme.io", 13, &l) == 0);
    guard_list_free(&l);
    CHECK(guard_kind_from_name("iban") == GUARD_IBAN && guard_kind_from_name("nope") == -1);
    TEST_SUMMARY("test_guard");
}
