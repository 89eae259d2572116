// vs-llamacpp.mjs — hearth against llama.cpp (through node-llama-cpp) on the same GGUF files, same threads,
// same prompt/generation lengths and token ids, alternating the two engines round by round (L,H then H,L)
// so that a machine's drift (other load, heat, page cache) hits both alike. Every run is a fresh process:
// llama.cpp via llamacpp-run.mjs, hearth via `hearth bench -r 1 --json`. Prints a markdown table of medians:
// pp and tg tok/s for both, hearth ÷ llama.cpp, hearth's weight bandwidth in tg, peak RSS, load time,
// load → first token (a --warmup-token prompt, default 1: one random token id alone, so the figure is load
// plus one forward pass; warm page cache) and CPU seconds per generated token for both; raw runs go to --out.
// --also-warmup K (default 16; 0: off) adds, per round, a short hearth run whose first token follows a K-token
// prompt (load + K-token prefill + first token), reported beside it.
//
// Page cache: before a file's rounds its cached pages are dropped (dd iflag=nocache) and one untimed run
// reads it back, so every file starts from a known state: by default the one a first hearth run after a
// reboot leaves (hearth maps files with MADV_HUGEPAGE, so the weights come back as 2 MB folios, which both
// engines then map); with --warm-with llama, the one a first llama.cpp run leaves; --keep-cache leaves the
// cache as it is, whose state then depends on history (which process read the file last, and how; the
// development VM also pages out files idle for a minute). llama.cpp's load time depends on it (see
// RESULTS.md).
//
// usage: node vs-llamacpp.mjs [-r ROUNDS] [--hearth-rounds K] [-t 2] [-p 512] [-n 128] [--warmup 1] [--also-warmup 16]
//                             [--hearth build/hearth] [--module DIR] [--out FILE.jsonl] MODEL.gguf...
//                             [--keep-cache | --warm-with hearth|llama]
//        node vs-llamacpp.mjs --report FILE.jsonl     (the table again, from recorded runs)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const opt = { rounds: 3, hearthRounds: Infinity, threads: 2, p: 512, n: 128, warmup: 1, alsoWarmup: 16,
              hearth: path.join(here, "..", "build", "hearth"), module: "node-llama-cpp", out: null, report: null,
              keepCache: false, warmWith: "hearth" };
const models = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-r" || a === "--rounds") opt.rounds = Number(argv[++i]);
    else if (a === "--hearth-rounds") opt.hearthRounds = Number(argv[++i]);
    else if (a === "-t" || a === "--threads") opt.threads = Number(argv[++i]);
    else if (a === "-p") opt.p = Number(argv[++i]);
    else if (a === "-n") opt.n = Number(argv[++i]);
    else if (a === "--warmup") opt.warmup = Number(argv[++i]);
    else if (a === "--also-warmup") opt.alsoWarmup = Number(argv[++i]);
    else if (a === "--hearth") opt.hearth = argv[++i];
    else if (a === "--module") opt.module = argv[++i];
    else if (a === "--out") opt.out = argv[++i];
    else if (a === "--report") opt.report = argv[++i];
    else if (a === "--keep-cache") opt.keepCache = true;
    else if (a === "--warm-with") opt.warmWith = argv[++i];
    else if (a === "-h" || a === "--help") {
        console.log("usage: node vs-llamacpp.mjs [-r ROUNDS] [--hearth-rounds K] [-t 2] [-p 512] [-n 128] [--warmup 1] [--also-warmup 16] " +
                    "[--hearth PATH] [--module DIR] [--out FILE.jsonl] [--keep-cache | --warm-with hearth|llama] MODEL.gguf...");
        process.exit(0);
    } else models.push(a);
}
if (!models.length && !opt.report) { console.error("vs-llamacpp: no model given (see --help)"); process.exit(2); }
if (opt.warmWith !== "hearth" && opt.warmWith !== "llama") {
    console.error("vs-llamacpp: --warm-with takes hearth or llama");
    process.exit(2);
}

