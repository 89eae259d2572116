/* api_chat.c — chat prompts in the public API: the model's own Jinja template (tokenizer.chat_template),
 * rendered by chat.c, or a built-in one per family when the file has none; then tokenized so that control
 * tokens come only from the template's text. Message contents are located in the rendered prompt and
 * protected: a user who types "<start_of_turn>" gets those characters, not the control token. Strings of
 * tool definitions and tool-call arguments that hold control-token text are protected as well; they are
 * found exactly by rendering a second time with them masked (same length, so the differing bytes are
 * theirs), or located like contents when the template treats the masked text differently. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "engine.h"
#include "tokenizer.h"
#include "util.h"

static const char *family_of(const hearth_model *model) {
    gguf_str arch;
    if (gguf_get_str(&model->file, "general.architecture", &arch) != 1) return "chatml";
    if (gguf_str_eq(arch, "gemma3") || gguf_str_eq(arch, "gemma4") || gguf_str_eq(arch, "gemma2")) return "gemma";
    if (gguf_str_eq(arch, "llama")) return "llama3";
    return "chatml";
}

/* The text of a special token, NUL-terminated in buf ("" if none). */
static const char *token_text(const hearth_model *model, int32_t id, char *buf, size_t cap) {
    buf[0] = 0;
    if (!model->tok || id < 0) return buf;
    size_t len;
    const char *s = tokenizer_token_text(model->tok, id, &len);
    if (s && len < cap) { memcpy(buf, s, len); buf[len] = 0; }
    return buf;
}

static char *render(const hearth_model *model, const char *template_override, const char *messages_json,
                    const char *tools_json, bool add_generation_prompt, size_t *len) {
    const char *source = template_override ? template_override : hearth_model_meta_str(model, "tokenizer.chat_template");
    char bos[128], eos[128];
    chat_request req = {
        .messages_json = messages_json, .tools_json = tools_json, .add_generation_prompt = add_generation_prompt,
        .bos_token = token_text(model, hearth_token_bos(model), bos, sizeof bos),
        .eos_token = token_text(model, hearth_token_eos(model), eos, sizeof eos),
        .parse_tool_arguments = true,
    };
    return chat_render(source, family_of(model), &req, len);
}

static char *messages_to_json(const hearth_chat_message *msgs, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        json_t *m = json_pack("{s:s, s:s}", "role", msgs[i].role ? msgs[i].role : "user", "content",
                              msgs[i].content ? msgs[i].content : "");
        if (!m || json_array_append_new(arr, m) < 0) { json_decref(arr); return NULL; }
    }
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

int hearth_chat_render_json(const hearth_model *model, const char *template_override, const char *messages_json,
                            const char *tools_json, bool add_generation_prompt, char **out) {
    hearth_clear_error();
    size_t len;
    *out = render(model, template_override, messages_json, tools_json, add_generation_prompt, &len);
    return *out ? 0 : HEARTH_ERR_FORMAT;
}

int hearth_chat_render(const hearth_model *model, const char *template_override, const hearth_chat_message *msgs,
                       size_t n_msgs, bool add_generation_prompt, char **out) {
    char *json = messages_to_json(msgs, n_msgs);
    if (!json) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    int rc = hearth_chat_render_json(model, template_override, json, NULL, add_generation_prompt, out);
    free(json);
    return rc;
}

/* Byte ranges of the message contents in the rendered prompt, found in order (a template may trim them). */
static size_t locate_contents(const char *text, size_t len, const char *const *contents, size_t n,
                              size_t (*ranges)[2]) {
    size_t n_ranges = 0, from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = contents[i];
        size_t cl = strlen(c);
        while (cl && strchr(" \t\r\n", *c)) { c++; cl--; }
        while (cl && strchr(" \t\r\n", c[cl - 1])) cl--;
        if (!cl) continue;
        const char *at = memmem(text + from, len - from, c, cl);
        if (!at) at = memmem(text, len, c, cl); /* a template may reorder (e.g. system last) */
        if (!at) continue;
        ranges[n_ranges][0] = (size_t)(at - text);
        ranges[n_ranges][1] = (size_t)(at - text) + cl;
        if ((size_t)(at - text) >= from) from = (size_t)(at - text) + cl;
        n_ranges++;
    }
    /* sort by start (insertion sort: a handful of messages) */
    for (size_t i = 1; i < n_ranges; i++)
        for (size_t j = i; j > 0 && ranges[j][0] < ranges[j - 1][0]; j--) {
            size_t a = ranges[j][0], b = ranges[j][1];
            ranges[j][0] = ranges[j - 1][0]; ranges[j][1] = ranges[j - 1][1];
            ranges[j - 1][0] = a; ranges[j - 1][1] = b;
        }
    return n_ranges;
}

