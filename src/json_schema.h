/* json_schema.h — the JSON Schema converter's internal entry point (hearth_json_schema_to_gbnf is the public
 * one): the same grammar in another value syntax.
 *
 * Contract
 *   - With dialect NULL (or gemma false) the output is exactly hearth_json_schema_to_gbnf's.
 *   - With gemma, values are written as Gemma 4's tool-call arguments are (see its chat template's
 *     format_argument): {key:value,...} with bare keys, [a,b], strings as raw text between <|"|> quotes,
 *     true/false, null, JSON numbers; no whitespace. String text never contains the quote's text, so a parser
 *     that ends a string at the first <|"|> reads back what the grammar meant. Lengths and patterns count
 *     characters as in JSON; '<' is left out of pattern and length-bounded strings (a subset, never more).
 *   - gemma_quote is the GBNF of the quote: a token reference (<[id]>) when the vocabulary has it as a
 *     control token, else a literal; NULL: the literal "<|\"|>".
 *   - The grammar's start rule is "root"; every other rule name is derived from the schema.
 */
#ifndef HEARTH_JSON_SCHEMA_H
#define HEARTH_JSON_SCHEMA_H

#include <stdbool.h>

typedef struct {
    bool gemma;
    const char *gemma_quote;
} json_schema_dialect;

int json_schema_gbnf(const char *schema_json, const json_schema_dialect *dialect, char **gbnf_out);

#endif
