/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json_object_iterator.h>

#include "base64.h"
#include "json-util.h"
#include "secret.h"
#include "snp-error.h"

/* ---- lexical check ----
 *
 * json-c's strict mode still accepts single-quoted keys, NaN/Infinity, "1.",
 * raw control characters in strings and overlong or surrogate UTF-8. Every
 * token is therefore checked against RFC 8259 first, and so is the place of
 * every ',' and ':' (json-c's default mode accepts "[1,]"); the rest of the
 * structure (and the depth) is left to json-c, in its default mode: its strict
 * mode refuses valid UTF-8 in json-c 0.18. */

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* What may not follow a number or a literal directly. */
static bool is_word(unsigned char c) {
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '.' || c == '+' || c == '-' || c == '_';
}

static const struct utf8_lead {
        uint8_t first, last;  /* lead byte range */
        uint8_t cont;         /* continuation bytes */
        uint8_t lo, hi;       /* range of the first continuation byte */
} utf8_leads[] = {
        { 0xc2, 0xdf, 1, 0x80, 0xbf },
        { 0xe0, 0xe0, 2, 0xa0, 0xbf },  /* no overlong forms */
        { 0xe1, 0xec, 2, 0x80, 0xbf },
        { 0xed, 0xed, 2, 0x80, 0x9f },  /* no surrogates */
        { 0xee, 0xef, 2, 0x80, 0xbf },
        { 0xf0, 0xf0, 3, 0x90, 0xbf },
        { 0xf1, 0xf3, 3, 0x80, 0xbf },
        { 0xf4, 0xf4, 3, 0x80, 0x8f },  /* nothing above U+10FFFF */
};

static const char *lex_utf8(const unsigned char *s, size_t len, size_t *i) {
        const struct utf8_lead *l = NULL;

        for (size_t k = 0; k < ELEMENTSOF(utf8_leads); k++)
                if (s[*i] >= utf8_leads[k].first && s[*i] <= utf8_leads[k].last)
                        l = &utf8_leads[k];
        if (!l || len - *i <= l->cont || s[*i + 1] < l->lo || s[*i + 1] > l->hi)
                return "invalid UTF-8";
        for (size_t k = 2; k <= l->cont; k++)
                if ((s[*i + k] & 0xc0) != 0x80)
                        return "invalid UTF-8";
        *i += 1 + l->cont;
        return NULL;
}

static const char *lex_escape(const unsigned char *s, size_t len, size_t *i) {
        (*i)++;  /* the backslash */
        if (*i >= len)
                return "unterminated string";
        if (s[*i] != 'u') {
                if (!memchr("\"\\/bfnrt", s[*i], 8))
                        return "invalid escape sequence in string";
                (*i)++;
                return NULL;
        }
        if (len - *i < 5)
                return "unterminated string";
        for (size_t k = 1; k <= 4; k++)
                if (!is_hex(s[*i + k]))
                        return "invalid \\u escape in string";
        *i += 5;
        return NULL;
}

static const char *lex_string(const unsigned char *s, size_t len, size_t *i) {
        const char *reason;

        (*i)++;  /* the opening quote */
        while (*i < len) {
                if (s[*i] == '"') {
                        (*i)++;
                        return NULL;
                }
                if (s[*i] < 0x20)
                        return "control character in string";
                if (s[*i] == '\\')
                        reason = lex_escape(s, len, i);
                else if (s[*i] >= 0x80)
                        reason = lex_utf8(s, len, i);
                else {
                        (*i)++;
                        reason = NULL;
                }
                if (reason)
                        return reason;
        }
        return "unterminated string";
}

static size_t lex_digits(const unsigned char *s, size_t len, size_t *i) {
        size_t start = *i;

        while (*i < len && is_digit(s[*i]))
                (*i)++;
        return *i - start;
}

static const char *lex_number(const unsigned char *s, size_t len, size_t *i) {
        if (s[*i] == '-')
                (*i)++;
        if (*i < len && s[*i] == '0')
                (*i)++;
        else if (lex_digits(s, len, i) == 0)
                return "malformed number";
        if (*i < len && s[*i] == '.') {
                (*i)++;
                if (lex_digits(s, len, i) == 0)
                        return "malformed number";
        }
        if (*i < len && (s[*i] == 'e' || s[*i] == 'E')) {
                (*i)++;
                if (*i < len && (s[*i] == '+' || s[*i] == '-'))
                        (*i)++;
                if (lex_digits(s, len, i) == 0)
                        return "malformed number";
        }
        if (*i < len && is_word(s[*i]))
                return "malformed number";
        return NULL;
}

static const char *lex_literal(const unsigned char *s, size_t len, size_t *i) {
        static const char *const literals[] = { "true", "false", "null" };

        for (size_t k = 0; k < ELEMENTSOF(literals); k++) {
                size_t n = strlen(literals[k]);

                if (len - *i < n || memcmp(s + *i, literals[k], n) != 0)
                        continue;
                if (len - *i > n && is_word(s[*i + n]))
                        break;
                *i += n;
                return NULL;
        }
        return "unexpected character";
}

