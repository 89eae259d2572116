/* cmd_chat.c — `hearth chat [MODEL]`: a multi-turn conversation in the terminal.
 *
 * Line editing and history come from libedit. Each turn renders the whole conversation with the model's
 * chat template; hearth_generate keeps the longest common prefix in the KV cache, so earlier turns are not
 * processed again (the stats line shows how many prompt tokens were reused).
 * Commands: /clear, /system TEXT, /save FILE, /exit (or Ctrl-D). Ctrl-C stops the answer being generated. */
#include <editline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static hearth_session *volatile generating;

static void on_sigint(int sig) {
    (void)sig;
    if (generating) hearth_session_cancel(generating);
}

static const char chat_help[] =
    "usage: hearth chat [MODEL] [options]\n"
    "\n"
    "A conversation with MODEL (a path or a name; the embedded default model when omitted).\n"
    "Type a message and press Enter; end a line with \\ to continue it on the next line.\n"
    "\n"
    "commands:\n"
    "  /clear          forget the conversation (keeps the system prompt)\n"
    "  /system TEXT    set the system prompt and start over\n"
    "  /save FILE      write the conversation to FILE as JSON (OpenAI messages)\n"
    "  /exit           leave (also Ctrl-D); Ctrl-C stops an answer in progress\n"
    "\n"
    "options: --system TEXT, -n N (max tokens per answer), --temp T, --top-k K, --top-p P, --min-p P,\n"
    "         --repeat-penalty R, --repeat-last-n N, --presence-penalty P, --frequency-penalty F, --seed S,\n"
    "         -c/--ctx N, -t/--threads N, --kv-type T, --mlock, -q/--quiet\n";

typedef struct {
    hearth_chat_message *msgs;
    char **owned; /* strings owned by the conversation, parallel to msgs */
    size_t n, cap;
} conversation;

static int conv_add(conversation *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        hearth_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return -1;
        c->msgs = m;
        char **o = realloc(c->owned, cap * sizeof *o);
        if (!o) return -1;
        c->owned = o;
        c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy) return -1;
    c->owned[c->n] = copy;
    c->msgs[c->n++] = (hearth_chat_message){role, copy};
    return 0;
}

static void conv_clear(conversation *c, bool keep_system) {
    size_t keep = keep_system && c->n && !strcmp(c->msgs[0].role, "system") ? 1 : 0;
    for (size_t i = keep; i < c->n; i++) free(c->owned[i]);
    c->n = keep;
}

static void json_string(FILE *fp, const char *s) {
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(fp, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", fp);
        else if (ch == '\t') fputs("\\t", fp);
        else if (ch == '\r') fputs("\\r", fp);
        else if (ch < 0x20) fprintf(fp, "\\u%04x", ch);
        else fputc(ch, fp);
    }
    fputc('"', fp);
}

static int conv_save(const conversation *c, const char *path) {
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    fputs("[\n", fp);
    for (size_t i = 0; i < c->n; i++) {
        fputs("  {\"role\": ", fp);
        json_string(fp, c->msgs[i].role);
        fputs(", \"content\": ", fp);
        json_string(fp, c->msgs[i].content);
        fputs(i + 1 < c->n ? "},\n" : "}\n", fp);
    }
    fputs("]\n", fp);
    return fclose(fp);
}

typedef struct {
    char *buf;
    size_t len, cap;
} text_buf;

static bool collect_text(void *user, const char *text, size_t len) {
    text_buf *tb = user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (tb->len + len + 1 > tb->cap) {
        size_t cap = (tb->cap + len + 1) * 2;
        char *b = realloc(tb->buf, cap);
        if (!b) return false;
        tb->buf = b;
        tb->cap = cap;
    }
    memcpy(tb->buf + tb->len, text, len);
    tb->len += len;
    tb->buf[tb->len] = 0;
    return true;
}

/* Read one message; a trailing backslash continues it on the next line. NULL at end of input. */
static char *read_message(bool tty) {
    char *msg = NULL;
    size_t len = 0;
    for (;;) {
        char *line = readline(tty ? (msg ? "... " : ">>> ") : "");
        if (!line) return msg;
        size_t ll = strlen(line);
        bool more = ll > 0 && line[ll - 1] == '\\';
        if (more) line[--ll] = 0;
        char *nm = realloc(msg, len + ll + 2);
        if (!nm) { free(line); free(msg); return NULL; }
        msg = nm;
        memcpy(msg + len, line, ll);
        len += ll;
        if (more) msg[len++] = '\n';
        msg[len] = 0;
        free(line);
        if (!more) return msg;
    }
}

