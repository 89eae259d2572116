// clients.mjs — drives a running `hearth serve` with the official OpenAI and Ollama JavaScript clients and
// with raw fetch (framing, UTF-8, error shapes). Run by tests/serve.test.sh, which starts the servers.
//
//   node clients.mjs api   BASE KEY MODEL OTHER_MODEL CTX   clients, streaming, usage, logprobs, errors
//   node clients.mjs load  BASE KEY MODEL N                 N concurrent streaming clients, all complete
//   node clients.mjs busy  BASE MODEL                       429 when the queue is full; disconnects cancel
//   node clients.mjs fuzz  BASE KEY MODEL N                 N mutated or garbage bodies: never a 5xx
//   node clients.mjs perf  BASE MODEL TOKENS PARALLEL [PID HZ]  aggregate tok/s, 1 stream vs PARALLEL streams
//
// Prints "ok - NAME" / "not ok - NAME: why" per check and a last line "# N passed, M failed"; exits 1 on
// failure. perf prints one JSON line "# perf {...}" with the measurements.
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const [mode, base, ...rest] = process.argv.slice(2);
let passed = 0, failed = 0;

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function metric(name, model) {
    const text = await (await fetch(`${base}/metrics`, { headers: authHeaders })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{model="${model}"}`));
    return line ? Number(line.split(' ').pop()) : NaN;
}

async function waitFor(what, pred, ms = 5000) {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
        if (await pred()) return;
        await sleep(25);
    }
    throw new Error(`timed out waiting for ${what}`);
}

// An OpenAI error as the SDK reports it.
async function expectApiError(promise, status, check) {
    try {
        await promise;
    } catch (e) {
        eq(e.status, status, 'HTTP status');
        if (check) check(e);
        return e;
    }
    throw new Error(`expected HTTP ${status}, the request succeeded`);
}

// A raw request; returns {status, headers, json|text}.
async function raw(path, { method = 'POST', body, headers = {} } = {}) {
    const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...authHeaders, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
}

// A stream's raw bytes split into events (SSE: blank-line separated; NDJSON: lines), each checked to be
// valid UTF-8 on its own.
async function rawEvents(path, body, sep) {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...authHeaders, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert(res.ok, `HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const events = [];
    const strict = new TextDecoder('utf-8', { fatal: true });
    let start = 0;
    const sepBytes = new TextEncoder().encode(sep);
    for (let i = 0; i + sepBytes.length <= bytes.length; i++) {
        if (sepBytes.every((b, k) => bytes[i + k] === b)) {
            events.push(strict.decode(bytes.subarray(start, i))); // throws on invalid UTF-8
            start = i + sepBytes.length;
            i = start - 1;
        }
    }
    eq(start, bytes.length, 'stream ends with a separator');
    return { res, events };
}

let authHeaders = {};

// ------------------------------------------------------------------------------------------------ api
async function api(key, model, other, ctx) {
    authHeaders = { Authorization: `Bearer ${key}` };
    const oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
    const ol = new Ollama({ host: base, headers: { Authorization: `Bearer ${key}` } });

    await check('openai: models.list', async () => {
        const ids = [];
        for await (const m of oa.models.list()) ids.push(m.id);
        assert(ids.includes(model) && ids.includes(other), `models: ${ids}`);
        eq((await oa.models.retrieve(model)).id, model, 'retrieve');
    });

    await check('openai: chat completion with usage', async () => {
        const r = await oa.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8, temperature: 0 });
        eq(r.object, 'chat.completion', 'object');
        assert(r.id.startsWith('chatcmpl-'), r.id);
        const c = r.choices[0];
        eq(c.message.role, 'assistant', 'role');
        eq(typeof c.message.content, 'string', 'content type');
        assert(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
        assert(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 8, JSON.stringify(r.usage));
        eq(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens, 'total_tokens');
    });

    await check('openai: streaming chat with include_usage', async () => {
        const stream = await oa.chat.completions.create({
            model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count to ten' }],
            max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
        });
        let text = '', role, finish, usage, chunks = 0, id;
        for await (const ch of stream) {
            chunks++;
            id ??= ch.id;
            eq(ch.id, id, 'one id per stream');
            eq(ch.object, 'chat.completion.chunk', 'object');
            if (ch.usage) usage = ch.usage;
            if (!ch.choices.length) continue;
            const d = ch.choices[0].delta;
            if (d.role) role = d.role;
            if (d.content) text += d.content;
            if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
        }
        eq(role, 'assistant', 'first delta role');
        eq(finish, 'length', 'finish_reason');
        assert(usage && usage.completion_tokens === 12 && usage.prompt_tokens > 0, `usage ${JSON.stringify(usage)}`);
        assert(chunks >= 3, `${chunks} chunks`);
        // the same request unstreamed gives the same text (greedy)
        const r = await oa.chat.completions.create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Count to ten' }], max_tokens: 12, temperature: 0 });
        eq(r.choices[0].message.content, text, 'streamed text == whole text');
    });

    await check('openai: completions, logprobs, stop string', async () => {
        const r = await oa.completions.create({ model, prompt: 'hello', max_tokens: 6, temperature: 0, logprobs: 2 });
        eq(r.object, 'text_completion', 'object');
        const c = r.choices[0];
        eq(c.logprobs.tokens.length, r.usage.completion_tokens, 'one logprob per token');
        eq(c.logprobs.tokens.join(''), c.text, 'tokens spell the text');
        assert(c.logprobs.token_logprobs.every((x) => x <= 0), 'logprobs <= 0');
        assert(c.logprobs.top_logprobs.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2), 'top 2');
        // a stop string taken from the greedy text itself: the answer is cut just before it
        const full = c.text;
        assert(full.length >= 3, `text '${full}'`);
        const stop = full.slice(1, 3);
        const s = await oa.completions.create({ model, prompt: 'hello', max_tokens: 6, temperature: 0, stop: [stop, 'never-appears'] });
        eq(s.choices[0].finish_reason, 'stop', 'finish_reason');
        eq(s.choices[0].text, full.slice(0, full.indexOf(stop)), 'text cut before the stop string');
    });

    await check('openai: chat logprobs with top_logprobs', async () => {
        const r = await oa.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
        const lp = r.choices[0].logprobs.content;
        eq(lp.length, r.usage.completion_tokens, 'entries');
        for (const e of lp) {
            eq(e.top_logprobs.length, 3, 'top_logprobs');
            assert(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob && e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob, 'sorted');
            eq(e.token, e.top_logprobs[0].token, 'greedy picks the most likely');
            assert(Array.isArray(e.bytes), 'bytes');
        }
    });

    await check('openai: seed makes sampling repeatable', async () => {
        const req = { model, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 16, temperature: 1.5, top_p: 1, seed: 1234 };
        const a = await oa.chat.completions.create(req), b = await oa.chat.completions.create(req);
        eq(a.choices[0].message.content, b.choices[0].message.content, 'same seed, same text');
    });

    await check('openai: a repeated system prompt is not recomputed', async () => {
        const system = 'You are a helpful assistant. '.repeat(20);
        const req = (q) => ({ model, messages: [{ role: 'system', content: system }, { role: 'user', content: q }], max_tokens: 2 });
        await oa.chat.completions.create(req('first question'));
        const r = await oa.chat.completions.create(req('second question'));
        const cached = r.usage.prompt_tokens_details.cached_tokens;
        assert(cached >= r.usage.prompt_tokens / 2, `cached ${cached} of ${r.usage.prompt_tokens}`);
    });

    await check('openai: errors 401 (no key, wrong key)', async () => {
        const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong', maxRetries: 0 });
        await expectApiError(bad.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), 401, (e) => {
            eq(e.code, 'invalid_api_key', 'code');
            eq(e.type, 'invalid_request_error', 'type');
        });
        const r = await fetch(`${base}/v1/models`);
        eq(r.status, 401, 'no key');
        const j = await r.json();
        assert(j.error && typeof j.error.message === 'string' && 'param' in j.error && 'code' in j.error, JSON.stringify(j));
    });

    await check('openai: error 404 (unknown model)', async () => {
        await expectApiError(oa.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }), 404, (e) => {
            eq(e.code, 'model_not_found', 'code');
            eq(e.param, 'model', 'param');
        });
    });

    await check('openai: errors 400 (n, tools, response_format, bad values, messages)', async () => {
        const msgs = [{ role: 'user', content: 'x' }];
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, n: 2 }), 400, (e) => eq(e.param, 'n', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { u: { type: 'string', format: 'uri' } } } } }], tool_choice: 'required' }), 400,
            (e) => { eq(e.param, 'tools', 'param'); assert(/unsupported format 'uri'/.test(e.message), e.message); });
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }), 400,
            (e) => eq(e.param, 'tool_choice', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, response_format: { type: 'yaml' } }), 400,
            (e) => eq(e.param, 'response_format', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', patternProperties: {} } } } }), 400,
            (e) => { eq(e.param, 'response_format', 'param'); assert(/unsupported keyword 'patternProperties'/.test(e.message), e.message); });
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, temperature: 7 }), 400, (e) => eq(e.param, 'temperature', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: msgs, max_tokens: 0 }), 400, (e) => eq(e.param, 'max_tokens', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: [] }), 400, (e) => eq(e.param, 'messages', 'param'));
        await expectApiError(oa.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] }), 400);
        await expectApiError(oa.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }), 400);
    });

    await check('openai: error 400 (prompt longer than the context names both numbers)', async () => {
        const e = await expectApiError(oa.chat.completions.create({ model, messages: [{ role: 'user', content: 'many words '.repeat(ctx) }] }), 400);
        const m = /the prompt has (\d+) tokens but the context holds (\d+)/.exec(e.message);
        assert(m && Number(m[1]) > ctx && Number(m[2]) === ctx, e.message);
        eq(e.code, 'context_length_exceeded', 'code');
    });

    await check('openai: error 413 (body over 8 MiB)', async () => {
        await expectApiError(oa.chat.completions.create({ model, messages: [{ role: 'user', content: 'x'.repeat(9 << 20) }] }), 413);
    });

    await check('openai: text parts and the developer role', async () => {
        const r = await oa.chat.completions.create({ model, max_tokens: 3, messages: [
            { role: 'developer', content: 'Be terse.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'there' }] }] });
        eq(r.choices[0].message.role, 'assistant', 'role');
    });

    await check('raw: malformed JSON, wrong method, unknown path', async () => {
        let r = await raw('/v1/chat/completions', { body: '{"model": "x", "messages": [' });
        eq(r.status, 400, 'malformed');
        assert(/malformed JSON/.test(r.json.error.message), r.text);
        r = await raw('/v1/chat/completions', { body: '[1,2]' });
        eq(r.status, 400, 'not an object');
        r = await raw('/v1/chat/completions', { method: 'GET' });
        eq(r.status, 405, 'GET on a POST endpoint');
        eq(r.headers.get('allow'), 'POST', 'Allow header');
        r = await raw('/v1/nothing-here', { method: 'GET' });
        eq(r.status, 404, 'unknown path');
        eq(typeof r.json.error.message, 'string', 'OpenAI error shape');
        r = await raw('/api/nothing-here', { method: 'GET' });
        eq(r.status, 404, 'unknown Ollama path');
        eq(typeof r.json.error, 'string', 'Ollama error shape');
    });

    await check('raw: SSE framing and UTF-8 per event', async () => {
        for (const m of [model, other]) {
            const { res, events } = await rawEvents('/v1/chat/completions', { model: m, messages: [{ role: 'user', content: 'héllo wörld ✓' }], max_tokens: 40, temperature: 1, seed: 7, stream: true }, '\n\n');
            assert(res.headers.get('content-type').startsWith('text/event-stream'), res.headers.get('content-type'));
            eq(events[events.length - 1], 'data: [DONE]', 'last event');
            for (const e of events.slice(0, -1)) {
                assert(e.startsWith('data: '), e);
                JSON.parse(e.slice(6));
            }
        }
    });

    await check('raw: health and metrics', async () => {
        const r = await raw('/', { method: 'GET' });
        eq(r.status, 200, 'status');
        eq(r.text, 'hearth is running', 'body');
        const m = await raw('/metrics', { method: 'GET' });
        for (const name of ['hearth_requests_total{endpoint="/v1/chat/completions",status="200"}', 'hearth_generated_tokens_total', 'hearth_prompt_tokens_total',
            'hearth_tokens_per_second', 'hearth_queue_depth', 'hearth_slots_active'])
            assert(m.text.includes(name), `metrics lack ${name}`);
        assert(/hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="400"\} [1-9]/.test(m.text), 'the 400s are counted');
    });

    // -------------------------------------------------------------------------------------- Ollama
    await check('ollama: list, show, ps, version', async () => {
        const tags = await ol.list();
        const names = tags.models.map((m) => m.name);
        assert(names.includes(model) && names.includes(other), `tags ${names}`);
        const show = await ol.show({ model });
        eq(show.details.format, 'gguf', 'format');
        assert(show.model_info['general.architecture'], 'architecture');
        const ps = await ol.ps();
        eq(ps.models.length, names.length, 'ps');
        assert(typeof (await ol.version()).version === 'string', 'version');
        const show2 = await ol.show({ model: `${model}:latest` });
        eq(show2.details.format, 'gguf', ':latest accepted');
    });

    await check('ollama: chat, not streamed', async () => {
        const r = await ol.chat({ model, messages: [{ role: 'user', content: 'Hello' }], stream: false, options: { num_predict: 5, temperature: 0 } });
        eq(r.done, true, 'done');
        eq(r.message.role, 'assistant', 'role');
        eq(r.eval_count, 5, 'eval_count');
        eq(r.done_reason, 'length', 'done_reason');
        assert(r.prompt_eval_count > 0 && r.total_duration > 0, 'durations');
    });

    await check('ollama: chat, streamed (the default)', async () => {
        const parts = await ol.chat({ model, messages: [{ role: 'user', content: 'Hello' }], stream: true, options: { num_predict: 6, temperature: 0 } });
        let text = '', last;
        for await (const p of parts) { text += p.message.content; last = p; }
        eq(last.done, true, 'last part done');
        eq(last.eval_count, 6, 'eval_count');
        const whole = await ol.chat({ model, messages: [{ role: 'user', content: 'Hello' }], stream: false, options: { num_predict: 6, temperature: 0 } });
        eq(whole.message.content, text, 'streamed == whole');
    });

    await check('ollama: generate with system, context continuation, raw', async () => {
        const r = await ol.generate({ model, prompt: 'Why is the sky blue?', system: 'Answer briefly.', stream: false, options: { num_predict: 4, temperature: 0 } });
        eq(r.done, true, 'done');
        assert(Array.isArray(r.context) && r.context.length === r.prompt_eval_count + r.eval_count, `context ${r.context.length}`);
        const parts = await ol.generate({ model, prompt: 'And the sea?', context: r.context, stream: true, options: { num_predict: 3 } });
        let last;
        for await (const p of parts) last = p;
        assert(last.done && last.prompt_eval_count > r.context.length, 'continued');
        const rawr = await ol.generate({ model, prompt: 'plain text', raw: true, stream: false, options: { num_predict: 2 } });
        eq(rawr.eval_count, 2, 'raw');
    });

    await check('ollama: load call, errors 404 / 401 / 400', async () => {
        const load = await ol.chat({ model, messages: [], stream: false });
        eq(load.done_reason, 'load', 'load');
        try {
            await ol.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }], stream: false });
            throw new Error('no error');
        } catch (e) {
            eq(e.status_code, 404, 'status');
            assert(/not found/.test(e.error), e.error);
        }
        try {
            await new Ollama({ host: base }).list();
            throw new Error('no error');
        } catch (e) {
            eq(e.status_code, 401, 'status');
        }
        try {
            await ol.chat({ model, messages: [{ role: 'user', content: 'x' }], format: 'yaml', stream: false });
            throw new Error('no error');
        } catch (e) {
            eq(e.status_code, 400, 'status');
        }
    });

    await check('raw: NDJSON framing and UTF-8 per line', async () => {
        const { res, events } = await rawEvents('/api/chat', { model: other, messages: [{ role: 'user', content: 'ünïcödé' }], options: { num_predict: 40, seed: 3 } }, '\n');
        assert(res.headers.get('content-type').startsWith('application/x-ndjson'), res.headers.get('content-type'));
        const objs = events.map((e) => JSON.parse(e));
        eq(objs[objs.length - 1].done, true, 'last line done');
        assert(objs.slice(0, -1).every((o) => o.done === false), 'others not done');
    });
}

