/* tools.c — structured output and tool calls for both APIs: reading OpenAI's response_format, Ollama's format,
 * tools and tool_choice from a request; turning them into the sampler's grammar; messages that carry tool
 * calls and tool results into the chat template's shape; calls in answers.
 *
 * Contract
 *   - Structured output: response_format {"type": "json_object"} and Ollama's "json" admit any JSON object;
 *     {"type": "json_schema", "json_schema": {"name", "schema", "strict"}} and an Ollama format object admit
 *     documents valid for the schema (hearth_json_schema_to_gbnf; a schema it does not support is a 400
 *     carrying the converter's message). The grammar applies from the first token, so the output is valid
 *     unless max_tokens cuts it (finish_reason "length").
 *   - Tools: the template shows them to the model (the tools array is passed to the renderer); tool_choice
 *     "auto" (the default) lets the model answer or call, with a lazy grammar from the format's opening
 *     marker; "required" and a named function constrain from the first token; "none" shows the tools but
 *     neither constrains nor parses. parallel_tool_calls false allows one call. The output is generated with
 *     control tokens' text (markers often are control tokens) and parsed back with hearth_tool_parser.
 *   - Tools and structured output together are refused (400): a reply is either calls or a document.
 *   - Everything here answers malformed input with a 400 naming the parameter; nothing is silently ignored.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void constraint_free(req_constraint *c) {
    free(c->tools_json);
    free(c->name);
    free(c->schema);
    memset(c, 0, sizeof *c);
}

bool constraint_tools(const req_constraint *c) { return c->tools_json && !c->tools_off; }

/* A schema object (or true) as JSON text, checked by the converter now so that a bad one is a 400. */
static int take_schema(request *r, const char *param, json_t *schema, req_constraint *c) {
    char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return respond_error(r, 500, NULL, NULL, "out of memory"), -1;
    char *gbnf;
    if (hearth_json_schema_to_gbnf(text, &gbnf) < 0) {
        respond_error(r, 400, param, "invalid_schema", "%s", hearth_last_error());
        free(text);
        return -1;
    }
    free(gbnf);
    free(c->schema);
    c->schema = text;
    return 1;
}

static const char ANY_OBJECT[] = "{\"type\":\"object\",\"additionalProperties\":true}";

int read_response_format(request *r, json_t *body, req_constraint *c) {
    json_t *v = json_object_get(body, "response_format");
    if (!v || json_is_null(v)) return 0;
    const char *type = json_string_value(json_object_get(v, "type"));
    if (!json_is_object(v) || !type)
        return respond_error(r, 400, "response_format", "invalid_type", "'response_format' must be an object with a 'type'"), -1;
    if (!strcmp(type, "text")) return 0;
    if (!strcmp(type, "json_object")) {
        c->schema = strdup(ANY_OBJECT);
        return c->schema ? 1 : (respond_error(r, 500, NULL, NULL, "out of memory"), -1);
    }
    if (strcmp(type, "json_schema"))
        return respond_error(r, 400, "response_format", "invalid_value",
                             "response_format type '%s' is not one of \"text\", \"json_object\", \"json_schema\"", type), -1;
    json_t *js = json_object_get(v, "json_schema");
    if (!json_is_object(js))
        return respond_error(r, 400, "response_format", "invalid_value", "response_format.json_schema must be an object"), -1;
    json_t *name = json_object_get(js, "name"), *strict = json_object_get(js, "strict");
    if (name && !json_is_string(name))
        return respond_error(r, 400, "response_format", "invalid_type", "response_format.json_schema.name must be a string"), -1;
    if (strict && !json_is_null(strict) && !json_is_boolean(strict))
        return respond_error(r, 400, "response_format", "invalid_type", "response_format.json_schema.strict must be a boolean"), -1;
    json_t *schema = json_object_get(js, "schema");
    if (!schema || json_is_null(schema)) { /* no schema: any object */
        c->schema = strdup(ANY_OBJECT);
        return c->schema ? 1 : (respond_error(r, 500, NULL, NULL, "out of memory"), -1);
    }
    if (!json_is_object(schema) && !json_is_boolean(schema))
        return respond_error(r, 400, "response_format", "invalid_type", "response_format.json_schema.schema must be an object"), -1;
    return take_schema(r, "response_format", schema, c);
}

