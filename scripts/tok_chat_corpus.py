#!/usr/bin/env python3
"""Generate tests/data/tokenizer/chat.inp: chat-template-shaped strings with the special tokens of several model
families (each vocabulary sees the others' special tokens as plain text), for tests with parse_special on.
References: scripts/tok_refs_llamacpp.py (llama.cpp's llama-tokenize)."""
import sys

SEP = "\n__ggml_vocab_test__\n"
users = ["Hi", "Hello, how are you?", " leading space", "trailing space ", "multi\nline\n\ntext", "tabs\tand  spaces",
         "code: `x = 1`\n```py\nprint(1)\n```", "Ünïcödé — 你好 🦙", "  ", "\n", ""]
tpl = [
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{u}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{u}<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "<bos><|turn>system\nBe brief.<turn|>\n<|turn>user\n{u}<turn|>\n<|turn>model\n<|channel>thought\n<channel|>",
    "<bos><start_of_turn>user\n{u}<end_of_turn>\n<start_of_turn>model\n",
    "<|system|>\nYou are helpful.<|end|>\n<|user|>\n{u}<|end|>\n<|assistant|>\n",
    "<s>[INST] {u} [/INST] Sure.</s><s>[INST] again [/INST]",
    "{u}<|endoftext|>{u}",
]


def main():
    tests = []
    for t in tpl:
        for u in users:
            tests.append(t.replace("{u}", u))
    tests += ["<|im_start|><|im_start|>", "<<|im_end|>>", "<|eot_id|<|eot_id|>", "<turn|><|turn>", "</s></s>",
              "<s> <s>  <s>\n<s>", "<|user|>   \n  x", "<|end|>\t\t<|end|>", "<|tool_call>call:f{}<tool_call|>",
              "<unused0><unused1>", "<mask>[multimodal]", "<|endoftext|> <|endoftext|>"]
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/tokenizer/chat.inp"
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(SEP.join(tests))
    print(out, len(tests))


if __name__ == "__main__":
    main()