// ----------------------------------------------------------------------------------------------- load
async function load(key, model, n) {
    authHeaders = { Authorization: `Bearer ${key}` };
    const oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });
    const ol = new Ollama({ host: base, headers: { Authorization: `Bearer ${key}` } });
    const maxTokens = 24;
    const t0 = Date.now();
    const one = async (i) => {
        const content = `client ${i}: ${'tell me something '.repeat(1 + (i % 5))}`;
        if (i % 4 === 3) { // every fourth client speaks Ollama
            let text = '', last;
            for await (const p of await ol.chat({ model, messages: [{ role: 'user', content }], stream: true, options: { num_predict: maxTokens, seed: i } })) {
                text += p.message.content;
                last = p;
            }
            assert(last && last.done && last.eval_count >= 1 && last.eval_count <= maxTokens, `ollama client ${i}: ${JSON.stringify(last)}`);
            return last.eval_count;
        }
        const stream = await oa.chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: maxTokens, seed: i, stream: true, stream_options: { include_usage: true } });
        let finish, usage, role;
        for await (const ch of stream) {
            if (ch.usage) usage = ch.usage;
            if (ch.choices.length && ch.choices[0].delta.role) role = ch.choices[0].delta.role;
            if (ch.choices.length && ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
        }
        assert(role === 'assistant' && ['stop', 'length'].includes(finish) && usage && usage.completion_tokens >= 1, `client ${i}: ${finish} ${JSON.stringify(usage)}`);
        return usage.completion_tokens;
    };
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => one(i)));
    const bad = results.filter((r) => r.status === 'rejected');
    await check(`load: ${n} concurrent streaming clients all get complete answers`, async () => {
        assert(bad.length === 0, `${bad.length} failed: ${bad.slice(0, 3).map((r) => r.reason && r.reason.message).join(' / ')}`);
    });
    const tokens = results.reduce((s, r) => s + (r.status === 'fulfilled' ? r.value : 0), 0);
    console.log(`# load: ${n} clients, ${tokens} tokens in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    await check('load: afterwards nothing is queued or active', async () => {
        await waitFor('idle slots', async () => (await metric('hearth_slots_active', model)) === 0 && (await metric('hearth_queue_depth', model)) === 0);
    });
}

// ----------------------------------------------------------------------------------------------- busy
async function busy(model) {
    const oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const long = { model, messages: [{ role: 'user', content: 'go on forever' }], max_tokens: 100000, temperature: 0 };
    const cancelledBefore = await metric('hearth_jobs_cancelled_total', model);

    // A holds the only slot
    const a = await oa.chat.completions.create({ ...long, stream: true });
    const it = a[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    // B waits in the queue (of 1)
    const bAbort = new AbortController();
    const b = fetch(`${base}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(long), signal: bAbort.signal, headers: { 'Content-Type': 'application/json' } }).catch((e) => e);
    await check('busy: a second request waits in the queue', async () => {
        await waitFor('queue depth 1', async () => (await metric('hearth_queue_depth', model)) === 1);
    });
    await check('busy: a third gets 429 (OpenAI client)', async () => {
        await expectApiError(oa.chat.completions.create({ ...long, max_tokens: 1 }), 429, (e) => assert(/try again later/.test(e.message), e.message));
    });
    await check('busy: and 429 from the Ollama API', async () => {
        const r = await raw('/api/generate', { body: { model, prompt: 'x', stream: false } });
        eq(r.status, 429, 'status');
        eq(typeof r.json.error, 'string', 'Ollama error shape');
    });
    await check('busy: a streaming client that disconnects is cancelled; the queued one takes the slot', async () => {
        a.controller.abort();
        await waitFor('A cancelled', async () => (await metric('hearth_jobs_cancelled_total', model)) >= cancelledBefore + 1);
        await waitFor('B admitted', async () => (await metric('hearth_queue_depth', model)) === 0 && (await metric('hearth_slots_active', model)) === 1);
    });
    await check('busy: a waiting (non-streaming) client that disconnects is cancelled', async () => {
        bAbort.abort();
        await b;
        await waitFor('B cancelled', async () => (await metric('hearth_jobs_cancelled_total', model)) >= cancelledBefore + 2 && (await metric('hearth_slots_active', model)) === 0);
    });
    await check('busy: the server still answers', async () => {
        const r = await oa.chat.completions.create({ ...long, max_tokens: 3 });
        eq(r.usage.completion_tokens, 3, 'tokens');
    });
}

