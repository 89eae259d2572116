#!/usr/bin/env python3
"""Generate tests/data/tokenizer/mixed.inp: a deterministic mixed-language / code / whitespace corpus for
tokenizer reference tests, in the llama.cpp vocab-test format (strings separated by lines
"__ggml_vocab_test__"). References are made with scripts/tok_refs.js.

Avoided on purpose (the JS reference tokenizers differ from Hugging Face's Rust ones there, or Unicode
versions may differ): U+0085, U+FEFF, exact special-token texts, code points assigned after Unicode 14."""
import random
import sys

SEP = "\n__ggml_vocab_test__\n"

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world", "HELLO", "World",
         "tokenizer", "Tokenization", "don't", "I'LL", "we'Re", "it's", "They'VE", "she'd", "you'll", "'s",
         "'T", "o'clock", "rock'n'roll", "y'all", "can't", "WON'T", "l'homme", "aujourd'hui", "naïve", "café",
         "résumé", "Ärger", "Straße", "Ölçü", "İstanbul'da", "ığdır", "Tiếng", "Việt", "nghiêng", "ﬁne",
         "Ångström", "Ελληνικά", "Καλημέρα", "Привет", "мир", "Български", "Україна", "ქართული", "Հայերեն",
         "مرحبا", "بالعالم", "שלום", "עולם", "नमस्ते", "दुनिया", "हिन्दी", "বাংলা", "தமிழ்", "ไทย", "สวัสดี",
         "ភាសាខ្មែរ", "မြန်မာ", "你好", "世界", "中文分词", "こんにちは", "カタカナ", "ひらがな", "漢字", "안녕하세요",
         "세계", "한국어", "Ǆemal", "ǅ", "Ⅻ", "①②③", "x²", "½", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟙𝟚𝟛", "ℌ𝔢𝔩𝔩𝔬"]
NUMBERS = ["0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "0x1F", "1e-9",
           "2024-05-17", "12:30:45", "+49 30 1234567", "٣٤٥", "१२३", "๓๔", "１２３", "v1.2.3", "100%", "$9.99",
           "€12,50", "¥1000", "-273.15°C", "#1", "No.5"]
PUNCT = ["!", "?", ".", ",", ";", ":", "...", "…", "!!!", "?!", "—", "–", "-", "--", "(", ")", "[", "]", "{",
         "}", "<", ">", "\"", "'", "`", "``", "“", "”", "‘", "’", "«", "»", "¿", "¡", "/", "\\", "|", "||",
         "&&", "@", "#", "$", "%", "^", "&", "*", "**", "_", "__", "=", "==", "===", "!=", "+=", "->", "=>",
         "::", "~", "§", "¶", "•", "·", "°", "©", "®", "™", "←", "→", "⇒", "∀", "∑", "√", "∞", "≠", "≤",
         "、", "。", "，", "！", "？", "：", "「", "」", "『", "』", "【", "】", "〜", "～", "・", "<|", "|>", "</",
         "<s", "s>", "<0x41", "▁", "▁▁"]
SPACES = [" ", " ", " ", " ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n", "\n\n", "\n\n\n",
          "\r\n", "\r\n\r\n", " \n", "\n ", " \n ", "\n    ", "\n\t", " \t ", "\u00a0", "\u3000", "\u2009",
          "\u2003", "\u202f", "\u2028", "\u000b", "\u000c", "\r"]
EMOJI = ["🦙", "🚀", "😀", "😁", "👍", "👍🏽", "❤️", "✅", "🏳️‍🌈", "👨‍👩‍👧‍👦", "😶‍🌫️", "🇩🇪", "🇯🇵", "☕", "✨",
         "🧑🏾‍💻", "1️⃣", "©️"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "A\u030a", "\u1100\u1161\u11a8", "\u1112\u1161",
             "i\u0307", "c\u0327a", "x\u0336y\u0336", "\u0915\u094d\u0937", "\u0645\u064e"]
