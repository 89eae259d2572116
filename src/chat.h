/*
 * chat.h — turn a conversation into a prompt with the model's chat template.
 *
 * Contract
 *   - Input is JSON text in the OpenAI chat shape, passed straight through: `messages` is an array of objects
 *     (role, content — a string, null or a list of parts — and optional tool_calls, tool_call_id, name,
 *     reasoning_content, ...), `tools` an array of tool objects or NULL, `extra` an object of additional
 *     template variables (enable_thinking, reasoning_effort, ...). Objects keep their key order.
 *   - The template sees exactly what transformers' apply_chat_template gives it: messages, tools (None when
 *     absent), documents=None, add_generation_prompt, bos_token, eos_token, and the extra variables; output
 *     is byte-identical to Python jinja2 under transformers' settings (see jinja.h).
 *   - A model file without a template gets a built-in one for its family: "gemma", "llama3", "chatml" (alias
 *     "qwen"). These are used only then.
 *   - Errors (bad JSON, template syntax, a template that raises, e.g. "System role not supported") return
 *     NULL with the reason in hearth_last_error().
 *   - A chat_template is immutable once made and may be applied from several threads at once.
 */
#ifndef HEARTH_CHAT_H
#define HEARTH_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *messages_json; /* required: JSON array of messages */
    const char *tools_json;    /* JSON array of tools, or NULL: tools=None */
    const char *extra_json;    /* JSON object of extra template variables, or NULL */
    bool add_generation_prompt;
    const char *bos_token;     /* NULL: "" */
    const char *eos_token;     /* NULL: "" */
    /* OpenAI clients send tool_calls[].function.arguments as a JSON *string*; most templates expect an
     * object (HF convention). When set, string arguments that parse as a JSON object become that object. */
    bool parse_tool_arguments;
    int64_t now;               /* unix time for strftime_now(); 0: now */
} chat_request;

typedef struct chat_template chat_template;

/* Parse `source`, or when it is NULL the built-in template of `family`. NULL on error. */
chat_template *chat_template_new(const char *source, const char *family);
void chat_template_free(chat_template *ct);
/* Render a request; malloc'ed NUL-terminated prompt (length in *len if non-NULL) or NULL on error. */
char *chat_template_apply(const chat_template *ct, const chat_request *req, size_t *len);

/* One shot: chat_template_new + chat_template_apply + chat_template_free. */
char *chat_render(const char *source, const char *family, const chat_request *req, size_t *len);

/* The built-in template source of a family ("gemma", "llama3", "chatml", "qwen"), or NULL. */
const char *chat_builtin_template(const char *family);

#endif
