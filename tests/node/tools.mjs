// tools.mjs — structured output and tool calls against a running `hearth serve` (random-weight fixture
// models: nothing but the grammar makes the output valid), with the official openai and ollama clients.
// Run by tests/tools.test.sh, which starts the servers and validates what this writes with python-jsonschema.
//
//   node tools.mjs schemas BASE MODEL OUT   response_format json_schema over many schemas, json_object,
//                                           streaming, Ollama format (schema and "json")
//   node tools.mjs tools BASE MODEL OUT     tool_choice required / named / auto / none, parallel_tool_calls,
//                                           streamed deltas reassembled by the client, a conversation continued
//                                           with role "tool" results, Ollama tools
//
// Every output that must be valid is written to OUT as a pair of files with a line in OUT/index.tsv:
// "schema file, output file, status, label". Prints "ok - NAME" / "not ok - NAME: why" per check and
// "# N passed, M failed"; exits 1 on failure.
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { appendFileSync, writeFileSync } from 'node:fs';

const [mode, base, model, out] = process.argv.slice(2);
const oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 120000 });
const ol = new Ollama({ host: base });
let passed = 0, failed = 0, nOut = 0;

async function check(name, fn) {
    try {
        await fn();
        passed++;
        console.log(`ok - ${name}`);
    } catch (e) {
        failed++;
        console.log(`not ok - ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
    }
}

function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}

function eq(a, b, what) {
    assert(a === b, `${what}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
}

// An output for the validator: status "complete" (must validate) or "length" (cut by max_tokens).
function record(schema, text, status, label) {
    const k = nOut++;
    writeFileSync(`${out}/${mode}_${k}.schema.json`, JSON.stringify(schema));
    writeFileSync(`${out}/${mode}_${k}.out.json`, text);
    appendFileSync(`${out}/index.tsv`, `${mode}_${k}.schema.json\t${mode}_${k}.out.json\t${status}\t${label}\n`);
}

const S = (maxLength = 12) => ({ type: 'string', maxLength });

// Schemas within the converter's subset; strings are bounded so random weights end them.
const SCHEMAS = [
    { type: 'object', properties: { name: S(), age: { type: 'integer', minimum: 0, maximum: 150 } }, required: ['name', 'age'] },
    { type: 'object', properties: { ok: { type: 'boolean' }, note: { type: ['string', 'null'], maxLength: 8 } }, required: ['ok'] },
    { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] }, shade: { type: 'number', minimum: 0, maximum: 1 } }, required: ['color', 'shade'] },
    { type: 'array', items: { type: 'integer', minimum: -5, maximum: 5 }, minItems: 1, maxItems: 4 },
    { type: 'object', properties: { tags: { type: 'array', items: S(5), maxItems: 3 }, id: { type: 'string', format: 'uuid' } }, required: ['tags', 'id'] },
    { type: 'object', properties: { when: { type: 'string', format: 'date' }, at: { type: 'string', format: 'time' } }, required: ['when'] },
    { type: 'object', properties: { email: { type: 'string', format: 'email' }, ip: { type: 'string', format: 'ipv4' } }, required: ['email', 'ip'] },
    { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' } }, required: ['code'] },
    { type: 'object', properties: { point: { type: 'array', prefixItems: [{ type: 'number' }, { type: 'number' }], items: false, minItems: 2 } }, required: ['point'] },
    { anyOf: [{ type: 'integer', minimum: 10, maximum: 20 }, { type: 'string', maxLength: 3 }, { type: 'null' }] },
    { const: { version: 2, mode: 'strict' } },
    { type: 'object', properties: { user: { $ref: '#/$defs/user' }, admins: { type: 'array', items: { $ref: '#/$defs/user' }, maxItems: 2 } },
      required: ['user'], $defs: { user: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, nick: S(6) }, required: ['id'] } } },
    { type: 'object', properties: { tree: { $ref: '#/$defs/node' } }, required: ['tree'],
      $defs: { node: { type: 'object', properties: { v: { type: 'integer', maximum: 99 }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['v'] } } },
    { allOf: [{ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }, { type: 'object', properties: { b: S(4) } }] },
    { type: 'object', properties: { scores: { type: 'object', additionalProperties: { type: 'integer', minimum: 0, maximum: 9 } } } },
    { type: 'object', properties: { n: { type: 'number', exclusiveMinimum: -1.5, exclusiveMaximum: 2.25 } }, required: ['n'] },
    { type: 'object', properties: { title: { type: 'string', minLength: 3, maxLength: 10 }, done: { type: 'boolean' }, prio: { enum: [1, 2, 3, null] } }, required: ['title', 'done', 'prio'] },
    { type: 'string', maxLength: 20 },
    { type: 'integer', minimum: 1000, maximum: 1999 },
    { type: 'object', properties: { 'key with space': S(4), 'ünï': { type: 'boolean' }, 'q"uote': { type: 'null' } }, required: ['key with space', 'ünï', 'q"uote'] },
    { type: 'object', properties: { matrix: { type: 'array', items: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 9 }, minItems: 2, maxItems: 2 }, minItems: 2, maxItems: 3 } }, required: ['matrix'] },
    { oneOf: [{ type: 'object', properties: { kind: { const: 'circle' }, r: { type: 'number', minimum: 0, maximum: 10 } }, required: ['kind', 'r'] },
              { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['kind', 'side'] }] },
    { type: 'object', properties: { when: { type: 'string', format: 'date-time' }, slug: { type: 'string', pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' } }, required: ['when', 'slug'] },
    { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string', pattern: '^[0-9]{4}$' }, qty: { type: 'integer', minimum: 1, maximum: 3 } }, required: ['sku', 'qty'], additionalProperties: false }, minItems: 1, maxItems: 2 } }, required: ['items'] },
];

const messages = [{ role: 'user', content: 'Answer in JSON.' }];
const sampling = (i) => ({ temperature: 1, top_p: 1, seed: 100 + i, max_tokens: 1500 });

async function schemas() {
    let complete = 0;
    await check(`openai: response_format json_schema, ${SCHEMAS.length} schemas`, async () => {
        const results = await Promise.all(SCHEMAS.map((schema, i) => oa.chat.completions.create({
            model, messages, ...sampling(i), response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema, strict: true } },
        })));
        results.forEach((r, i) => {
            const c = r.choices[0];
            assert(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
            if (c.finish_reason === 'stop') complete++;
            record(SCHEMAS[i], c.message.content, c.finish_reason === 'stop' ? 'complete' : 'length', `json_schema ${i}`);
        });
        assert(complete >= SCHEMAS.length - 2, `${complete}/${SCHEMAS.length} ended before max_tokens`);
    });

    await check('openai: response_format json_object (any object)', async () => {
        for (let i = 0; i < 3; i++) {
            const r = await oa.chat.completions.create({ model, messages, ...sampling(50 + i), max_tokens: 1000, response_format: { type: 'json_object' } });
            const c = r.choices[0];
            record({ type: 'object' }, c.message.content, c.finish_reason === 'stop' ? 'complete' : 'length', 'json_object');
            if (c.finish_reason === 'stop') assert(typeof JSON.parse(c.message.content) === 'object', c.message.content);
        }
    });

    await check('openai: a streamed json_schema answer is valid once assembled', async () => {
        const schema = SCHEMAS[0];
        const stream = await oa.chat.completions.create({ model, messages, ...sampling(7), stream: true,
            response_format: { type: 'json_schema', json_schema: { name: 'person', schema } } });
        let text = '', finish;
        for await (const ch of stream) {
            if (!ch.choices.length) continue;
            text += ch.choices[0].delta.content ?? '';
            finish = ch.choices[0].finish_reason ?? finish;
        }
        eq(finish, 'stop', 'finish_reason');
        record(schema, text, 'complete', 'json_schema streamed');
    });

    await check('openai: max_tokens cuts a constrained answer: finish_reason "length"', async () => {
        const r = await oa.chat.completions.create({ model, messages, ...sampling(3), max_tokens: 3,
            response_format: { type: 'json_schema', json_schema: { name: 'x', schema: SCHEMAS[11] } } });
        eq(r.choices[0].finish_reason, 'length', 'finish_reason');
    });

    await check('ollama: format with a schema and "json"', async () => {
        for (let i = 0; i < 4; i++) {
            const schema = SCHEMAS[(i * 5 + 2) % SCHEMAS.length];
            const r = await ol.chat({ model, messages, format: schema, stream: false, options: { temperature: 1, seed: 300 + i, num_predict: 1500 } });
            assert(['stop', 'length'].includes(r.done_reason), r.done_reason);
            record(schema, r.message.content, r.done_reason === 'stop' ? 'complete' : 'length', `ollama chat format ${i}`);
        }
        const g = await ol.generate({ model, prompt: 'JSON please', format: SCHEMAS[2], stream: false, options: { seed: 9, num_predict: 1500 } });
        record(SCHEMAS[2], g.response, g.done_reason === 'stop' ? 'complete' : 'length', 'ollama generate format');
        let text = '', last;
        for await (const part of await ol.chat({ model, messages, format: 'json', stream: true, options: { seed: 11, num_predict: 400 } })) {
            text += part.message.content;
            last = part;
        }
        record({ type: 'object' }, text, last.done_reason === 'stop' ? 'complete' : 'length', 'ollama format json streamed');
    });

    await check('errors: unsupported schema keywords and bad formats are 400s naming the problem', async () => {
        try {
            await oa.chat.completions.create({ model, messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', format: 'hostname' } } } });
            throw new Error('no error');
        } catch (e) {
            eq(e.status, 400, 'status');
            assert(/unsupported format 'hostname'/.test(e.message), e.message);
        }
        try {
            await ol.chat({ model, messages, format: { type: 'object', properties: { a: { type: 'string', contentSchema: {} } } }, stream: false });
            throw new Error('no error');
        } catch (e) {
            eq(e.status_code, 400, 'status');
            assert(/contentSchema/.test(e.error), e.error);
        }
    });
}

// --------------------------------------------------------------------------------------------- tools
const TOOLS = [
    { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: {
        type: 'object', properties: { city: { type: 'string', maxLength: 16 }, unit: { enum: ['celsius', 'fahrenheit'] },
            days: { type: 'integer', minimum: 1, maximum: 10 } }, required: ['city', 'days'] } } },
    { type: 'function', function: { name: 'search', description: 'Search the web', parameters: {
        type: 'object', properties: { q: { type: 'string', pattern: '^[a-z ]{1,12}$' }, limit: { type: 'integer', minimum: 1, maximum: 50 },
            filters: { type: 'object', properties: { lang: { enum: ['en', 'fr', 'de'] }, safe: { type: 'boolean' } }, required: ['safe'] } },
        required: ['q'] } } },
    { type: 'function', function: { name: 'ping', description: 'No arguments' } },
];
const params = Object.fromEntries(TOOLS.map((t) => [t.function.name, t.function.parameters ?? { type: 'object', additionalProperties: false }]));
const question = [{ role: 'system', content: 'You can call tools.' }, { role: 'user', content: 'What is the weather in Paris?' }];

// Checks calls as the client got them and hands their arguments to the validator.
function checkCalls(calls, label, only) {
    assert(Array.isArray(calls) && calls.length >= 1, `no tool_calls: ${JSON.stringify(calls)}`);
    for (const c of calls) {
        eq(c.type, 'function', 'type');
        assert(typeof c.id === 'string' && c.id.length > 0, 'id');
        assert(c.function.name in params, `unknown function ${c.function.name}`);
        if (only) eq(c.function.name, only, 'the named function');
        eq(typeof c.function.arguments, 'string', 'arguments are a JSON string');
        const args = JSON.parse(c.function.arguments);
        assert(args && typeof args === 'object' && !Array.isArray(args), c.function.arguments);
        record(params[c.function.name], c.function.arguments, 'complete', `${label} ${c.function.name}`);
    }
}

async function tools() {
    let firstCall;
    await check('openai: tool_choice "required" (one call each, parallel_tool_calls false)', async () => {
        let complete = 0;
        for (let i = 0; i < 4; i++) {
            const r = await oa.chat.completions.create({ model, messages: question, tools: TOOLS, tool_choice: 'required',
                parallel_tool_calls: false, ...sampling(i), max_tokens: 800 });
            const c = r.choices[0];
            if (c.finish_reason === 'length') continue; // cut by the budget: the calls are incomplete
            complete++;
            eq(c.finish_reason, 'tool_calls', 'finish_reason');
            eq(c.message.tool_calls.length, 1, 'one call');
            eq(c.message.content, null, 'no content');
            checkCalls(c.message.tool_calls, 'required');
            firstCall ??= c.message.tool_calls[0];
        }
        assert(complete >= 3, `${complete}/4 complete`);
    });

    await check('openai: tool_choice names a function', async () => {
        let complete = 0;
        for (let i = 0; i < 3; i++) {
            const name = i === 2 ? 'get_weather' : 'search';
            const r = await oa.chat.completions.create({ model, messages: question, tools: TOOLS, ...sampling(20 + i), max_tokens: 1000,
                tool_choice: { type: 'function', function: { name } } });
            const c = r.choices[0];
            if (c.finish_reason === 'length') continue;
            complete++;
            eq(c.finish_reason, 'tool_calls', 'finish_reason');
            checkCalls(c.message.tool_calls, 'named', name);
        }
        assert(complete >= 2, `${complete}/3 complete`);
    });

    await check('openai: streamed tool-call deltas reassembled by the client (chat.completions.stream)', async () => {
        let done = 0;
        for (let i = 0; i < 3 && !done; i++) {
            const stream = oa.chat.completions.stream({ model, messages: question, tools: TOOLS, tool_choice: 'required', ...sampling(40 + i), max_tokens: 1000 });
            const deltas = [];
            stream.on('chunk', (ch) => { for (const c of ch.choices) if (c.delta.tool_calls) deltas.push(...c.delta.tool_calls); });
            const final = await stream.finalChatCompletion();
            const c = final.choices[0];
            if (c.finish_reason === 'length') continue;
            eq(c.finish_reason, 'tool_calls', 'finish_reason');
            checkCalls(c.message.tool_calls, 'streamed');
            // OpenAI's shape: a first delta with id, type and name, then argument text
            const first = deltas.find((d) => d.index === 0);
            assert(first && first.id && first.type === 'function' && first.function.name, JSON.stringify(first));
            eq(deltas.filter((d) => d.id).length, c.message.tool_calls.length, 'one delta with an id per call');
            done++;
        }
        assert(done, 'no streamed answer ended before max_tokens');
    });

    await check('openai: a conversation continued with role "tool" results', async () => {
        assert(firstCall, 'no call from the first check');
        const assistant = { role: 'assistant', content: null, tool_calls: [firstCall] };
        const result = 'TOOL-RESULT-' + 'x'.repeat(40);
        const base = [...question, assistant];
        const withResult = [...base, { role: 'tool', tool_call_id: firstCall.id, content: JSON.stringify({ result }) }];
        const r1 = await oa.chat.completions.create({ model, messages: withResult, tools: TOOLS, ...sampling(60), max_tokens: 30 });
        const c = r1.choices[0];
        assert(['stop', 'length', 'tool_calls'].includes(c.finish_reason), c.finish_reason);
        if (c.finish_reason === 'tool_calls') checkCalls(c.message.tool_calls, 'auto');
        else eq(typeof c.message.content, 'string', 'content');
        // the result reached the prompt: the same conversation with a one-character result is shorter by about the result's length
        const r2 = await oa.chat.completions.create({ model, messages: [...base, { role: 'tool', tool_call_id: firstCall.id, content: '{}' }],
            tools: TOOLS, ...sampling(60), max_tokens: 1 });
        assert(r1.usage.prompt_tokens - r2.usage.prompt_tokens >= 20, `prompt ${r1.usage.prompt_tokens} vs ${r2.usage.prompt_tokens}`);
        // and the assistant's call did too
        const r3 = await oa.chat.completions.create({ model, messages: question, tools: TOOLS, ...sampling(60), max_tokens: 1 });
        assert(r2.usage.prompt_tokens > r3.usage.prompt_tokens, 'the assistant turn with tool_calls is in the prompt');
    });

    await check('openai: tool_choice "auto" and "none"', async () => {
        for (const choice of ['auto', 'none']) {
            const r = await oa.chat.completions.create({ model, messages: question, tools: TOOLS, tool_choice: choice, ...sampling(70), max_tokens: 40 });
            const c = r.choices[0];
            assert(['stop', 'length', 'tool_calls'].includes(c.finish_reason), c.finish_reason);
            if (choice === 'none') assert(!c.message.tool_calls, 'no calls with "none"');
            if (c.message.tool_calls) checkCalls(c.message.tool_calls, 'auto');
        }
    });

    await check('ollama: tools (tool_choice "required" as an extension), calls as objects, a continued conversation', async () => {
        let got;
        for (let i = 0; i < 3 && !got; i++) {
            const r = await ol.chat({ model, messages: question, tools: TOOLS, tool_choice: 'required', stream: false,
                options: { temperature: 1, seed: 80 + i, num_predict: 1000 } });
            if (r.done_reason === 'length') continue;
            assert(Array.isArray(r.message.tool_calls) && r.message.tool_calls.length >= 1, JSON.stringify(r.message));
            for (const tc of r.message.tool_calls) {
                assert(tc.function.name in params, tc.function.name);
                eq(typeof tc.function.arguments, 'object', 'arguments are an object');
                record(params[tc.function.name], JSON.stringify(tc.function.arguments), 'complete', `ollama ${tc.function.name}`);
            }
            got = r.message;
        }
        assert(got, 'no complete answer');
        // streamed
        let calls = [];
        for await (const part of await ol.chat({ model, messages: question, tools: TOOLS, tool_choice: 'required', stream: true,
            options: { temperature: 1, seed: 90, num_predict: 1000 } })) {
            if (part.message.tool_calls) calls = calls.concat(part.message.tool_calls);
            if (part.done && part.done_reason !== 'length') assert(calls.length >= 1, 'streamed calls');
        }
        const next = await ol.chat({ model, stream: false, tools: TOOLS, options: { seed: 1, num_predict: 8 },
            messages: [...question, { role: 'assistant', content: '', tool_calls: got.tool_calls },
                { role: 'tool', tool_name: got.tool_calls[0].function.name, content: 'sunny, 21 degrees' }] });
        eq(next.done, true, 'done');
    });

    await check('ollama: show lists the "tools" capability of a template that uses tools', async () => {
        const show = await ol.show({ model });
        assert(show.capabilities.includes('tools'), JSON.stringify(show.capabilities));
    });

    await check('errors: tools are checked (400s)', async () => {
        const bad = [
            [{ tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'a' } }] }, /two tools/],
            [{ tools: [{ type: 'retrieval' }] }, /tools\[0\]/],
            [{ tools: TOOLS, tool_choice: 'sometimes' }, /tool_choice/],
            [{ tool_choice: 'required' }, /needs tools/],
            [{ tools: TOOLS, response_format: { type: 'json_object' } }, /cannot be combined/],
            [{ messages: [{ role: 'user', content: 'x', tool_calls: [] }] }, /only assistant/],
            [{ messages: [{ role: 'assistant', content: null, tool_calls: [{ function: { name: 5 } }] }] }, /tool_calls\[0\]/],
        ];
        for (const [extra, re] of bad) {
            try {
                await oa.chat.completions.create({ model, messages: question, max_tokens: 1, ...extra });
                throw new Error(`no error for ${JSON.stringify(extra)}`);
            } catch (e) {
                eq(e.status, 400, `status for ${JSON.stringify(extra)}`);
                assert(re.test(e.message), e.message);
            }
        }
    });
}

if (mode === 'schemas') await schemas();
else if (mode === 'tools') await tools();
else { console.log(`not ok - unknown mode ${mode}`); failed++; }
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