// ----------------------------------------------------------------------------------------------- fuzz
// Deterministic PRNG so a failure can be replayed.
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = (a) => a[Math.floor(rnd() * a.length)];

function randomValue(depth = 0) {
    const choices = [null, true, false, 0, -1, 1, 1.5, -1e308, 1e308, 2 ** 53, -(2 ** 63), 'x', '', '\u0000', '\uffff', 'é✓😀', '{}', [], {}];
    if (depth < 3 && rnd() < 0.2) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(depth + 1));
    if (depth < 3 && rnd() < 0.2) return { role: randomValue(depth + 1), content: randomValue(depth + 1), type: pick(['text', 'image_url', 5]) };
    return pick(choices);
}

function mutate(obj) {
    const o = structuredClone(obj);
    const keys = Object.keys(o).concat(['n', 'tools', 'logprobs', 'top_logprobs', 'stream_options', 'response_format', 'stop', 'seed', 'options', 'context', 'raw', 'format', 'max_completion_tokens']);
    for (let k = 0, m = 1 + Math.floor(rnd() * 3); k < m; k++) {
        const key = pick(keys);
        if (key === 'messages' && Array.isArray(o.messages) && rnd() < 0.5) o.messages[0][pick(['role', 'content', 'images'])] = randomValue();
        else if (key === 'options' && rnd() < 0.5) o.options = { ...(o.options || {}), [pick(['temperature', 'top_k', 'num_predict', 'stop', 'seed', 'repeat_last_n'])]: randomValue() };
        else o[key] = randomValue();
    }
    // keep generation short whatever else changed
    if (typeof o.max_tokens !== 'number' || o.max_tokens > 8) o.max_tokens = 4;
    if (o.options && typeof o.options === 'object' && !Array.isArray(o.options)) o.options.num_predict = 4;
    else if (rnd() < 0.5) o.options = { num_predict: 4 };
    return o;
}

