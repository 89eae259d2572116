/*
 * jinja.h — a Jinja2 template engine for chat templates.
 *
 * Contract
 *   - Renders templates byte-identically to Python's jinja2 (3.1) configured the way Hugging Face transformers
 *     configures it for chat templates: ImmutableSandboxedEnvironment, trim_blocks=True, lstrip_blocks=True,
 *     keep_trailing_newline=False, the loopcontrols extension ({% break %}, {% continue %}), the
 *     {% generation %} tag, a `tojson` filter that is json.dumps(ensure_ascii=False, indent=, separators=,
 *     sort_keys=), and the globals raise_exception(msg) and strftime_now(fmt). Undefined names behave like
 *     jinja2's default Undefined (print as "", falsy, iterate as empty; any attribute/item access on one fails).
 *   - Values are Python-like: none, bool, int (64-bit), float, str (UTF-8, indexed by code point), list,
 *     tuple, dict (insertion ordered). str() / repr() / json of values follow Python exactly (floats use the
 *     shortest round-trip repr).
 *   - Failures never abort: a template that does not parse, or fails while rendering (a Python exception in
 *     jinja2, raise_exception, an unsupported construct, a resource bound), yields NULL and a one-line reason
 *     in hearth_last_error(), "jinja: line N: ...". Hostile templates are bounded: nesting depth, macro
 *     recursion depth, output size and total evaluation steps.
 *   - A parsed template is immutable and may be rendered from several threads at once. Values are reference
 *     counted and not thread safe: build one context per render.
 *
 * Known differences from Python (none is exercised by the chat templates in tests/fixtures)
 *   - Integers are 64-bit; where Python would grow a big integer this fails with "integer overflow".
 *   - jinja2 folds constant expressions at compile time through the sandbox; this engine does not, so e.g.
 *     `{{ 5[1:] }}` (a literal that is not a sequence, sliced) fails here where jinja2 prints "".
 *   - Unicode: case mapping covers Latin, Greek and Cyrillic; repr() escapes the common non-printable
 *     characters (controls, separators, format characters) but knows no table of unassigned code points.
 *   - Lazy generators (map, select, items, ...) are computed eagerly; an error they hold is raised as soon as
 *     iteration starts, even where a `{% break %}` would have stopped before reaching it. Objects that Python
 *     prints with a memory address (generators, methods) print without one.
 *   - A macro defined inside a loop or another macro sees the template's top level, not its enclosing scope.
 *   - Not implemented (each fails with a message naming it): recursive loops; the filters filesizeformat,
 *     groupby, pprint, random, slice, striptags, truncate, urlencode, urlize, wordwrap, xmlattr; the globals
 *     cycler, joiner, lipsum; format specs in str.format(); start/end arguments of str.find/startswith/...;
 *     the tags extends, include, import, from, block, autoescape, do.
 */
#ifndef HEARTH_JINJA_H
#define HEARTH_JINJA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ values */

typedef enum {
    JINJA_UNDEFINED = 0,
    JINJA_NONE,
    JINJA_BOOL,
    JINJA_INT,
    JINJA_FLOAT,
    JINJA_STRING,
    JINJA_LIST,   /* also tuples */
    JINJA_DICT,
    JINJA_NAMESPACE,
    JINJA_CALLABLE, /* macros, builtin functions, bound methods */
    JINJA_LOOP,     /* the `loop` variable of a for loop */
} jinja_type;

/* A value, passed by value. Strings, lists, dicts and the other heap kinds are reference counted through
 * `obj`. Functions that return a jinja_value return a new reference; functions documented as "stealing"
 * take over the caller's reference. */
typedef struct jinja_value {
    uint8_t type;  /* jinja_type */
    uint8_t flags; /* internal (markup strings) */
    union {
        bool b;
        int64_t i;
        double f;
        void *obj;
    } u;
} jinja_value;

jinja_value jinja_none(void);
jinja_value jinja_bool(bool b);
jinja_value jinja_int(int64_t i);
jinja_value jinja_float(double f);
jinja_value jinja_string(const char *s, size_t n); /* copies n bytes of UTF-8 */
jinja_value jinja_cstring(const char *s);          /* copies a NUL-terminated string */
jinja_value jinja_list(void);
jinja_value jinja_dict(void);
void jinja_list_append(jinja_value list, jinja_value item);                 /* steals item */
void jinja_dict_set(jinja_value dict, const char *key, jinja_value value);  /* steals value; replaces */
jinja_value jinja_ref(jinja_value v);
void jinja_unref(jinja_value v);

/* ---------------------------------------------------------------- templates */

typedef struct jinja_template jinja_template;

/* Parse a template. NULL on a syntax error or an unsupported statement (reason in hearth_last_error()). */
jinja_template *jinja_parse(const char *source, size_t len);
void jinja_free(jinja_template *t);

typedef struct {
    int64_t now;         /* unix seconds for strftime_now (local time); 0: the current time */
    size_t max_output;   /* bytes; 0: 64 MiB. Also bounds every string built while rendering */
    int max_depth;       /* macro call depth; 0: 200 */
    uint64_t max_steps;  /* evaluation steps; 0: 50 million */
} jinja_options;

/* Render with `vars` (a dict; NULL for none) as the template's context. Returns a malloc'ed NUL-terminated
 * string (its length in *len when len is non-NULL), or NULL with the reason in hearth_last_error(). */
char *jinja_render(const jinja_template *t, jinja_value vars, const jinja_options *opts, size_t *len);

#endif