int read_ollama_format(request *r, json_t *body, req_constraint *c) {
    json_t *v = json_object_get(body, "format");
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) return 0;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "json"))
            return respond_error(r, 400, "format", NULL, "'format' must be \"json\" or a JSON schema object"), -1;
        c->schema = strdup(ANY_OBJECT);
        return c->schema ? 1 : (respond_error(r, 500, NULL, NULL, "out of memory"), -1);
    }
    if (!json_is_object(v)) return respond_error(r, 400, "format", NULL, "'format' must be \"json\" or a JSON schema object"), -1;
    return take_schema(r, "format", v, c);
}

/* tools: [{"type": "function", "function": {"name", "description"?, "parameters"?}}] */
int read_tools(request *r, json_t *body, api_kind api, req_constraint *c) {
    const char *code = api == API_OPENAI ? "invalid_value" : NULL;
    json_t *tools = json_object_get(body, "tools");
    json_t *choice = json_object_get(body, "tool_choice"); /* for Ollama, a hearth extension */
    bool has_tools = tools && !json_is_null(tools);
    if (has_tools && !json_is_array(tools)) return respond_error(r, 400, "tools", code, "'tools' must be an array"), -1;
    if (has_tools && json_array_size(tools) > 128) return respond_error(r, 400, "tools", code, "at most 128 tools"), -1;
    if (!json_array_size(tools)) has_tools = false;
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *type = json_object_get(t, "type"), *fn = json_object_get(t, "function");
        json_t *name = json_object_get(fn, "name"), *params = json_object_get(fn, "parameters");
        if (!json_is_object(t) || (type && !json_is_null(type) && !(json_is_string(type) && !strcmp(json_string_value(type), "function"))))
            return respond_error(r, 400, "tools", code, "tools[%zu] must be {\"type\": \"function\", \"function\": {...}}", i), -1;
        if (!json_is_object(fn) || !json_is_string(name) || !json_string_length(name))
            return respond_error(r, 400, "tools", code, "tools[%zu].function needs a 'name'", i), -1;
        if (params && !json_is_null(params) && !json_is_object(params))
            return respond_error(r, 400, "tools", code, "tools[%zu].function.parameters must be a JSON Schema object", i), -1;
        for (size_t k = 0; k < i; k++)
            if (json_equal(name, json_object_get(json_object_get(json_array_get(tools, k), "function"), "name")))
                return respond_error(r, 400, "tools", code, "two tools are named '%s'", json_string_value(name)), -1;
    }
    c->choice = HEARTH_TOOL_CHOICE_AUTO;
    if (choice && !json_is_null(choice)) {
        const char *s = json_string_value(choice);
        if (s && !strcmp(s, "none")) c->tools_off = true;
        else if (s && !strcmp(s, "auto")) c->choice = HEARTH_TOOL_CHOICE_AUTO;
        else if (s && !strcmp(s, "required")) c->choice = HEARTH_TOOL_CHOICE_REQUIRED;
        else if (json_is_object(choice)) {
            const char *name = json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
            if (!name) return respond_error(r, 400, "tool_choice", code, "tool_choice must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}"), -1;
            bool found = false;
            json_array_foreach(tools, i, t)
                found |= !strcmp(name, json_string_value(json_object_get(json_object_get(t, "function"), "name")));
            if (!found) return respond_error(r, 400, "tool_choice", code, "tool_choice names '%s', which is not among the tools", name), -1;
            c->choice = HEARTH_TOOL_CHOICE_REQUIRED;
            if (!(c->name = strdup(name))) return respond_error(r, 500, NULL, NULL, "out of memory"), -1;
        } else {
            return respond_error(r, 400, "tool_choice", code,
                                 "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}"), -1;
        }
        if (!has_tools && c->choice == HEARTH_TOOL_CHOICE_REQUIRED)
            return respond_error(r, 400, "tool_choice", code, "tool_choice '%s' needs tools", c->name ? c->name : "required"), -1;
    }
    bool parallel = true;
    if (api == API_OPENAI && param_bool(r, body, "parallel_tool_calls", &parallel) < 0) return -1;
    c->single = !parallel;
    if (!has_tools) return 0;
    if (!(c->tools_json = json_dumps(tools, JSON_COMPACT))) return respond_error(r, 500, NULL, NULL, "out of memory"), -1;
    return 1;
}