CODE = ["def f(x):\n    return x ** 2\n", "if (a && b) { c++; }", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
        "<div class=\"row\">\n  <span>text</span>\n</div>", "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
        "SELECT * FROM users WHERE id = 42;", "#include <stdio.h>\nint main(void) { return 0; }",
        "https://example.com/path/to?q=1&r=two#frag", "user.name+tag@example.co.uk", "$ ls -la | grep '^d'",
        "   // indented comment\n", "x = [i for i in range(10) if i % 2]", "```python\nprint('hi')\n```",
        "| a | b |\n|---|---|\n| 1 | 2 |", "- item one\n- item two\n  - nested", "# Title\n\n## Subtitle\n",
        "<table><tr><td>cell</td></tr></table>", "camelCaseIdentifier snake_case_name SCREAMING_CASE",
        "a\\nb\\tc", "0b1010 0o777 0xDEADbeef", "std::vector<std::string> v;", "fn main() -> Result<(), E> {}"]


def piece(rng):
    r = rng.random()
    if r < 0.30:
        w = rng.choice(WORDS)
        return w.upper() if rng.random() < 0.05 else w
    if r < 0.42:
        return rng.choice(NUMBERS)
    if r < 0.58:
        return rng.choice(PUNCT)
    if r < 0.66:
        return rng.choice(EMOJI)
    if r < 0.72:
        return rng.choice(COMBINING)
    if r < 0.78:
        return rng.choice(CODE)
    if r < 0.81:
        return "\n" * rng.randint(1, 40)
    if r < 0.84:
        return " " * rng.randint(1, 40)
    if r < 0.86:
        return rng.choice(["\t", " \t", "\t "]) * rng.randint(1, 6)
    if r < 0.88:
        return str(rng.randint(0, 10 ** rng.randint(1, 12)))
    return None


def gen(rng):
    n = rng.choice([1, 1, 2, 3, 5, 8, 13, 21, 40, 80])
    out = []
    for _ in range(n):
        p = piece(rng)
        if p is None:
            out.append(rng.choice(SPACES))
        else:
            out.append(p)
            if rng.random() < 0.7:
                out.append(rng.choice(SPACES))
    s = "".join(out)
    if rng.random() < 0.3:
        s = s.strip(" ")
    return s


def main():
    rng = random.Random(20240517)
    tests = []
    # fixed edge cases first
    tests += ["", " ", "\n", "a", "'", "''", "'s", "'S", "' s", "''s", "'ll'LL", "I'M", "X'Ll", "   \n\n   x",
              " \r\n", "\r\n\r\n\r\n", "\n" * 31, "\n" * 32, "\n" * 33, "\n" * 64, " " * 31, " " * 32, " " * 33,
              " " * 64, "a" + " " * 40 + "b", "\t" * 40, "1" * 50, "١٢٣٤٥٦٧", "ab12cd345ef6789",
              "<table>", "<tr><td>", "</table>", "e\u0301e\u0301e\u0301", "\u00e9\u0301", "\u0301\u0301x",
              "x\u0301\u0301 \u0301", "Hello\u00a0world", "Hello\u3000world", "a\u2028b", "a\u000bb", "\u000c",
              "🦙🦙🦙", "👨‍👩‍👧‍👦👨‍👩‍👧‍👦", "ﬁﬂﬃ", "Ⅻ Ⅳ", "½¼¾", "x²y³", "𝔘𝔫𝔦", "가각갂", "\u1100\u1161",
              "ǅemal Ǆ", "\u0130stanbul", "ΣΑΣ σας", "straße STRASSE", " ."]
    while len(tests) < 400:
        s = gen(rng)
        if SEP.strip() in s:
            continue
        tests.append(s)
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/tokenizer/mixed.inp"
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(SEP.join(tests))
    print(f"{out}: {len(tests)} strings, {sum(len(t.encode()) for t in tests)} bytes")


if __name__ == "__main__":
    main()