/* extra: byte ranges known to need protection besides the located contents */
static int tokenize_prompt(const hearth_model *model, const char *text, size_t len, const char *const *contents,
                           size_t n_contents, const size_t (*extra)[2], size_t n_extra, bool parse_special_content,
                           int32_t **tokens, int *n_tokens) {
    if (!model->tok) return hearth_fail(HEARTH_ERR_UNSUPPORTED, "this model file has no vocabulary");
    size_t (*ranges)[2] = NULL;
    size_t n_ranges = 0;
    if (!parse_special_content && n_contents + n_extra) {
        ranges = malloc(sizeof *ranges * (n_contents + n_extra));
        if (!ranges) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        n_ranges = n_contents ? locate_contents(text, len, contents, n_contents, ranges) : 0;
        for (size_t i = 0; i < n_extra; i++) { ranges[n_ranges][0] = extra[i][0]; ranges[n_ranges][1] = extra[i][1]; n_ranges++; }
    }
    /* BOS when the model wants one and the template did not write it */
    char bos[128];
    token_text(model, hearth_token_bos(model), bos, sizeof bos);
    bool add_bos = !(bos[0] && len >= strlen(bos) && !memcmp(text, bos, strlen(bos)));
    int n = tokenizer_encode_protected(model->tok, text, len, add_bos, true, (const size_t(*)[2])ranges, n_ranges,
                                       NULL, 0);
    int rc = n;
    *tokens = NULL;
    if (n > 0) {
        *tokens = malloc(sizeof(int32_t) * (size_t)n);
        rc = *tokens ? tokenizer_encode_protected(model->tok, text, len, add_bos, true, (const size_t(*)[2])ranges,
                                                  n_ranges, *tokens, n)
                     : hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    } else if (n == 0) {
        rc = hearth_fail(HEARTH_ERR_ARG, "the chat template rendered an empty prompt");
    }
    free(ranges);
    if (rc < 0) { free(*tokens); *tokens = NULL; return rc; }
    *n_tokens = n;
    return 0;
}

int hearth_chat_tokenize(const hearth_model *model, const char *template_override, const hearth_chat_message *msgs,
                         size_t n_msgs, bool add_generation_prompt, bool parse_special_content, int32_t **tokens,
                         int *n_tokens) {
    char *text;
    int rc = hearth_chat_render(model, template_override, msgs, n_msgs, add_generation_prompt, &text);
    if (rc < 0) return rc;
    const char **contents = malloc(sizeof(char *) * (n_msgs ? n_msgs : 1));
    if (!contents) { free(text); return hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); }
    for (size_t i = 0; i < n_msgs; i++) contents[i] = msgs[i].content ? msgs[i].content : "";
    rc = tokenize_prompt(model, text, strlen(text), contents, n_msgs, NULL, 0, parse_special_content, tokens, n_tokens);
    free(contents);
    free(text);
    return rc;
}

typedef struct {
    const char **s;
    size_t n, cap;
    bool oom;
} strlist;

static void strlist_add(strlist *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const char **ns = realloc(l->s, sizeof(char *) * cap);
        if (!ns) { l->oom = true; return; }
        l->s = ns;
        l->cap = cap;
    }
    l->s[l->n++] = s;
}

/* Does this text hold the text of a control token? (Only such strings are worth protecting: a short one
 * found at the wrong place could otherwise cover part of the template's own markup.) */
static bool has_control_text(const hearth_model *model, const char *s) {
    if (!strpbrk(s, "<[|")) return false; /* every family's control tokens have one of these */
    size_t len = strlen(s);
    int n = tokenizer_encode(model->tok, s, len, false, true, NULL, 0);
    if (n <= 0) return false;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    if (!ids) return false;
    bool found = false;
    n = tokenizer_encode(model->tok, s, len, false, true, ids, n);
    for (int i = 0; i < n && !found; i++) found = tokenizer_is_control(model->tok, ids[i]);
    free(ids);
    return found;
}

/* String values anywhere in v that hold control-token text. */
static void collect_dangerous(const hearth_model *model, json_t *v, strlist *out, int depth) {
    if (depth > 64) return;
    if (json_is_string(v)) {
        if (has_control_text(model, json_string_value(v))) strlist_add(out, json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect_dangerous(model, x, out, depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) collect_dangerous(model, x, out, depth + 1);
    }
}

static bool listed(const strlist *l, const char *s) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->s[i], s)) return true;
    return false;
}

