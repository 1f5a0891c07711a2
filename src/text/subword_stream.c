/* loom: whole inputs through a subword model, a line per line: text to
 * pieces or ids (encode) and back (decode). The segmentation itself is
 * SentencePiece's, behind subword.h; this file only reads, splits and
 * writes, so that the command line and C users share one loop. */
#include "config.h"
#include "text/subword.h"
#include "base/alloc.h"
#include "base/error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report(loom_progress *p, loom_reader *r, double mb_before, long long lines)
{
    if ((lines & 0xff) != 0 || !loom_progress_due(p))
        return;
    char detail[48];
    snprintf(detail, sizeof detail, "%lld lines", lines);
    loom_progress_update(p, mb_before + (double)loom_reader_raw_offset(r) / 1e6, detail);
}

static int write_pieces(loom_writer *w, const loom_pieces *p, int ids)
{
    int rc = 0;
    char num[16];
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        if (i && (rc = loom_writer_write(w, " ", 1)) != 0)
            break;
        if (ids) {
            int k = snprintf(num, sizeof num, "%d", (int)p->v[i].id);
            rc = loom_writer_write(w, num, (size_t)k);
        } else {
            rc = loom_writer_write(w, p->v[i].piece, p->v[i].piece_len);
        }
    }
    return rc ? rc : loom_writer_write(w, "\n", 1);
}

int loom_subword_encode_stream(const loom_subword *sw, loom_reader *r, loom_writer *w, int ids,
                               loom_progress *progress, double mb_before)
{
    loom_pieces p = {0};
    char *buf = NULL;
    size_t cap = 0, len;
    long long lines = 0;
    int rc;
    while ((rc = loom_reader_getline(r, &buf, &cap, &len, LOOM_SUBWORD_MAX_LINE)) == 1) {
        if ((rc = loom_subword_encode(sw, buf, len, &p)) < 0) {
            rc = loom_error_prefix(rc, loom_reader_path(r), loom_reader_line_number(r));
            break;
        }
        if ((rc = write_pieces(w, &p, ids)) < 0)
            break;
        report(progress, r, mb_before, ++lines);
    }
    free(buf);
    loom_pieces_free(&p);
    return rc < 0 ? rc : 0;
}

/* Splits `line` at spaces into words (in place: the spaces become NULs). */
static int split(char *line, size_t len, char ***words, size_t **lens, size_t *cap, size_t *n)
{
    *n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            char **nw = loom_realloc(*words, c, sizeof *nw);
            if (!nw)
                return LOOM_ENOMEM;
            *words = nw;
            size_t *nl = loom_realloc(*lens, c, sizeof *nl);
            if (!nl)
                return LOOM_ENOMEM;
            *lens = nl;
            *cap = c;
        }
        line[i] = '\0'; /* the line buffer has room for a NUL after its end */
        (*words)[*n] = line + start;
        (*lens)[*n] = i - start;
        (*n)++;
        i++;
    }
    return 0;
}

static int parse_ids(const loom_subword *sw, loom_reader *r, char *const *words, size_t n,
                     int32_t *ids)
{
    int size = loom_subword_size(sw);
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        long v = strtol(words[i], &end, 10);
        if (*end || end == words[i] || errno)
            return loom_error(LOOM_EFORMAT, "%s:%lld: '%.40s' is not a piece id",
                              loom_reader_path(r), loom_reader_line_number(r), words[i]);
        if (v < 0 || v >= size)
            return loom_error(LOOM_EFORMAT,
                              "%s:%lld: id %ld is out of range (the model has %d pieces)",
                              loom_reader_path(r), loom_reader_line_number(r), v, size);
        ids[i] = (int32_t)v;
    }
    return 0;
}

