/* chat.c — renders conversations with chat templates: JSON (jansson) to template values, the variables
 * transformers passes, and the built-in fallback templates. */
#include "chat.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jinja.h"
#include "util.h"

/* Fallbacks for models that ship no template. Written for this project; each follows its family's
 * published prompt format. */
static const char TEMPLATE_CHATML[] =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}\n"
    "{%- if message['content'] is string -%}{{- message['content'] -}}\n"
    "{%- elif message['content'] is iterable -%}\n"
    "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}\n"
    "{%- endif -%}\n"
    "{{- '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";

static const char TEMPLATE_LLAMA3[] =
    "{{- bos_token -}}\n"
    "{%- for message in messages -%}\n"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' -}}\n"
    "{%- if message['content'] is string -%}{{- message['content'] | trim -}}\n"
    "{%- elif message['content'] is iterable -%}\n"
    "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] | trim -}}{%- endfor -%}\n"
    "{%- endif -%}\n"
    "{{- '<|eot_id|>' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}\n";

/* Gemma has no system role: a system message is prepended to the first user turn. */
static const char TEMPLATE_GEMMA[] =
    "{{- bos_token -}}\n"
    "{%- set ns = namespace(system='') -%}\n"
    "{%- for message in messages -%}\n"
    "{%- set text = message['content'] if message['content'] is string else "
    "(message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('')) -%}\n"
    "{%- if message['role'] == 'system' -%}\n"
    "{%- set ns.system = ns.system + text | trim + '\\n\\n' -%}\n"
    "{%- else -%}\n"
    "{{- '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) + '\\n' -}}\n"
    "{%- if message['role'] == 'user' -%}{{- ns.system -}}{%- set ns.system = '' -%}{%- endif -%}\n"
    "{{- text | trim + '<end_of_turn>\\n' -}}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}\n";

const char *chat_builtin_template(const char *family) {
    if (!family) return NULL;
    if (!strcmp(family, "chatml") || !strcmp(family, "qwen")) return TEMPLATE_CHATML;
    if (!strcmp(family, "llama3")) return TEMPLATE_LLAMA3;
    if (!strcmp(family, "gemma")) return TEMPLATE_GEMMA;
    return NULL;
}

struct chat_template {
    jinja_template *t;
};

chat_template *chat_template_new(const char *source, const char *family) {
    if (!source) {
        source = chat_builtin_template(family);
        if (!source) {
            hearth_fail(HEARTH_ERR_UNSUPPORTED, "chat: no chat template and no built-in one for family '%s'",
                        family ? family : "(none)");
            return NULL;
        }
    }
    jinja_template *t = jinja_parse(source, strlen(source));
    if (!t) return NULL;
    chat_template *ct = malloc(sizeof *ct);
    if (!ct) { jinja_free(t); return NULL; }
    ct->t = t;
    return ct;
}

void chat_template_free(chat_template *ct) {
    if (!ct) return;
    jinja_free(ct->t);
    free(ct);
}

enum { MAX_JSON_DEPTH = 200 };

/* jansson value to a template value; false when nested too deeply. */
static bool from_json(const json_t *j, jinja_value *out, int depth) {
    if (depth > MAX_JSON_DEPTH) return false;
    switch (json_typeof(j)) {
    case JSON_NULL: *out = jinja_none(); return true;
    case JSON_TRUE: *out = jinja_bool(true); return true;
    case JSON_FALSE: *out = jinja_bool(false); return true;
    case JSON_INTEGER: *out = jinja_int((int64_t)json_integer_value(j)); return true;
    case JSON_REAL: *out = jinja_float(json_real_value(j)); return true;
    case JSON_STRING: *out = jinja_string(json_string_value(j), json_string_length(j)); return true;
    case JSON_ARRAY: {
        jinja_value l = jinja_list();
        size_t i;
        json_t *item;
        json_array_foreach(j, i, item) {
            jinja_value v;
            if (!from_json(item, &v, depth + 1)) { jinja_unref(l); return false; }
            jinja_list_append(l, v);
        }
        *out = l;
        return true;
    }
    case JSON_OBJECT: {
        jinja_value d = jinja_dict();
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)j, key, item) {
            jinja_value v;
            if (!from_json(item, &v, depth + 1)) { jinja_unref(d); return false; }
            jinja_dict_set(d, key, v);
        }
        *out = d;
        return true;
    }
    }
    return false;
}