const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
const lastJson = (text) => {
    const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
    return line ? JSON.parse(line) : null;
};
const median = (v) => {
    if (!v.length) return NaN;
    const s = [...v].sort((a, b) => a - b), k = s.length >> 1;
    return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
};

function vocabOf(model) {
    const r = spawnSync(opt.hearth, ["info", model], { encoding: "utf8" });
    const m = /vocabulary:\s+(\d+)/.exec(r.stdout || "");
    if (r.status !== 0 || !m) throw new Error(`hearth info ${model} failed: ${r.stderr}`);
    return Number(m[1]);
}

// One run of each engine; `len` overrides the prompt / generation / warm-up lengths (the cache warm-up).
function runLlama(model, vocab, len = opt) {
    const r = spawnSync(process.execPath, [path.join(here, "llamacpp-run.mjs"), model, "--vocab", String(vocab),
        "--threads", String(opt.threads), "-p", String(len.p), "-n", String(len.n), "--warmup", String(len.warmup),
        "--module", opt.module], { encoding: "utf8", maxBuffer: 1 << 26 });
    const j = r.status === 0 ? lastJson(r.stdout) : null;
    if (!j) throw new Error(`llama.cpp run failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return j;
}

function runHearth(model, len = opt) {
    const r = spawnSync(opt.hearth, ["bench", model, "-p", String(len.p), "-n", String(len.n), "-r", "1",
        "-t", String(opt.threads), "--warmup", String(len.warmup), "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
    const j = r.status === 0 ? lastJson(r.stdout) : null;
    if (!j) throw new Error(`hearth bench failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return j;
}

// Drop the file's pages from the page cache, then read its weights back through one engine (untimed).
function prepareCache(model, vocab) {
    const dd = spawnSync("dd", [`if=${model}`, "iflag=nocache", "count=0", "status=none"], { encoding: "utf8" });
    if (dd.status !== 0) log(`  (could not drop ${path.basename(model)} from the page cache: ${dd.stderr.trim()})`);
    const short = { p: 16, n: 1, warmup: 16 };
    if (opt.warmWith === "llama") runLlama(model, vocab, short);
    else runHearth(model, short);
}

// ---- measure (unless only reporting), recording every run
const records = [];
// appendFileSync: spawnSync blocks the event loop, so a write stream would only flush at the very end
const out = opt.out && !opt.report ? opt.out : null;
for (const model of opt.report ? [] : models) {
    const vocab = vocabOf(model);
    if (!opt.keepCache) {
        log(`${path.basename(model)}: page cache dropped, weights read back by ${opt.warmWith} (untimed)`);
        prepareCache(model, vocab);
    }
    for (let round = 0; round < opt.rounds; round++) {
        const withHearth = round < opt.hearthRounds;
        const order = round % 2 === 0 ? ["llama", "hearth"] : ["hearth", "llama"];
        for (const engine of order) {
            if (engine === "hearth" && !withHearth) continue;
            const load = os.loadavg()[0];
            log(`${path.basename(model)} round ${round + 1}/${opt.rounds}: ${engine} (load average ${load.toFixed(2)})`);
            const j = engine === "llama" ? runLlama(model, vocab) : runHearth(model);
            if (engine === "hearth" && opt.alsoWarmup > 0) {
                j.n_warmup_also = opt.alsoWarmup;
                try {
                    j.ttft_also_s = runHearth(model, { p: 0, n: 1, warmup: opt.alsoWarmup }).ttft_s;
                } catch (e) { /* the main run still counts */
                    j.ttft_also_s = null;
                    log(`  (the ${opt.alsoWarmup}-token first-token run failed: ${e.message.slice(0, 200)})`);
                }
            }
            const rec = { model, round, date: new Date().toISOString(), ...j, engine, loadavg_1m_before: load };
            records.push(rec);
            log(`  pp ${j.pp_tok_s.toFixed(2)} tok/s, tg ${j.tg_tok_s.toFixed(2)} tok/s, peak RSS ` +
                `${(j.peak_rss_bytes / 1e6).toFixed(0)} MB, load ${j.load_s.toFixed(3)} s`);
            if (out) fs.appendFileSync(out, JSON.stringify(rec) + "\n");
        }
    }
}
if (opt.report)
    for (const line of fs.readFileSync(opt.report, "utf8").split("\n")) if (line.trim()) records.push(JSON.parse(line));

// ---- one row per (model, threads, prompt, generation): medians of each engine's runs
const groups = new Map();
for (const r of records) {
    r.engine = r.engine === "hearth" ? "hearth" : "llama";
    const key = `${path.basename(r.model)}|${r.n_threads}|${r.n_prompt}|${r.n_gen}`;
    if (!groups.has(key)) groups.set(key, { llama: [], hearth: [], first: r });
    groups.get(key)[r.engine].push(r);
}
const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "-");
const dates = records.map((r) => (r.date || "").slice(0, 10)).filter(Boolean).sort();
console.log(`\nmedians of fresh-process runs; ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} CPUs; ` +
            `${dates[0] ?? "?"}${dates.length && dates.at(-1) !== dates[0] ? " to " + dates.at(-1) : ""}\n`);
