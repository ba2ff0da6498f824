#include "ts_utf8.h"

size_t ts_utf8_decode(const char *s, size_t n, uint32_t *cpp)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    size_t len, i;

    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cpp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong) or > 0xf4 */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Reject overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *cpp = cp;
    return len;
}

size_t ts_utf8_seqlen(const char *p, size_t n)
{
    uint32_t cp;

    return ts_utf8_decode(p, n, &cp);
}

size_t ts_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;

    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

int ts_utf8_valid(const char *p, size_t n)
{
    size_t i = 0, l;

    while (i < n) {
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        l = ts_utf8_seqlen(p + i, n - i);
        if (l == 0)
            return 0;
        i += l;
    }
    return 1;
}

size_t ts_utf16_length(const char *p, size_t n)
{
    size_t units = 0, i;

    /* Every byte that is not a continuation byte starts one code point; a
     * 4-byte lead (0xf0..0xf4) starts one outside the BMP: a surrogate pair. */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xc0) != 0x80)
            units += c >= 0xf0 ? 2 : 1;
    }
    return units;
}