static json_t *load(const char *what, const char *text, json_type want) {
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!j) {
        hearth_fail(HEARTH_ERR_FORMAT, "chat: %s: invalid JSON at line %d column %d: %s", what, err.line, err.column, err.text);
        return NULL;
    }
    if (json_typeof(j) != want) {
        hearth_fail(HEARTH_ERR_FORMAT, "chat: %s must be a JSON %s", what, want == JSON_ARRAY ? "array" : "object");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* tool_calls[].function.arguments: a string holding a JSON object becomes the object. */
static void parse_arguments(json_t *messages) {
    size_t i, k;
    json_t *m, *call;
    json_array_foreach(messages, i, m) {
        json_t *calls = json_object_get(m, "tool_calls");
        if (!json_is_array(calls)) continue;
        json_array_foreach(calls, k, call) {
            json_t *fn = json_object_get(call, "function");
            json_t *args = json_object_get(fn, "arguments");
            if (!json_is_string(args)) continue;
            json_t *parsed = json_loads(json_string_value(args), 0, NULL);
            if (json_is_object(parsed)) json_object_set_new(fn, "arguments", parsed);
            else json_decref(parsed);
        }
    }
}

static bool add_json(jinja_value vars, const char *key, json_t *j) {
    jinja_value v;
    if (!from_json(j, &v, 0)) {
        hearth_fail(HEARTH_ERR_FORMAT, "chat: %s nested deeper than %d levels", key, MAX_JSON_DEPTH);
        return false;
    }
    jinja_dict_set(vars, key, v);
    return true;
}

char *chat_template_apply(const chat_template *ct, const chat_request *req, size_t *len) {
    hearth_clear_error();
    if (!ct || !req || !req->messages_json) {
        hearth_fail(HEARTH_ERR_ARG, "chat: a template and messages are required");
        return NULL;
    }
    json_t *messages = NULL, *tools = NULL, *extra = NULL;
    jinja_value vars = jinja_dict();
    char *out = NULL;
    if (!(messages = load("messages", req->messages_json, JSON_ARRAY))) goto done;
    if (req->tools_json && !(tools = load("tools", req->tools_json, JSON_ARRAY))) goto done;
    if (req->extra_json && !(extra = load("extra variables", req->extra_json, JSON_OBJECT))) goto done;
    if (req->parse_tool_arguments) parse_arguments(messages);

    /* the order transformers builds them in: special tokens, extra kwargs, then the fixed arguments */
    jinja_dict_set(vars, "bos_token", jinja_cstring(req->bos_token ? req->bos_token : ""));
    jinja_dict_set(vars, "eos_token", jinja_cstring(req->eos_token ? req->eos_token : ""));
    if (extra) {
        const char *key;
        json_t *item;
        json_object_foreach(extra, key, item)
            if (!add_json(vars, key, item)) goto done;
    }
    if (!add_json(vars, "messages", messages)) goto done;
    if (tools) {
        if (!add_json(vars, "tools", tools)) goto done;
    } else jinja_dict_set(vars, "tools", jinja_none());
    jinja_dict_set(vars, "documents", jinja_none());
    jinja_dict_set(vars, "add_generation_prompt", jinja_bool(req->add_generation_prompt));

    jinja_options opts = {.now = req->now};
    out = jinja_render(ct->t, vars, &opts, len);
done:
    jinja_unref(vars);
    json_decref(messages);
    json_decref(tools);
    json_decref(extra);
    return out;
}

char *chat_render(const char *source, const char *family, const chat_request *req, size_t *len) {
    chat_template *ct = chat_template_new(source, family);
    if (!ct) return NULL;
    char *out = chat_template_apply(ct, req, len);
    chat_template_free(ct);
    return out;
}
