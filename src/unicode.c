/* unicode.c — GPT-2 byte map and NFC normalization over the generated tables (unicode_data.c). */
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

const uint8_t unicode_flags_of_cat[32] = {
    [UCAT_Lu] = UF_L, [UCAT_Ll] = UF_L, [UCAT_Lt] = UF_L, [UCAT_Lm] = UF_L, [UCAT_Lo] = UF_L,
    [UCAT_Mn] = UF_M, [UCAT_Mc] = UF_M, [UCAT_Me] = UF_M,
    [UCAT_Nd] = UF_N, [UCAT_Nl] = UF_N, [UCAT_No] = UF_N,
    [UCAT_Pc] = UF_P, [UCAT_Pd] = UF_P, [UCAT_Ps] = UF_P, [UCAT_Pe] = UF_P, [UCAT_Pi] = UF_P, [UCAT_Pf] = UF_P,
    [UCAT_Po] = UF_P,
    [UCAT_Sm] = UF_S, [UCAT_Sc] = UF_S, [UCAT_Sk] = UF_S, [UCAT_So] = UF_S,
};

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) stand for themselves,
 * the remaining 68 bytes are numbered in order from U+0100. */
static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

uint32_t unicode_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    unsigned n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!byte_is_printable(i)) n++;
    return 0x100 + n;
}

int unicode_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68) return -1;
    unsigned n = cp - 0x100;
    for (unsigned i = 0; i < 256; i++) {
        if (!byte_is_printable(i)) {
            if (n == 0) return (int)i;
            n--;
        }
    }
    return -1;
}

/* ----------------------------------------------------------------------------------------------- NFC */

enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
       HANGUL_LN = 19, HANGUL_VN = 21, HANGUL_TN = 28, HANGUL_NN = 21 * 28, HANGUL_SN = 19 * 21 * 28 };

/* Raw invalid bytes travel through the code point buffer tagged with this bit: ccc 0, never compose. */
#define RAW_BYTE 0x80000000u

static const struct unicode_decomp *find_decomp(uint32_t cp) {
    size_t lo = 0, hi = unicode_decomp_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (unicode_decomp_index[mid].cp < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < unicode_decomp_count && unicode_decomp_index[lo].cp == cp ? &unicode_decomp_index[lo] : NULL;
}

static uint32_t find_comp(uint32_t a, uint32_t b) {
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LN && b >= HANGUL_V && b < HANGUL_V + HANGUL_VN)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VN + (b - HANGUL_V)) * HANGUL_TN;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SN && (a - HANGUL_S) % HANGUL_TN == 0 && b > HANGUL_T &&
        b < HANGUL_T + HANGUL_TN)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = unicode_comp_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct unicode_comp *c = &unicode_comp_pairs[mid];
        if (c->a < a || (c->a == a && c->b < b)) lo = mid + 1;
        else hi = mid;
    }
    if (lo < unicode_comp_count && unicode_comp_pairs[lo].a == a && unicode_comp_pairs[lo].b == b)
        return unicode_comp_pairs[lo].c;
    return 0;
}

static uint8_t ccc_of(uint32_t v) { return (v & RAW_BYTE) ? 0 : unicode_ccc(v); }

uint8_t *unicode_nfc(const uint8_t *s, size_t n, size_t *out_len, bool *unchanged) {
    *out_len = 0;
    *unchanged = false;
    /* quick check: code points below U+0300 are NFC-stable and never compose with each other */
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int l = utf8_decode(s + i, n - i, &cp);
        if (cp != UNICODE_INVALID && cp >= 0x300) break;
        i += (size_t)l;
    }
    if (i == n) { *unchanged = true; return NULL; }

    /* decompose (at most 18 code points per input code point: the longest full decomposition) */
    size_t cap = n * 4 + 16, m = 0;
    uint32_t *buf = malloc(cap * sizeof *buf);
    if (!buf) return NULL;
    for (i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode(s + i, n - i, &cp);
        if (m + 20 > cap) {
            cap = cap * 2 + 32;
            uint32_t *nb = realloc(buf, cap * sizeof *buf);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
        }
        if (cp == UNICODE_INVALID) {
            buf[m++] = RAW_BYTE | s[i];
        } else if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SN) {
            uint32_t si = cp - HANGUL_S;
            buf[m++] = HANGUL_L + si / HANGUL_NN;
            buf[m++] = HANGUL_V + (si % HANGUL_NN) / HANGUL_TN;
            if (si % HANGUL_TN) buf[m++] = HANGUL_T + si % HANGUL_TN;
        } else {
            const struct unicode_decomp *d = cp >= 0xC0 ? find_decomp(cp) : NULL;
            if (d) {
                for (unsigned k = 0; k < d->len; k++) buf[m++] = unicode_decomp_pool[d->off + k];
            } else {
                buf[m++] = cp;
            }
        }
        i += (size_t)l;
    }
    /* canonical ordering: stable insertion sort of each run of non-starters by combining class */
    for (size_t k = 1; k < m; k++) {
        uint8_t c = ccc_of(buf[k]);
        if (c == 0) continue;
        size_t j = k;
        uint32_t v = buf[k];
        while (j > 0 && ccc_of(buf[j - 1]) > c) { buf[j] = buf[j - 1]; j--; }
        buf[j] = v;
    }
    /* canonical composition */
    size_t w = 0;
    size_t starter = (size_t)-1;
    int last_ccc = -1; /* ccc of the last character kept after the starter; -1: none yet */
    for (size_t k = 0; k < m; k++) {
        uint32_t v = buf[k];
        uint8_t c = ccc_of(v);
        if (starter != (size_t)-1 && !(v & RAW_BYTE) && (last_ccc == -1 || (last_ccc != 0 && last_ccc < c))) {
            uint32_t comp = find_comp(buf[starter], v);
            if (comp) { buf[starter] = comp; continue; }
        }
        if (c == 0) {
            starter = (v & RAW_BYTE) ? (size_t)-1 : w;
            last_ccc = -1;
        } else {
            last_ccc = c;
        }
        buf[w++] = v;
    }
    /* encode */
    uint8_t *out = malloc(w * 4 + 1);
    if (!out) { free(buf); return NULL; }
    size_t o = 0;
    for (size_t k = 0; k < w; k++) {
        if (buf[k] & RAW_BYTE) out[o++] = (uint8_t)(buf[k] & 0xFF);
        else o += (size_t)utf8_encode(buf[k], out + o);
    }
    out[o] = 0;
    free(buf);
    *out_len = o;
    return out;
}
