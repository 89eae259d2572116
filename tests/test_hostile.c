/* test_hostile.c — bad input to the engine gives a clear error, never a crash, hang or silent wrong answer:
 * truncated and mutated model files (loaded and, when they load, run), unknown architectures, prompts
 * longer than the context, token ids outside the vocabulary. Run it under -fsanitize=address,undefined to
 * prove the "never an out-of-bounds read" part (see the Makefile note in README). */
#include <stdint.h>
#include <unistd.h>

#include "hearth.h"
#include "testutil.h"

static const char *MODEL = "tests/fixtures/models/gemma4-plain.f32.gguf";

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

static bool write_file(const char *path, const char *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = fwrite(buf, 1, n, fp) == n;
    return fclose(fp) == 0 && ok;
}

/* Load; if it loads, run a short prompt and a few greedy steps. Returns whether it loaded. */
static bool load_and_run(const char *path) {
    hearth_model *m = hearth_model_load(path, NULL);
    if (!m) {
        const char *e = hearth_last_error();
        CHECK(e[0] && !strchr(e, '\n'), "error message must be one non-empty line: '%s'", e);
        return false;
    }
    hearth_session_params sp = {.n_ctx = 64, .n_threads = 1};
    hearth_session *s = hearth_session_new(m, &sp);
    if (s) {
        int32_t ids[6] = {2, 5, 9, 17, 33, 65};
        int nv = hearth_model_n_vocab(m);
        for (int i = 0; i < 6; i++) ids[i] %= nv;
        if (hearth_session_eval(s, ids, 6, NULL) == 0) {
            int32_t t = 1 % nv;
            for (int i = 0; i < 3; i++) hearth_session_eval(s, &t, 1, NULL);
        }
        hearth_session_free(s);
    }
    hearth_model_free(m);
    return true;
}

int main(void) {
    size_t size;
    char *orig = tu_read_file(MODEL, &size);
    CHECK(orig != NULL, "missing %s", MODEL);
    if (!orig) TEST_SUMMARY("hostile");
    char tmp[] = "/tmp/hearth_hostile_XXXXXX";
    int fd = mkstemp(tmp);
    close(fd);

    /* the original loads and runs */
    CHECK(load_and_run(MODEL), "%s", hearth_last_error());

    /* every truncation point class: inside the header, metadata, tensor table and data */
    int truncated_loaded = 0;
    for (int i = 0; i < 300; i++) {
        size_t n = i < 100 ? (size_t)i * 7 : (size_t)(next_rand() % size);
        write_file(tmp, orig, n);
        truncated_loaded += load_and_run(tmp);
    }
    CHECK_EQ_INT(truncated_loaded, 0);

    /* random mutations of the header, metadata and tensor table (the first 16 KiB) and of the data */
    char *mut = malloc(size);
    int loaded = 0;
    for (int i = 0; i < 1500; i++) {
        memcpy(mut, orig, size);
        int flips = 1 + (int)(next_rand() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = i % 3 == 2 ? next_rand() % size : next_rand() % (size < 16384 ? size : 16384);
            mut[at] = (char)(next_rand() & 0xff);
        }
        write_file(tmp, mut, size);
        loaded += load_and_run(tmp);
    }
    printf("  mutations: %d of 1500 still loaded (and ran without crashing)\n", loaded);
    CHECK(loaded > 0 && loaded < 1500, "mutations should sometimes load and sometimes fail");

    /* unknown architecture: same length name, so the file stays valid */
    memcpy(mut, orig, size);
    char *arch = memmem(mut, size, "gemma4", 6);
    CHECK(arch != NULL);
    if (arch) {
        memcpy(arch, "mambaX", 6);
        write_file(tmp, mut, size);
        hearth_model *m = hearth_model_load(tmp, NULL);
        CHECK(m == NULL);
        CHECK(strstr(hearth_last_error(), "unsupported architecture 'mambaX'") &&
              strstr(hearth_last_error(), "gemma4"), "got: %s", hearth_last_error());
    }

    /* not a GGUF file at all */
    write_file(tmp, "hello world, definitely not a model\n", 36);
    CHECK(hearth_model_load(tmp, NULL) == NULL);
    CHECK(strstr(hearth_last_error(), "GGUF") != NULL, "got: %s", hearth_last_error());
    CHECK(hearth_model_load("/nonexistent/model.gguf", NULL) == NULL);

    /* context and vocabulary limits */
    hearth_model *m = hearth_model_load(MODEL, NULL);
    hearth_session_params sp = {.n_ctx = 16, .n_threads = 1};
    hearth_session *s = hearth_session_new(m, &sp);
    int32_t ids[17] = {0};
    for (int i = 0; i < 17; i++) ids[i] = 2 + i;
    CHECK_EQ_INT(hearth_session_eval(s, ids, 17, NULL), HEARTH_ERR_CONTEXT);
    CHECK(strstr(hearth_last_error(), "context") != NULL, "got: %s", hearth_last_error());
    CHECK_EQ_INT(hearth_session_eval(s, ids, 16, NULL), 0);
    CHECK_EQ_INT(hearth_session_eval(s, ids, 1, NULL), HEARTH_ERR_CONTEXT);
    int32_t bad = hearth_model_n_vocab(m);
    CHECK_EQ_INT(hearth_session_truncate(s, 0), 0);
    CHECK_EQ_INT(hearth_session_eval(s, &bad, 1, NULL), HEARTH_ERR_ARG);
    bad = -1;
    CHECK_EQ_INT(hearth_session_eval(s, &bad, 1, NULL), HEARTH_ERR_ARG);
    hearth_session_free(s);
    hearth_model_free(m);

    unlink(tmp);
    free(mut);
    free(orig);
    TEST_SUMMARY("hostile");
}
