// vs-llamacpp.mjs — hearth against llama.cpp (through node-llama-cpp) on the same GGUF files, same threads,
// same prompt/generation lengths and token ids, alternating the two engines round by round (L,H then H,L)
// so that a machine's drift (other load, heat, page cache) hits both alike. Every run is a fresh process:
// llama.cpp via llamacpp-run.mjs, hearth via `hearth bench -r 1 --json`. Prints a markdown table of medians:
// pp and tg tok/s for both, hearth ÷ llama.cpp, peak RSS and load time for both; raw runs go to --out.
//
// usage: node vs-llamacpp.mjs [-r ROUNDS] [--hearth-rounds K] [-t 2] [-p 512] [-n 128] [--warmup 16]
//                             [--hearth build/hearth] [--module DIR] [--out FILE.jsonl] MODEL.gguf...
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const opt = { rounds: 3, hearthRounds: Infinity, threads: 2, p: 512, n: 128, warmup: 16,
              hearth: path.join(here, "..", "build", "hearth"), module: "node-llama-cpp", out: null };
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
    else if (a === "--hearth") opt.hearth = argv[++i];
    else if (a === "--module") opt.module = argv[++i];
    else if (a === "--out") opt.out = argv[++i];
    else if (a === "-h" || a === "--help") {
        console.log("usage: node vs-llamacpp.mjs [-r ROUNDS] [--hearth-rounds K] [-t 2] [-p 512] [-n 128] [--warmup 16] " +
                    "[--hearth PATH] [--module DIR] [--out FILE.jsonl] MODEL.gguf...");
        process.exit(0);
    } else models.push(a);
}
if (!models.length) { console.error("vs-llamacpp: no model given (see --help)"); process.exit(2); }

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

function runLlama(model, vocab) {
    const r = spawnSync(process.execPath, [path.join(here, "llamacpp-run.mjs"), model, "--vocab", String(vocab),
        "--threads", String(opt.threads), "-p", String(opt.p), "-n", String(opt.n), "--warmup", String(opt.warmup),
        "--module", opt.module], { encoding: "utf8", maxBuffer: 1 << 26 });
    const j = r.status === 0 ? lastJson(r.stdout) : null;
    if (!j) throw new Error(`llama.cpp run failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return j;
}

function runHearth(model) {
    const r = spawnSync(opt.hearth, ["bench", model, "-p", String(opt.p), "-n", String(opt.n), "-r", "1",
        "-t", String(opt.threads), "--warmup", String(opt.warmup), "--json"], { encoding: "utf8", maxBuffer: 1 << 26 });
    const j = r.status === 0 ? lastJson(r.stdout) : null;
    if (!j) throw new Error(`hearth bench failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return j;
}

const out = opt.out ? fs.createWriteStream(opt.out, { flags: "a" }) : null;
const rows = [];
for (const model of models) {
    const vocab = vocabOf(model);
    const runs = { llama: [], hearth: [] };
    for (let round = 0; round < opt.rounds; round++) {
        const withHearth = round < opt.hearthRounds;
        const order = round % 2 === 0 ? ["llama", "hearth"] : ["hearth", "llama"];
        for (const engine of order) {
            if (engine === "hearth" && !withHearth) continue;
            const load = os.loadavg()[0];
            log(`${path.basename(model)} round ${round + 1}/${opt.rounds}: ${engine} (load average ${load.toFixed(2)})`);
            const j = engine === "llama" ? runLlama(model, vocab) : runHearth(model);
            j.loadavg_1m_before = load;
            runs[engine].push(j);
            log(`  pp ${j.pp_tok_s.toFixed(2)} tok/s, tg ${j.tg_tok_s.toFixed(2)} tok/s, peak RSS ` +
                `${(j.peak_rss_bytes / 1e6).toFixed(0)} MB, load ${j.load_s.toFixed(3)} s`);
            if (out) out.write(JSON.stringify({ model, round, engine, ...j }) + "\n");
        }
    }
    const agg = (k, e) => median(runs[e].map((j) => j[k]));
    rows.push({
        model: path.basename(model), samples: `${runs.llama.length}/${runs.hearth.length}`,
        pp_l: agg("pp_tok_s", "llama"), pp_h: agg("pp_tok_s", "hearth"),
        tg_l: agg("tg_tok_s", "llama"), tg_h: agg("tg_tok_s", "hearth"),
        rss_l: agg("peak_rss_bytes", "llama"), rss_h: agg("peak_rss_bytes", "hearth"),
        load_l: agg("load_s", "llama"), load_h: agg("load_s", "hearth"),
        loadavg: median([...runs.llama, ...runs.hearth].map((j) => j.loadavg_1m_before)),
    });
}
if (out) out.end();

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "-");
console.log(`\n${opt.threads} threads, pp${opt.p} / tg${opt.n}, medians of fresh-process runs ` +
            `(samples llama.cpp/hearth), ${os.cpus()[0]?.model ?? "?"}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`| model | pp${opt.p} llama.cpp | pp${opt.p} hearth | pp hearth÷llama | tg${opt.n} llama.cpp | ` +
            `tg${opt.n} hearth | tg hearth÷llama | peak RSS llama.cpp | peak RSS hearth | load llama.cpp | ` +
            `load hearth | samples | load avg |`);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows)
    console.log(`| ${r.model} | ${f(r.pp_l)} | ${f(r.pp_h)} | ${f(r.pp_h / r.pp_l, 3)} | ${f(r.tg_l)} | ${f(r.tg_h)} | ` +
                `${f(r.tg_h / r.tg_l, 3)} | ${f(r.rss_l / 1e6, 0)} MB | ${f(r.rss_h / 1e6, 0)} MB | ${f(r.load_l, 3)} s | ` +
                `${f(r.load_h, 3)} s | ${r.samples} | ${f(r.loadavg)} |`);