static int json_lex_check(const char *text, size_t len, char *errbuf, size_t errlen) {
        const unsigned char *s = (const unsigned char *) text;
        const char *reason = NULL;
        size_t i = 0, tokens = 0;
        unsigned char prev = '[';  /* the last token: a punctuator, or 'v' for a value */

        while (i < len && !reason) {
                if (memchr(" \t\r\n", s[i], 4)) {
                        i++;
                        continue;
                }
                tokens++;
                /* A value right after a value: "{}{}", "[1 2]". */
                if (!memchr("}]:,", s[i], 4) && memchr("v}]", prev, 3)) {
                        reason = "unexpected character";
                        break;
                }
                if (memchr("{}[]:,", s[i], 6)) {
                        /* Separators between values only: "[1,]", "{,}", "[,1]"
                         * (json-c checks that only with JSON_TOKENER_STRICT). */
                        if ((memchr(":,", s[i], 2) && memchr("{[:,", prev, 4)) ||
                            (memchr("}]", s[i], 2) && memchr(":,", prev, 2)))
                                reason = "unexpected character";
                        else
                                prev = s[i++];
                        continue;
                }
                prev = 'v';
                if (s[i] == '"')
                        reason = lex_string(s, len, &i);
                else if (s[i] == '-' || is_digit(s[i]))
                        reason = lex_number(s, len, &i);
                else
                        reason = lex_literal(s, len, &i);
        }
        if (reason)
                return errbuf_set(errbuf, errlen, -EBADMSG, "invalid JSON at offset %zu: %s", i, reason);
        if (tokens == 0)
                return errbuf_set(errbuf, errlen, -EBADMSG, "invalid JSON: empty text");
        return 0;
}

/* ---- parsing ---- */

/* The tokener's buffer held the last string or number parsed: wipe it. If it
 * grew, realloc() may have left earlier copies in freed memory (best effort). */
static void json_tokener_wipe_free(struct json_tokener *tok) {
        if (tok->pb && tok->pb->buf && tok->pb->size > 0)
                secret_wipe(tok->pb->buf, (size_t) tok->pb->size);
        json_tokener_free(tok);
}

static int json_tokener_run(const char *text, size_t len, int max_depth, json_object **ret_o,
                            enum json_tokener_error *ret_err, size_t *ret_end) {
        struct json_tokener *tok = json_tokener_new_ex(max_depth);
        json_object *o;

        if (!tok)
                return -ENOMEM;
        /* Not JSON_TOKENER_STRICT: json_lex_check() has checked what it
         * would, and json-c 0.18's strict mode refuses every string with a
         * byte above 0x7f ("invalid string sequence"), valid UTF-8 too. */
        json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int) len);
        *ret_err = json_tokener_get_error(tok);
        *ret_end = json_tokener_get_parse_end(tok);
        if (*ret_err == json_tokener_continue) {
                /* A top-level number or literal ends only at a delimiter (or
                 * the text is incomplete): feed the terminating NUL. */
                o = json_tokener_parse_ex(tok, "", 1);
                *ret_err = json_tokener_get_error(tok);
                *ret_end = len;
        }
        json_tokener_wipe_free(tok);
        *ret_o = o;
        return 0;
}

int json_parse_bounded(const char *text, size_t len, int max_depth, json_object **ret,
                       char *errbuf, size_t errlen) {
        enum json_tokener_error jerr;
        json_object *o;
        const char *nul;
        size_t end;
        int r;

        if (!text || !ret || max_depth <= 0)
                return -EINVAL;
        if (len >= INT_MAX)
                return errbuf_set(errbuf, errlen, -EMSGSIZE, "JSON text too large (%zu bytes)", len);
        nul = memchr(text, 0, len);
        if (nul)
                return errbuf_set(errbuf, errlen, -EBADMSG, "invalid JSON: NUL byte at offset %zu",
                                  (size_t) (nul - text));
        r = json_lex_check(text, len, errbuf, errlen);
        if (r < 0)
                return r;
        r = json_tokener_run(text, len, max_depth, &o, &jerr, &end);
        if (r < 0)
                return r;
        if (jerr != json_tokener_success)
                return errbuf_set(errbuf, errlen, -EBADMSG, "invalid JSON at offset %zu: %s", end,
                                  json_tokener_error_desc(jerr));
        if (end != len) {
                json_object_put_wipe(o);
                return errbuf_set(errbuf, errlen, -EBADMSG, "invalid JSON: trailing data at offset %zu", end);
        }
        *ret = o;
        return 0;
}