int loom_subword_decode_stream(const loom_subword *sw, loom_reader *r, loom_writer *w, int ids,
                               loom_progress *progress, double mb_before)
{
    loom_pieces p = {0};
    char *buf = NULL, **words = NULL;
    size_t cap = 0, len, *lens = NULL, wcap = 0, n;
    int32_t *idv = NULL;
    size_t idcap = 0;
    long long lines = 0;
    int rc;
    while ((rc = loom_reader_getline(r, &buf, &cap, &len, LOOM_SUBWORD_MAX_LINE)) == 1) {
        if ((rc = split(buf, len, &words, &lens, &wcap, &n)) < 0)
            break;
        if (ids) {
            if (wcap > idcap) {
                int32_t *v = loom_realloc(idv, wcap, sizeof *v);
                if (!v) {
                    rc = LOOM_ENOMEM;
                    break;
                }
                idv = v;
                idcap = wcap;
            }
            if ((rc = parse_ids(sw, r, words, n, idv)) < 0)
                break;
            rc = loom_subword_decode(sw, idv, n, &p);
        } else {
            rc = loom_subword_decode_pieces(sw, (const char *const *)words, lens, n, &p);
        }
        if (rc < 0) {
            rc = loom_error_prefix(rc, loom_reader_path(r), loom_reader_line_number(r));
            break;
        }
        if ((rc = loom_writer_write(w, p.text, p.text_len)) < 0 ||
            (rc = loom_writer_write(w, "\n", 1)) < 0)
            break;
        report(progress, r, mb_before, ++lines);
    }
    free(buf);
    free(words);
    free(lens);
    free(idv);
    loom_pieces_free(&p);
    return rc < 0 ? rc : 0;
}

int loom_subword_tokenize(const loom_subword *sw, const char *s, size_t n, loom_token_fn on_token,
                          void *ctx)
{
    loom_pieces p = {0};
    int rc = loom_subword_encode(sw, s, n, &p);
    for (size_t i = 0; i < p.n && rc == 0; i++) {
        const loom_piece *pc = &p.v[i];
        for (size_t k = 0; k < pc->piece_len && rc == 0; k++)
            if (strchr(" \t\n\r\v\f", pc->piece[k]) && pc->piece[k])
                rc = loom_error(LOOM_EFORMAT,
                                "piece %zu of the sentence holds white space (a subword model "
                                "that does not escape it cannot segment tokens)",
                                i + 1);
        if (rc == 0)
            rc = on_token(ctx, pc->piece, pc->piece_len);
    }
    loom_pieces_free(&p);
    return rc;
}

int loom_subword_piece_starts_word(const char *piece, size_t len)
{
    return len >= 3 && memcmp(piece, "\xe2\x96\x81", 3) == 0;
}

/* Appends n bytes to a growing string. */
static int put(char **s, size_t *len, size_t *cap, const char *x, size_t n)
{
    if (loom_grow((void **)s, cap, *len + n + 1, 1))
        return LOOM_ENOMEM;
    if (n)
        memcpy(*s + *len, x, n);
    *len += n;
    (*s)[*len] = '\0';
    return 0;
}

int loom_subword_pieces_text(const loom_subword *sw, const char *const *pieces, int n, char **out)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    int32_t *ids = loom_malloc((size_t)n + 1, sizeof *ids);
    loom_pieces p = {0};
    int rc = ids ? put(&s, &len, &cap, "", 0) : LOOM_ENOMEM;
    for (int k = 0; k < n && !rc;) {
        size_t pl = strlen(pieces[k]);
        int starts = loom_subword_piece_starts_word(pieces[k], pl);
        if (len && starts && (rc = put(&s, &len, &cap, " ", 1)))
            break;
        int m = 0;
        while (k + m < n &&
               (ids[m] = loom_subword_find(sw, pieces[k + m], strlen(pieces[k + m]))) >= 0)
            m++;
        if (m > 0) { /* SentencePiece drops the run's opening space itself */
            if (!(rc = loom_subword_decode(sw, ids, (size_t)m, &p)))
                rc = put(&s, &len, &cap, p.text, p.text_len);
            k += m;
            continue;
        }
        for (size_t i = starts ? 3 : 0; i < pl && !rc; i++) {
            int mark = i + 3 <= pl && loom_subword_piece_starts_word(pieces[k] + i, 3);
            rc = put(&s, &len, &cap, mark ? " " : pieces[k] + i, 1);
            i += mark ? 2 : 0;
        }
        k++;
    }
    loom_pieces_free(&p);
    free(ids);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}