function garbage() {
    const kinds = [
        () => Uint8Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)),
        () => '{'.repeat(5000) + '}'.repeat(5000),
        () => '['.repeat(100000),
        () => '{"messages":' + '['.repeat(3000) + ']'.repeat(3000) + '}',
        () => '{"a":"\\ud800"}',
        () => '{"model": "x", "messages": [{"role": "user", "content": "\u0000"}]}',
        () => '{"messages":[{"role":"user","content":"x"}], "max_tokens": 1e400}',
        () => '{"x": 123456789012345678901234567890}',
        () => '',
        () => 'null',
        () => '"just a string"',
        () => JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stop: Array(100).fill('s') }),
    ];
    return pick(kinds)();
}

async function fuzz(key, model, n) {
    authHeaders = { Authorization: `Bearer ${key}` };
    const endpoints = {
        '/v1/chat/completions': { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 },
        '/v1/completions': { model, prompt: 'hi', max_tokens: 4 },
        '/api/chat': { model, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 4 } },
        '/api/generate': { model, prompt: 'hi', stream: false, options: { num_predict: 4 } },
        '/api/show': { model },
    };
    const problems = [];
    const counts = {};
    let i = 0;
    const worker = async () => {
        while (i < n) {
            const k = i++;
            const path = pick(Object.keys(endpoints));
            const body = rnd() < 0.25 ? garbage() : JSON.stringify(mutate(endpoints[path]));
            try {
                const r = await raw(path, { body });
                counts[r.status] = (counts[r.status] || 0) + 1;
                const isOllama = path.startsWith('/api/');
                if (r.status >= 500) problems.push(`#${k} ${path} -> ${r.status} ${r.text.slice(0, 200)} for ${String(body).slice(0, 200)}`);
                else if (r.status >= 400 && !(r.json && (isOllama ? typeof r.json.error === 'string' : typeof r.json.error?.message === 'string')))
                    problems.push(`#${k} ${path} -> ${r.status} with a malformed error body: ${r.text.slice(0, 200)}`);
                else if (r.status === 200 && !r.json && !r.text.includes('data: ') && !r.text.includes('"done"'))
                    problems.push(`#${k} ${path} -> 200 but not JSON: ${r.text.slice(0, 100)}`);
            } catch (e) {
                problems.push(`#${k} ${path} -> ${e.message} for ${String(body).slice(0, 200)}`);
            }
        }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    console.log(`# fuzz: statuses ${JSON.stringify(counts)}`);
    await check(`fuzz: ${n} mutated and garbage bodies, no 5xx, well-formed errors`, async () => {
        assert(problems.length === 0, problems.slice(0, 5).join('\n'));
    });
    await check('fuzz: the server still answers', async () => {
        eq((await raw('/', { method: 'GET' })).text, 'hearth is running', 'health');
    });
}

