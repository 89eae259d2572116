/* api_chat.c — chat prompts in the public API: the model's own Jinja template (tokenizer.chat_template),
 * rendered by chat.c, or a built-in one per family when the file has none; then tokenized so that control
 * tokens come only from the template's text. Message contents are located in the rendered prompt and
 * protected: a user who types "<start_of_turn>" gets those characters, not the control token. */
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

static int tokenize_prompt(const hearth_model *model, const char *text, size_t len, const char *const *contents,
                           size_t n_contents, bool parse_special_content, int32_t **tokens, int *n_tokens) {
    if (!model->tok) return hearth_fail(HEARTH_ERR_UNSUPPORTED, "this model file has no vocabulary");
    size_t (*ranges)[2] = NULL;
    size_t n_ranges = 0;
    if (!parse_special_content && n_contents) {
        ranges = malloc(sizeof *ranges * n_contents);
        if (!ranges) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        n_ranges = locate_contents(text, len, contents, n_contents, ranges);
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
    rc = tokenize_prompt(model, text, strlen(text), contents, n_msgs, parse_special_content, tokens, n_tokens);
    free(contents);
    free(text);
    return rc;
}

int hearth_chat_tokenize_json(const hearth_model *model, const char *template_override, const char *messages_json,
                              const char *tools_json, bool add_generation_prompt, int32_t **tokens, int *n_tokens) {
    char *text;
    int rc = hearth_chat_render_json(model, template_override, messages_json, tools_json, add_generation_prompt,
                                     &text);
    if (rc < 0) return rc;
    /* every string "content" of the messages (and text parts of content arrays) is protected */
    json_error_t err;
    json_t *arr = json_loads(messages_json, 0, &err);
    size_t cap = 16, n = 0;
    const char **contents = malloc(sizeof(char *) * cap);
    size_t i;
    json_t *m;
    if (json_is_array(arr) && contents)
        json_array_foreach(arr, i, m) {
            json_t *c = json_object_get(m, "content");
            json_t *parts = json_is_array(c) ? c : NULL;
            size_t j;
            json_t *p;
            if (json_is_string(c)) {
                if (n == cap) { const char **nc = realloc(contents, sizeof(char *) * (cap *= 2)); if (!nc) break; contents = nc; }
                contents[n++] = json_string_value(c);
            } else if (parts)
                json_array_foreach(parts, j, p) {
                    json_t *t = json_object_get(p, "text");
                    if (!json_is_string(t)) continue;
                    if (n == cap) { const char **nc = realloc(contents, sizeof(char *) * (cap *= 2)); if (!nc) break; contents = nc; }
                    contents[n++] = json_string_value(t);
                }
        }
    rc = contents ? tokenize_prompt(model, text, strlen(text), contents, n, false, tokens, n_tokens)
                  : hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    free(contents);
    json_decref(arr);
    free(text);
    return rc;
}