/* ---- wiping ----
 *
 * json-c does not expose reference counts, so whether a string is freed by a
 * put (and may be wiped) is learnt from the put itself: every string in the
 * tree is referenced once more, the tree is put, and then each string gets a
 * delete hook and is put again. The hook runs (and wipes the bytes) only when
 * that last put really frees the string; a string still referenced elsewhere
 * (a shared sub-object the caller kept, e.g. the parameters of a varlink call)
 * loses the hook again untouched. Object keys are not wiped (they are names,
 * not values). Strings that already carry someone else's userdata are left
 * alone. On allocation failure the strings not yet collected are not wiped. */

struct json_strings {
        json_object **v;
        size_t n, cap;
        bool incomplete;
};

static _Thread_local bool json_wipe_suppressed;
static char json_wipe_marker;  /* our userdata: the hook is ours */

static void json_string_wipe_hook(json_object *o, void *userdata) {
        (void) userdata;
        if (!json_wipe_suppressed)
                secret_wipe((char *) json_object_get_string(o), (size_t) json_object_get_string_len(o));
}

static void json_strings_add(struct json_strings *l, json_object *s) {
        if (json_object_get_userdata(s))
                return;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 16;
                json_object **v = cap > SIZE_MAX / sizeof(*v) ? NULL : realloc(l->v, cap * sizeof(*v));

                if (!v) {
                        l->incomplete = true;
                        return;
                }
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = json_object_get(s);
}

static void json_strings_collect(struct json_strings *l, json_object *o) {
        struct json_object_iterator it, end;

        switch (json_object_get_type(o)) {
        case json_type_string:
                json_strings_add(l, o);
                break;
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        json_strings_collect(l, json_object_array_get_idx(o, i));
                break;
        case json_type_object:
                it = json_object_iter_begin(o);
                end = json_object_iter_end(o);
                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                        json_strings_collect(l, json_object_iter_peek_value(&it));
                break;
        default:
                break;
        }
}

void json_object_put_wipe(json_object *o) {
        struct json_strings l = { 0 };

        if (!o)
                return;
        json_strings_collect(&l, o);
        json_object_put(o);
        for (size_t i = 0; i < l.n; i++) {
                json_object *s = l.v[i];

                json_object_set_userdata(s, &json_wipe_marker, json_string_wipe_hook);
                if (json_object_put(s) == 0) {
                        /* Still referenced elsewhere: take the hook off again. */
                        json_wipe_suppressed = true;
                        json_object_set_userdata(s, NULL, NULL);
                        json_wipe_suppressed = false;
                }
        }
        free(l.v);
}

/* ---- typed getters ---- */

/* A member of the given type; JSON null counts as absent. */
static int json_get_member(json_object *o, const char *key, json_type type, json_object **ret) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object))
                return -EINVAL;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return -ENOENT;
        if (!json_object_is_type(v, type))
                return -EINVAL;
        *ret = v;
        return 0;
}

int json_get_string(json_object *o, const char *key, const char **ret) {
        json_object *v;
        const char *s;
        int r;

        r = json_get_member(o, key, json_type_string, &v);
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        /* "\u0000" would silently cut the string short for C callers. */
        if (strlen(s) != (size_t) json_object_get_string_len(v))
                return -EINVAL;
        *ret = s;
        return 0;
}

/* json-c keeps integers as int64 or (above INT64_MAX) uint64; it clamps
 * anything beyond UINT64_MAX to UINT64_MAX and below INT64_MIN to INT64_MIN,
 * so a max below UINT64_MAX catches those too. Doubles are refused. */
int json_get_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        json_object *v;
        uint64_t u;
        int r;

        r = json_get_member(o, key, json_type_int, &v);
        if (r < 0)
                return r;
        if (json_object_get_int64(v) < 0)
                return -ERANGE;
        u = json_object_get_uint64(v);
        if (u > max)
                return -ERANGE;
        *ret = u;
        return 0;
}

int json_get_bool(json_object *o, const char *key, bool *ret) {
        json_object *v;
        int r;

        r = json_get_member(o, key, json_type_boolean, &v);
        if (r < 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

int json_get_object(json_object *o, const char *key, json_object **ret) {
        json_object *v;
        int r;

        r = json_get_member(o, key, json_type_object, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

/* Malformed base64 is -EINVAL, a well-formed value of another length -ERANGE;
 * out is left zeroed on failure. */
int json_get_base64_exact(json_object *o, const char *key, void *out, size_t size) {
        json_object *v;
        size_t n;
        int r;

        r = json_get_member(o, key, json_type_string, &v);
        if (r < 0)
                return r;
        r = base64_decode(json_object_get_string(v), (size_t) json_object_get_string_len(v), out, size, &n);
        if (r == -ENOBUFS)
                return -ERANGE;
        if (r < 0)
                return r;
        if (n != size) {
                secret_wipe(out, n);
                return -ERANGE;
        }
        return 0;
}

int json_to_string_dup(json_object *o, char **ret, size_t *ret_len) {
        const char *s;
        size_t len;
        char *p;

        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        if (!s)
                return -ENOMEM;
        p = malloc(len + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, s, len + 1);
        *ret = p;
        if (ret_len)
                *ret_len = len;
        return 0;
}

int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}