/* v with every listed string value replaced by as many 'X' (a copy). */
static json_t *masked(const json_t *v, const strlist *l, int depth) {
    if (json_is_string(v) && listed(l, json_string_value(v))) {
        size_t n = json_string_length(v);
        char *x = malloc(n + 1);
        if (!x) return NULL;
        memset(x, 'X', n);
        x[n] = 0;
        json_t *r = json_stringn(x, n);
        free(x);
        return r;
    }
    if (depth > 64 || (!json_is_array(v) && !json_is_object(v))) return json_deep_copy(v);
    json_t *c = json_is_array(v) ? json_array() : json_object();
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(c, masked(x, l, depth + 1));
    } else {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(c, k, masked(x, l, depth + 1));
    }
    return c;
}

int hearth_chat_tokenize_json(const hearth_model *model, const char *template_override, const char *messages_json,
                              const char *tools_json, bool add_generation_prompt, int32_t **tokens, int *n_tokens) {
    char *text;
    int rc = hearth_chat_render_json(model, template_override, messages_json, tools_json, add_generation_prompt,
                                     &text);
    if (rc < 0) return rc;
    size_t len = strlen(text);
    /* every string "content" of the messages (and text parts of content arrays) is protected, where it is
     * found in the prompt */
    json_t *arr = json_loads(messages_json, 0, NULL);
    json_t *tools = tools_json && model->tok ? json_loads(tools_json, 0, NULL) : NULL;
    strlist l = {0}, d = {0};
    size_t i;
    json_t *m;
    if (json_is_array(arr))
        json_array_foreach(arr, i, m) {
            json_t *c = json_object_get(m, "content");
            if (json_is_string(c)) strlist_add(&l, json_string_value(c));
            else if (json_is_array(c)) {
                size_t j;
                json_t *p;
                json_array_foreach(c, j, p) {
                    json_t *t = json_object_get(p, "text");
                    if (json_is_string(t)) strlist_add(&l, json_string_value(t));
                }
            }
        }
    /* Strings of tool definitions and of tool calls' arguments that hold control-token text are protected
     * too. They are found by rendering again with each of them masked: the bytes that differ are theirs. */
    json_t *mmsgs = NULL, *mtools = NULL;
    if (model->tok && json_is_array(arr)) {
        json_array_foreach(arr, i, m) {
            json_t *calls = json_object_get(m, "tool_calls");
            size_t j;
            json_t *call;
            json_array_foreach(calls, j, call) {
                json_t *args = json_object_get(json_object_get(call, "function"), "arguments");
                json_t *obj = json_is_string(args) ? json_loads(json_string_value(args), 0, NULL) : NULL;
                if (json_is_object(obj)) { /* the renderer gives the template the object: mask its values */
                    json_object_set_new(json_object_get(call, "function"), "arguments", obj);
                    args = obj;
                } else json_decref(obj);
                collect_dangerous(model, args, &d, 0);
            }
        }
        if (tools) collect_dangerous(model, tools, &d, 0);
    }
    size_t (*diff)[2] = NULL, n_diff = 0;
    if (d.n && !d.oom) {
        mmsgs = masked(arr, &d, 0);
        mtools = tools ? masked(tools, &d, 0) : NULL;
        char *mj = mmsgs ? json_dumps(mmsgs, JSON_COMPACT) : NULL;
        char *tj = mtools ? json_dumps(mtools, JSON_COMPACT) : NULL;
        char *text2 = NULL;
        if (mj && (!tools || tj) &&
            hearth_chat_render_json(model, template_override, mj, tj, add_generation_prompt, &text2) == 0 &&
            strlen(text2) == len) {
            for (size_t k = 0; k < len;) { /* runs of differing bytes */
                if (text[k] == text2[k]) { k++; continue; }
                size_t e = k;
                while (e < len && text[e] != text2[e]) e++;
                size_t (*nd)[2] = realloc(diff, sizeof *diff * (n_diff + 1));
                if (!nd) break;
                diff = nd;
                diff[n_diff][0] = k;
                diff[n_diff][1] = e;
                n_diff++;
                k = e;
            }
        } else {
            for (size_t k = 0; k < d.n; k++) strlist_add(&l, d.s[k]); /* the template treats them unevenly: find them */
        }
        free(text2);
        free(mj);
        free(tj);
    }
    rc = !l.oom && !d.oom ? tokenize_prompt(model, text, len, l.s, l.n, (const size_t(*)[2])diff, n_diff, false, tokens, n_tokens)
                          : hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    free(diff);
    free(l.s);
    free(d.s);
    json_decref(mmsgs);
    json_decref(mtools);
    json_decref(tools);
    json_decref(arr);
    free(text);
    return rc;
}