int apply_constraint(request *r, srv_model *m, const req_constraint *c, job_params *p) {
    if (constraint_tools(c) && c->schema)
        return respond_error(r, 400, "tools", "invalid_value", "tools and a response format cannot be combined (set tool_choice to \"none\" or drop the format)"), -1;
    if (c->schema && hearth_sampler_set_json_schema(p->sampler, c->schema) < 0)
        return respond_error(r, 400, "response_format", "invalid_schema", "%s", hearth_last_error()), -1;
    if (!constraint_tools(c)) return 0;
    hearth_tool_format f = sched_tool_format(m);
    hearth_tool_spec spec = {.format = f, .tools_json = c->tools_json, .choice = c->choice, .name = c->name, .single = c->single};
    if (hearth_sampler_set_tools(p->sampler, sched_hearth_model(m), &spec) < 0)
        return respond_error(r, 400, "tools", "invalid_schema", "%s", hearth_last_error()), -1;
    p->special_text = true;
    /* Gemma 4 writes <|tool_response> where it expects the result: that ends the turn (it is an
     * end-of-generation token in real vocabularies; this catches it as text) */
    if (f == HEARTH_TOOL_FORMAT_GEMMA4 && p->n_stop < SERVER_MAX_STOP && (p->stop[p->n_stop] = strdup("<|tool_response>")))
        p->n_stop++;
    return 0;
}

/* ------------------------------------------------------------------------------------------ messages */

int copy_tool_calls(request *r, api_kind api, json_t *calls, size_t idx, json_t *out_msg) {
    const char *code = api == API_OPENAI ? "invalid_value" : NULL;
    if (!json_is_array(calls)) return respond_error(r, 400, "messages", code, "messages[%zu].tool_calls must be an array", idx), -1;
    json_t *out = json_array();
    size_t i;
    json_t *tc;
    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function"), *id = json_object_get(tc, "id");
        json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
        if (!json_is_object(fn) || !json_is_string(name) || (args && !json_is_null(args) && !json_is_string(args) && !json_is_object(args))) {
            json_decref(out);
            return respond_error(r, 400, "messages", code,
                                 "messages[%zu].tool_calls[%zu] must be {\"function\": {\"name\", \"arguments\"}}", idx, i), -1;
        }
        char gen[32];
        if (!json_is_string(id)) snprintf(gen, sizeof gen, "call_%zu_%zu", idx, i);
        json_array_append_new(out, json_pack("{s:o,s:s,s:{s:O,s:O}}", "id", json_is_string(id) ? json_copy(id) : json_string(gen),
                                             "type", "function", "function", "name", name, "arguments",
                                             args && !json_is_null(args) ? args : json_object()));
    }
    json_object_set_new(out_msg, "tool_calls", out);
    return 0;
}

/* ------------------------------------------------------------------------------------------- answers */

void tool_call_id(char *out, size_t cap) {
    uint64_t a = random_u64();
    snprintf(out, cap, "call_%016llx", (unsigned long long)a);
}

json_t *tool_calls_json(api_kind api, const hearth_tool_call *calls, int n) {
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        if (api == API_OPENAI) {
            char id[64];
            tool_call_id(id, sizeof id);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:{s:o,s:o}}", "id", id, "type",
                                                 "function", "function", "name", json_text(calls[i].name, strlen(calls[i].name)),
                                                 "arguments", json_text(calls[i].arguments, strlen(calls[i].arguments))));
        } else {
            json_t *args = json_loads(calls[i].arguments, JSON_ALLOW_NUL, NULL);
            json_array_append_new(arr, json_pack("{s:{s:o,s:o}}", "function", "name", json_text(calls[i].name, strlen(calls[i].name)),
                                                 "arguments", args ? args : json_object()));
        }
    }
    return arr;
}
