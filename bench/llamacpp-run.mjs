// llamacpp-run.mjs — one llama.cpp measurement through node-llama-cpp, shaped like one `hearth bench -r 1`:
//   load the model (mmap, CPU only), warm up with a short prompt, then
//   pp: evaluateWithoutGeneratingNewTokens of P random tokens from an empty sequence;
//   tg: evaluate() generating N tokens one at a time from an empty sequence (greedy; the first input token
//       random), timed until the N-th token is produced.
// Prints one JSON line: load_s, ttft_s (load start -> the warm-up prompt evaluated and its next token chosen,
// as hearth bench's ttft_s), pp_tok_s, tg_tok_s, cpu_s_per_token (user + system CPU seconds of the process
// over the tg run / tokens), peak_rss_bytes (process maxRSS, which includes Node's own ~50 MB),
// node_rss_before_bytes (maxRSS before llama.cpp was loaded), rss_anon_bytes / rss_file_bytes (RssAnon and
// RssFile of /proc/self/status at the end), llama_cpp info.
//
// usage: node llamacpp-run.mjs MODEL --vocab V [--threads 2] [-p 512] [-n 128] [--warmup 16] [--module DIR]
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = { threads: 2, p: 512, n: 128, warmup: 16, vocab: 0, module: "node-llama-cpp" };
let model = null;
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--threads" || a === "-t") opt.threads = Number(args[++i]);
    else if (a === "-p") opt.p = Number(args[++i]);
    else if (a === "-n") opt.n = Number(args[++i]);
    else if (a === "--warmup") opt.warmup = Number(args[++i]);
    else if (a === "--vocab") opt.vocab = Number(args[++i]);
    else if (a === "--module") opt.module = args[++i];
    else model = a;
}
if (!model || !(opt.vocab > 0)) {
    console.error("usage: node llamacpp-run.mjs MODEL --vocab V [--threads 2] [-p 512] [-n 128] [--warmup 16] [--module DIR]");
    process.exit(2);
}
const modulePath = opt.module.startsWith("/") || opt.module.startsWith(".")
    ? pathToFileURL(path.join(path.resolve(opt.module), "dist", "index.js")).href : opt.module;
const { getLlama } = await import(modulePath);

// the same xorshift stream as hearth bench, so both engines see the same token ids
function randomTokens(count, vocab) {
    let s = 0x9E3779B97F4A7C15n;
    const mask = (1n << 64n) - 1n, out = [];
    for (let i = 0; i < count; i++) {
        s ^= (s << 13n) & mask; s ^= s >> 7n; s ^= (s << 17n) & mask;
        out.push(Number(s % BigInt(vocab)));
    }
    return out;
}

const rssBefore = process.resourceUsage().maxRSS * 1024;
const t0 = performance.now();
const llama = await getLlama({ gpu: false, logLevel: "error", maxThreads: opt.threads });
const tInit = performance.now();
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0, useMmap: true });
const tLoad = performance.now();
const ctx = await m.createContext({
    contextSize: Math.max(opt.p, opt.n, opt.warmup) + 16, batchSize: Math.max(opt.p, 1), sequences: 1,
    threads: opt.threads,
});
const seq = ctx.getSequence();
const tokens = randomTokens(Math.max(opt.p, opt.warmup, 1), opt.vocab);

// warm-up: a short prompt touches every weight once (page faults, buffers), as hearth bench's first prompt
// (generating one token after it: the context's logits of the prompt's last position, as hearth's argmax)
{
    const warm = tokens.slice(0, Math.max(opt.warmup, 1));
    await seq.evaluateWithoutGeneratingNewTokens(warm.slice(0, -1));
    for await (const tok of seq.evaluate(warm.slice(-1), { temperature: 0 })) { void tok; break; }
}
const tWarm = performance.now();

let ppTokS = 0, tgTokS = 0, cpuPerTok = 0;
if (opt.p > 0) {
    await seq.clearHistory();
    const t = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens.slice(0, opt.p));
    ppTokS = opt.p / ((performance.now() - t) / 1000);
}
if (opt.n > 0) {
    await seq.clearHistory();
    let got = 0;
    const t = performance.now(), cpu0 = process.cpuUsage();
    for await (const tok of seq.evaluate([tokens[0]], { temperature: 0 })) {
        void tok;
        if (++got >= opt.n) break;
    }
    tgTokS = got / ((performance.now() - t) / 1000);
    const cpu = process.cpuUsage(cpu0);
    cpuPerTok = (cpu.user + cpu.system) / 1e6 / Math.max(got, 1);
}
// the resident set's split at the end (process memory vs mapped file pages), as hearth bench reports it
const statusBytes = (field) => {
    try {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"));
        return m ? Number(m[1]) * 1024 : null;
    } catch { return null; }
};
const res = {
    engine: "llama.cpp (node-llama-cpp)",
    node_llama_cpp: llama.buildType + (llama.llamaCppRelease ? " " + llama.llamaCppRelease.release : ""),
    cpu_system_info: llama.systemInfo.trim(),
    n_threads: opt.threads, n_prompt: opt.p, n_gen: opt.n,
    runtime_init_s: (tInit - t0) / 1000, load_s: (tLoad - tInit) / 1000, warmup_s: (tWarm - tLoad) / 1000,
    ttft_s: (tWarm - tInit) / 1000, pp_tok_s: ppTokS, tg_tok_s: tgTokS, cpu_s_per_token: cpuPerTok,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024, node_rss_before_bytes: rssBefore,
    rss_anon_bytes: statusBytes("RssAnon"), rss_file_bytes: statusBytes("RssFile"),
};
console.log(JSON.stringify(res));
await ctx.dispose();
await m.dispose();
await llama.dispose();