// ----------------------------------------------------------------------------------------------- perf
// Wall-clock tok/s on a shared machine swings with other work; the server's own CPU time (from /proc, when
// its pid is given) does not, so tokens per CPU-second are reported too: the cost of a token alone vs in a
// batch of PARALLEL. Best wall-clock run of 3 each, interleaved; median CPU rate.
async function perf(model, tokens, parallel, pid, hz) {
    const { readFileSync } = await import('node:fs');
    const cpu = () => {
        if (!pid) return NaN;
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(f[11]) + Number(f[12])) / hz; // utime + stime
    };
    const oa = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
    const req = { model, prompt: 'The quick brown fox', max_tokens: tokens, temperature: 0 };
    const run = async (k) => {
        const c0 = cpu(), t0 = performance.now();
        const rs = await Promise.all(Array.from({ length: k }, () => oa.completions.create(req)));
        const s = (performance.now() - t0) / 1000, c = cpu() - c0;
        const n = rs.reduce((a, r) => a + r.usage.completion_tokens, 0);
        return { tokens: n, tps: n / s, cpu_tps: n / c };
    };
    await run(1); // warm up
    const one = [], many = [];
    for (let i = 0; i < 3; i++) {
        one.push(await run(1));
        many.push(await run(parallel));
    }
    const best = (xs) => Math.max(...xs.map((x) => x.tps));
    const median = (xs) => xs.map((x) => x.cpu_tps).sort((a, b) => a - b)[1];
    const ratio = best(many) / best(one), cpuRatio = median(many) / median(one);
    const r1 = (x) => +x.toFixed(1);
    console.log(`# perf ${JSON.stringify({
        model, tokens, parallel, single_tps: r1(best(one)), parallel_tps: r1(best(many)), ratio: +ratio.toFixed(2),
        single_runs: one.map((x) => r1(x.tps)), parallel_runs: many.map((x) => r1(x.tps)),
        single_tok_per_cpu_s: r1(median(one)), parallel_tok_per_cpu_s: r1(median(many)), cpu_ratio: +cpuRatio.toFixed(2),
    })}`);
    await check(`perf: every stream completed (${parallel} x ${tokens} tokens)`, async () => {
        assert(many.every((m) => m.tokens === parallel * tokens), 'tokens');
    });
    await check(`perf: ${parallel} streams decode together (aggregate ${ratio.toFixed(2)}x one stream, ${cpuRatio.toFixed(2)}x per CPU-second)`, async () => {
        // a bound that holds on a loaded 2-core machine; the measured ratios go to build/serve-perf.log
        assert((pid ? cpuRatio : ratio) > 1.5, `ratio ${ratio.toFixed(2)}, per CPU-second ${cpuRatio.toFixed(2)}`);
    });
}

try {
    if (mode === 'api') await api(rest[0], rest[1], rest[2], Number(rest[3]));
    else if (mode === 'load') await load(rest[0], rest[1], Number(rest[2]));
    else if (mode === 'busy') await busy(rest[0]);
    else if (mode === 'fuzz') await fuzz(rest[0], rest[1], Number(rest[2]));
    else if (mode === 'perf') await perf(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3] || 0), Number(rest[4] || 100));
    else throw new Error(`unknown mode ${mode}`);
} catch (e) {
    failed++;
    console.log(`not ok - ${mode}: ${e && e.stack}`);
}
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
