/* models.c — resolving a model argument: a path, or a name found where users already keep models:
 *   $HEARTH_MODELS (default ~/.cache/hearth/models): NAME, NAME.gguf
 *   the Hugging Face cache (~/.cache/huggingface/hub, $HF_HOME/hub): models--ORG--REPO/snapshots/REV/NAME.gguf,
 *       matched by "ORG/REPO", "REPO" or a file name
 *   ollama's store (~/.ollama/models, $OLLAMA_MODELS): manifests/REGISTRY/NAMESPACE/NAME/TAG, whose layer of
 *       mediaType application/vnd.ollama.image.model names the GGUF blob (blobs/sha256-HEX).
 * And the default model when none is named: models/default.gguf beside the binary's repository, or in
 * $HEARTH_MODELS. */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* snprintf that reports truncation (a truncated path must never be opened) */
static bool fmt_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fmt_path(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) { if (cap) out[0] = 0; return false; }
    return true;
}

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *home(void) {
    const char *h = getenv("HOME");
    return h && *h ? h : "/";
}

static bool try_dir(char *out, size_t cap, const char *dir, const char *name) {
    fmt_path(out, cap, "%s/%s", dir, name);
    if (is_file(out)) return true;
    fmt_path(out, cap, "%s/%s.gguf", dir, name);
    return is_file(out);
}

/* Hugging Face cache: models--ORG--REPO/snapshots/<rev>/<file>.gguf */
static bool try_hf(char *out, size_t cap, const char *name) {
    char hub[PATH_MAX];
    const char *hf_home = getenv("HF_HOME");
    if (hf_home && *hf_home) fmt_path(hub, sizeof hub, "%s/hub", hf_home);
    else fmt_path(hub, sizeof hub, "%s/.cache/huggingface/hub", home());
    DIR *d = opendir(hub);
    if (!d) return false;
    char want[512];
    fmt_path(want, sizeof want, "models--%s", name);
    for (char *p = want; *p; p++) if (*p == '/') { memmove(p + 1, p, strlen(p) + 1); p[0] = '-'; p[1] = '-'; p++; }
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, "models--", 8)) continue;
        const char *repo = strrchr(e->d_name, '-'); /* after the last "--" */
        bool repo_match = !strcmp(e->d_name, want) || (repo && !strcmp(repo + 1, name));
        char snaps[PATH_MAX];
        fmt_path(snaps, sizeof snaps, "%s/%s/snapshots", hub, e->d_name);
        DIR *sd = opendir(snaps);
        if (!sd) continue;
        struct dirent *rev;
        while (!found && (rev = readdir(sd))) {
            if (rev->d_name[0] == '.') continue;
            char revdir[PATH_MAX];
            fmt_path(revdir, sizeof revdir, "%s/%s", snaps, rev->d_name);
            DIR *fd = opendir(revdir);
            if (!fd) continue;
            struct dirent *fe;
            while ((fe = readdir(fd))) {
                size_t len = strlen(fe->d_name);
                if (len < 5 || strcmp(fe->d_name + len - 5, ".gguf")) continue;
                bool file_match = !strcmp(fe->d_name, name) || (!strncmp(fe->d_name, name, strlen(name)) &&
                                                                  !strcmp(fe->d_name + strlen(name), ".gguf"));
                if (repo_match || file_match) {
                    fmt_path(out, cap, "%s/%s", revdir, fe->d_name);
                    found = is_file(out);
                    if (found) break;
                }
            }
            closedir(fd);
        }
        closedir(sd);
    }
    closedir(d);
    return found;
}

/* ollama: NAME[:TAG] -> manifests/registry.ollama.ai/library/NAME/TAG (or NAMESPACE/NAME) */
static bool try_ollama(char *out, size_t cap, const char *name) {
    char root[PATH_MAX];
    const char *om = getenv("OLLAMA_MODELS");
    if (om && *om) fmt_path(root, sizeof root, "%s", om);
    else fmt_path(root, sizeof root, "%s/.ollama/models", home());
    char base[256], tag[128] = "latest";
    fmt_path(base, sizeof base, "%s", name);
    char *colon = strrchr(base, ':');
    if (colon && !strchr(colon, '/')) { fmt_path(tag, sizeof tag, "%s", colon + 1); *colon = 0; }
    char manifest[PATH_MAX];
    if (strchr(base, '/')) fmt_path(manifest, sizeof manifest, "%s/manifests/registry.ollama.ai/%s/%s", root, base, tag);
    else fmt_path(manifest, sizeof manifest, "%s/manifests/registry.ollama.ai/library/%s/%s", root, base, tag);
    FILE *fp = fopen(manifest, "rb");
    if (!fp) return false;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    /* the model layer: {"mediaType":"application/vnd.ollama.image.model","digest":"sha256:HEX",...} */
    char *p = strstr(buf, "application/vnd.ollama.image.model");
    if (!p) return false;
    char *obj = p;
    while (obj > buf && *obj != '{') obj--;
    char *dg = strstr(obj, "\"digest\"");
    if (!dg) return false;
    dg = strstr(dg, "sha256:");
    if (!dg) return false;
    char hex[80];
    int i = 0;
    for (dg += 7; i < 64 && ((*dg >= '0' && *dg <= '9') || (*dg >= 'a' && *dg <= 'f')); dg++) hex[i++] = *dg;
    hex[i] = 0;
    if (i != 64) return false;
    fmt_path(out, cap, "%s/blobs/sha256-%s", root, hex);
    return is_file(out);
}

bool cli_resolve_model(const char *arg, char *out, size_t cap) {
    if (is_file(arg)) { fmt_path(out, cap, "%s", arg); return true; }
    if (strchr(arg, '/') && (strstr(arg, ".gguf") || arg[0] == '/' || arg[0] == '.')) return false;
    char dir[PATH_MAX];
    const char *hm = getenv("HEARTH_MODELS");
    if (hm && *hm) fmt_path(dir, sizeof dir, "%s", hm);
    else fmt_path(dir, sizeof dir, "%s/.cache/hearth/models", home());
    return try_dir(out, cap, dir, arg) || try_hf(out, cap, arg) || try_ollama(out, cap, arg);
}

bool cli_default_model(char *out, size_t cap) {
    /* models/default.gguf next to the repository the binary was built in (build/hearth -> ../models) */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            fmt_path(out, cap, "%s/../models/default.gguf", exe);
            if (is_file(out)) return true;
        }
    }
    return cli_resolve_model("default", out, cap);
}