int cmd_chat(int argc, char **argv) {
    common_opts o = {0};
    const char *system_prompt = NULL, *model_arg = NULL;
    int n_predict = -1, seed = -1;
    hearth_sampler_params sp = hearth_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        if ((c = cli_sampling_opt(&sp, &n_predict, &seed, argc, argv, &i)) != 0) {
            if (c < 0) return EXIT_USAGE;
            continue;
        }
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--system")) ok = (system_prompt = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(chat_help, stdout); return EXIT_OK; }
        else if (a[0] == '-' && a[1]) { cli_error("chat: unknown option '%s' (see hearth chat --help)", a); return EXIT_USAGE; }
        else if (!model_arg) model_arg = a;
        else { cli_error("chat: unexpected argument '%s'", a); return EXIT_USAGE; }
        if (!ok) { cli_error("%s needs a valid value", a); return EXIT_USAGE; }
    }
    sp.seed = seed >= 0 ? (uint64_t)seed : (uint64_t)getpid() ^ (uint64_t)time(NULL);
    char path[4096];
    if (model_arg) {
        if (!cli_resolve_model(model_arg, path, sizeof path)) { cli_error("model '%s' not found", model_arg); return EXIT_MODEL; }
    } else if (!cli_default_model(path, sizeof path)) {
        cli_error("no model given and no default model (models/default.gguf) found");
        return EXIT_MODEL;
    }
    hearth_model *model = cli_load_model(path, false);
    if (!model) return EXIT_MODEL;
    hearth_session *s = cli_new_session(model, &o);
    hearth_sampler *smp = s && sp.temperature > 0 ? hearth_sampler_new(model, &sp) : NULL;
    int rc = EXIT_FAIL;
    if (!s || (sp.temperature > 0 && !smp)) goto done;

    bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    char hist_path[4096] = "";
    const char *home = getenv("HOME");
    if (tty && home) {
        snprintf(hist_path, sizeof hist_path, "%s/.cache/hearth/chat_history", home);
        using_history();
        read_history(hist_path);
    }
    if (tty && !o.quiet)
        fprintf(stderr, "hearth chat — %s. /exit to leave, /clear to start over, /help for commands.\n", path);
    conversation conv = {0};
    if (system_prompt) conv_add(&conv, "system", system_prompt);
    signal(SIGINT, on_sigint);
    rc = EXIT_OK;
    for (;;) {
        char *line = read_message(tty);
        if (!line) { if (tty) fputc('\n', stdout); break; }
        char *msg = line;
        while (*msg == ' ' || *msg == '\t') msg++;
        if (!*msg) { free(line); continue; }
        if (tty) add_history(msg);
        if (msg[0] == '/') {
            if (!strcmp(msg, "/exit") || !strcmp(msg, "/quit") || !strcmp(msg, "/bye")) { free(line); break; }
            else if (!strcmp(msg, "/clear")) {
                conv_clear(&conv, true);
                hearth_session_truncate(s, 0);
                fprintf(stderr, "(conversation cleared)\n");
            } else if (!strncmp(msg, "/system", 7) && (msg[7] == ' ' || !msg[7])) {
                const char *text = msg[7] ? msg + 8 : "";
                conv_clear(&conv, false);
                if (*text) conv_add(&conv, "system", text);
                hearth_session_truncate(s, 0);
                fprintf(stderr, *text ? "(system prompt set; conversation cleared)\n" : "(system prompt removed)\n");
            } else if (!strncmp(msg, "/save ", 6) && msg[6]) {
                if (conv_save(&conv, msg + 6) == 0) fprintf(stderr, "(saved %zu messages to %s)\n", conv.n, msg + 6);
                else cli_error("cannot write %s", msg + 6);
            } else if (!strcmp(msg, "/help")) {
                fputs(chat_help, stderr);
            } else {
                fprintf(stderr, "unknown command %s (try /help)\n", msg);
            }
            free(line);
            continue;
        }
        conv_add(&conv, "user", msg);
        free(line);
        int32_t *prompt = NULL;
        int n_prompt = 0;
        if (hearth_chat_tokenize(model, NULL, conv.msgs, conv.n, true, false, &prompt, &n_prompt) < 0) {
            cli_error("%s", hearth_last_error());
            conv.n--;
            free(conv.owned[conv.n]);
            continue;
        }
        text_buf answer = {0};
        hearth_generate_params gp = {.max_tokens = n_predict, .sampler = smp, .on_text = collect_text, .user = &answer};
        hearth_generate_stats st;
        generating = s;
        int g = hearth_generate(s, prompt, n_prompt, &gp, &st);
        generating = NULL;
        free(prompt);
        fputc('\n', stdout);
        fflush(stdout);
        if (g < 0) {
            cli_error("%s", hearth_last_error());
            conv.n--; /* drop the turn that did not fit */
            free(conv.owned[conv.n]);
            free(answer.buf);
            if (g == HEARTH_ERR_CONTEXT) fprintf(stderr, "(use /clear or a larger --ctx)\n");
            continue;
        }
        conv_add(&conv, "assistant", answer.buf ? answer.buf : "");
        free(answer.buf);
        if (!o.quiet) {
            bool color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
            fprintf(stderr, "%sprompt %d tok (%d reused), %.1f tok/s | generated %d tok, %.1f tok/s | first token %.2f s%s%s\n",
                    color ? "\033[2m" : "", st.n_prompt, st.n_prompt_reused,
                    st.prompt_s > 0 ? (st.n_prompt - st.n_prompt_reused) / st.prompt_s : 0.0, st.n_generated,
                    st.generate_s > 0 && st.n_generated > 1 ? (st.n_generated - 1) / st.generate_s : 0.0,
                    st.first_token_s, st.finish == HEARTH_FINISH_CANCELLED ? " | stopped" : "", color ? "\033[0m" : "");
        }
    }
    if (tty && hist_path[0]) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/.cache/hearth", home);
        mkdir_p(dir);
        write_history(hist_path);
    }
    conv_clear(&conv, false);
    free(conv.msgs);
    free(conv.owned);
done:
    hearth_sampler_free(smp);
    hearth_session_free(s);
    hearth_model_free(model);
    return rc;
}