console.log("| model | threads | test | pp llama.cpp tok/s | pp hearth tok/s | pp hearth÷llama | tg llama.cpp tok/s | " +
            "tg hearth tok/s | tg hearth÷llama | hearth GB/s in tg | peak RSS llama.cpp | peak RSS hearth | RSS hearth÷llama | " +
            "RSS at the end, anon + file: llama.cpp | hearth | " +
            "load llama.cpp | load→first token llama.cpp | load→first token hearth | hearth first token ÷ llama load | " +
            "hearth load→first token after a longer prompt | its ÷ llama load | " +
            "CPU-s/token llama.cpp | CPU-s/token hearth | CPU hearth÷llama | runs (llama.cpp/hearth) | load avg |");
console.log("|---|---:|---|" + "---:|".repeat(23));
for (const [key, g] of groups) {
    const [model, threads, p, n] = key.split("|");
    const med = (e, k) => median(g[e].map((j) => j[k]).filter((v) => Number.isFinite(v)));
    const ppl = med("llama", "pp_tok_s"), pph = med("hearth", "pp_tok_s");
    const tgl = med("llama", "tg_tok_s"), tgh = med("hearth", "tg_tok_s");
    const rssl = med("llama", "peak_rss_bytes"), rssh = med("hearth", "peak_rss_bytes");
    const cpul = med("llama", "cpu_s_per_token"), cpuh = med("hearth", "cpu_s_per_token");
    const la = median([...g.llama, ...g.hearth].map((j) => j.loadavg_1m_before));
    const split = (e) => `${f(med(e, "rss_anon_bytes") / 1e6, 0)} + ${f(med(e, "rss_file_bytes") / 1e6, 0)} MB`;
    const also = g.hearth.find((j) => j.n_warmup_also)?.n_warmup_also;
    console.log(`| ${model} | ${threads} | pp${p} / tg${n} | ${f(ppl)} | ${f(pph)} | ${f(pph / ppl, 3)} | ${f(tgl)} | ` +
                `${f(tgh)} | ${f(tgh / tgl, 3)} | ${f(med("hearth", "tg_bandwidth_gb_s"), 1)} | ${f(rssl / 1e6, 0)} MB | ` +
                `${f(rssh / 1e6, 0)} MB | ${f(rssh / rssl, 2)} | ${split("llama")} | ${split("hearth")} | ` +
                `${f(med("llama", "load_s"), 3)} s | ` +
                `${f(med("llama", "ttft_s"), 3)} s | ${f(med("hearth", "ttft_s"), 3)} s | ` +
                `${f(med("hearth", "ttft_s") / med("llama", "load_s"), 3)} | ` +
                `${also ? `${f(med("hearth", "ttft_also_s"), 3)} s (${also} tokens)` : "-"} | ` +
                `${f(med("hearth", "ttft_also_s") / med("llama", "load_s"), 3)} | ${f(cpul, 4)} | ${f(cpuh, 4)} | ` +
                `${f(cpuh / cpul, 3)} | ${g.llama.length}/${g.hearth.length} | ${f(la)} |`);
}
