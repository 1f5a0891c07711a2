/* loom translate: decodes sentences with a model from 'loom seq2seq', one
 * per line, stdin or a file to stdout. Reading, batching, printing and the
 * attention SVGs; the search itself is src/seq/decode.c. */
#include "config.h"
#include "cli.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"
#include "core/blas.h"
#include "seq/data.h"
#include "seq/decode.h"
#include "seq/model_file.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: loom translate [OPTIONS] MODEL [FILE]\n"
    "\n"
    "Translates each line of FILE (default stdin; .gz is read transparently)\n"
    "with a model written by 'loom seq2seq' and prints one line per input\n"
    "line: the output tokens joined by spaces. The model file carries its\n"
    "vocabularies and tokenizer options; nothing else is needed.\n"
    "\n"
    "options:\n"
    "  -k, --beam K           beam size (default 1: greedy search)\n"
    "      --alpha X          GNMT length penalty ((5 + |Y|) / 6)^X (default 0.6);\n"
    "                         hypotheses are ranked by log p / penalty\n"
    "      --nbest N          print the N best hypotheses per sentence as\n"
    "                         'LINE ||| translation ||| score' (N <= K; default 1)\n"
    "      --batch N          sentences decoded together (default 64); lines are\n"
    "                         read 16 batches at a time and sorted by length\n"
    "                         (output stays in input order; --batch 1 streams stdin)\n"
    "      --max-len N        output tokens at most (default 2 x source length + 10)\n"
    "      --align soft|hard  append ' ||| ' and the attention: hard prints\n"
    "                         'source-target' index pairs (the source position each\n"
    "                         output token attends to most), soft the weights of each\n"
    "                         output token over the source, rows separated by ' | '\n"
    "      --replace-unk      write each <unk> of the output as the source token it\n"
    "                         attends to most (names, numbers, rare words pass\n"
    "                         through; as OpenNMT's -replace_unk)\n"
    "      --attention-svg DIR  write DIR/NNNNNN.svg, one attention heat map per\n"
    "                         sentence (source words across, output words down)\n"
    "      --threads N        threads, each decoding whole batches (default 1; at\n"
    "                         --batch 1 on a FILE, sentences split across threads)\n"
    "  -q, --quiet            no progress and no closing summary (sentences,\n"
    "                         words and sentences/s, on stderr)\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom --beam 5 --nbest 3\n"
    "  echo 'a b c' | loom translate tests/fixtures/seq/reverse.loom --align hard\n"
    "  echo 'a zebra c' | loom translate tests/fixtures/seq/reverse.loom --replace-unk\n";

enum {
    OPT_ALPHA = 0x3000,
    OPT_NBEST,
    OPT_BATCH,
    OPT_MAX_LEN,
    OPT_ALIGN,
    OPT_SVG,
    OPT_THREADS,
    OPT_REPLACE_UNK
};
enum { ALIGN_NONE = 0, ALIGN_SOFT = 1, ALIGN_HARD = 2 };

typedef struct {
    loom_seq_bundle b;
    loom_seq_work **w; /* one per thread */
    int threads;
    loom_tokenizer *tok;
    loom_seq_decode_opts o;
    int align, batch;
    int window; /* lines read before decoding: --batch x 16; --batch 1: 1 or 16 x threads */
    const char *svg_dir;
    /* the pending batch */
    int n;
    int32_t **ids;
    size_t *lens, *caps;
    long long first; /* 1-based number of the batch's first line */
    int *src;        /* scratch for the padded batch */
    int *order;
    loom_progress *progress;
    long long sentences, words; /* translated so far, and their output words */
    int replace_unk;
    char **text; /* --replace-unk: the window's lines as read */
    size_t *text_cap, *text_len;
    char *tokbuf; /* the tokens of one line, NUL-separated */
    size_t tokbuf_len, tokbuf_cap;
    size_t *tokoff; /* their offsets in tokbuf */
    size_t ntok, tokoff_cap;
} translator;

/* XML-escapes a word into f. */
static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

/* One heat map: columns are source tokens, rows output tokens (and </s>). */
static int write_svg(translator *t, long long line, const int32_t *src, int ns,
                     const loom_seq_hyp *h)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%06lld.svg", t->svg_dir, line);
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_PLAIN);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        loom_writer_abort(w);
        return loom_error(LOOM_ENOMEM, "out of memory");
    }
    int rows = h->len + h->finished, cell = 28, left = 120, top = 120;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            left + cell * (ns > 0 ? ns : 1) + 10, top + cell * rows + 10);
    for (int j = 0; j < ns; j++) {
        fprintf(f, "<text transform=\"translate(%d,%d) rotate(-60)\">", left + j * cell + cell / 2,
                top - 6);
        svg_text(f, loom_vocab_word(t->b.vocab[0], src[j]));
        fputs("</text>\n", f);
    }
    for (int i = 0; i < rows; i++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
                top + i * cell + cell / 2 + 4);
        svg_text(f, i < h->len ? loom_vocab_word(t->b.vocab[1], h->ids[i]) : "</s>");
        fputs("</text>\n", f);
        for (int j = 0; j < ns; j++) {
            float a = h->align ? h->align[(size_t)i * h->src_len + j] : 0;
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#1f4e9c\" "
                    "fill-opacity=\"%.3f\" stroke=\"#ddd\"><title>%.3f</title></rect>\n",
                    left + j * cell, top + i * cell, cell, cell, a, a);
        }
    }
    fputs("</svg>\n", f);
    fclose(f);
    rc = loom_writer_write(w, buf, len);
    free(buf);
    if (rc) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

static int collect_token(void *ctx, const char *tok, size_t len)
{
    translator *t = ctx;
    if (t->ntok == t->tokoff_cap) {
        size_t cap = t->tokoff_cap ? 2 * t->tokoff_cap : 64;
        size_t *p = loom_realloc(t->tokoff, cap, sizeof *p);
        if (!p)
            return LOOM_ENOMEM;
        t->tokoff = p, t->tokoff_cap = cap;
    }
    if (t->tokbuf_len + len + 1 > t->tokbuf_cap) {
        size_t cap = 2 * (t->tokbuf_len + len + 1);
        char *p = loom_realloc(t->tokbuf, cap, 1);
        if (!p)
            return LOOM_ENOMEM;
        t->tokbuf = p, t->tokbuf_cap = cap;
    }
    t->tokoff[t->ntok++] = t->tokbuf_len;
    memcpy(t->tokbuf + t->tokbuf_len, tok, len);
    t->tokbuf[t->tokbuf_len + len] = '\0';
    t->tokbuf_len += len + 1;
    return 0;
}

/* Prints a hypothesis's words. With --replace-unk, an <unk> becomes the
 * source token (of window line i) with the largest attention weight. */
static int print_words(translator *t, FILE *out, const loom_seq_hyp *h, int i, int ns)
{
    const loom_vocab *v = t->b.vocab[1];
    int tokenized = 0;
    for (int k = 0; k < h->len; k++) {
        if (k)
            fputc(' ', out);
        if (h->ids[k] == LOOM_UNK && t->replace_unk && h->align && ns > 0) {
            if (!tokenized) {
                t->ntok = t->tokbuf_len = 0;
                int rc = loom_tokenize_string(t->tok, t->text[i], t->text_len[i], collect_token, t);
                if (rc < 0)
                    return rc;
                tokenized = 1;
            }
            const float *a = h->align + (size_t)k * h->src_len;
            int best = 0;
            for (int j = 1; j < ns; j++)
                best = a[j] > a[best] ? j : best;
            if ((size_t)best < t->ntok) {
                fputs(t->tokbuf + t->tokoff[best], out);
                continue;
            }
        }
        fputs(loom_vocab_word(v, h->ids[k]), out);
    }
    return 0;
}

static void print_align(FILE *out, const loom_seq_hyp *h, int ns, int mode)
{
    fputs(" |||", out);
    int rows = h->len + h->finished;
    for (int i = 0; i < rows && h->align; i++) {
        const float *a = h->align + (size_t)i * h->src_len;
        if (mode == ALIGN_HARD) {
            if (i == h->len)
                break; /* no pair for </s> */
            int best = 0;
            for (int j = 1; j < ns; j++)
                best = a[j] > a[best] ? j : best;
            fprintf(out, " %d-%d", best, i);
        } else {
            fputs(i ? " |" : "", out);
            for (int j = 0; j < ns; j++)
                fprintf(out, " %.3f", a[j]);
        }
    }
}

static int by_length_desc(const void *x, const void *y, void *ctx)
{
    const size_t *lens = ctx;
    int a = *(const int *)x, b = *(const int *)y;
    return lens[a] != lens[b] ? (lens[a] > lens[b] ? -1 : 1) : a - b;
}

#define MAX_THREADS 64

/* One thread's part of a window: it takes the next batch not yet taken
 * (an atomic counter shared by the threads), so a thread that drew short
 * sentences takes more batches. Results go to fixed slots: the output does
 * not depend on which thread decoded what. */
typedef struct {
    translator *t;
    atomic_int *next; /* the next batch to take */
    int k, m;
    int *src;        /* this thread's padded batch */
    const int *lens; /* sorted lengths of the window */
    loom_seq_hyp *hyps;
    int *counts;
    int rc;
} decode_job;

static void *decode_share(void *arg)
{
    decode_job *j = arg;
    translator *t = j->t;
    int K = t->o.nbest;
    for (;;) {
        long long r0 = (long long)atomic_fetch_add(j->next, 1) * t->batch;
        if (r0 >= j->m || j->rc)
            break;
        int nb = j->m - r0 < t->batch ? (int)(j->m - r0) : t->batch, Sb = j->lens[r0];
        for (int r = 0; r < nb; r++) {
            const int32_t *ids = t->ids[t->order[r0 + r]];
            for (int q = 0; q < Sb; q++)
                j->src[(size_t)r * Sb + q] = q < j->lens[r0 + r] ? ids[q] : LOOM_PAD;
        }
        j->rc = loom_seq_decode(t->b.model, t->w[j->k], j->src, j->lens + r0, nb, Sb, &t->o,
                                j->hyps + (size_t)r0 * K, j->counts + r0);
    }
    return NULL;
}

/* Decodes and prints the pending window, in input order. */
static int flush(translator *t, FILE *out)
{
    int n = t->n, K = t->o.nbest, rc = 0;
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++)
        t->order[i] = i;
    qsort_r(t->order, n, sizeof(int), by_length_desc, t->lens);
    /* decode the non-empty lines, longest first, --batch at a time: each
     * batch holds sentences of nearly one length, so little padding */
    int m = 0, S = 1;
    while (m < n && t->lens[t->order[m]] > 0)
        m++;
    if (m)
        S = (int)t->lens[t->order[0]];
    loom_seq_hyp *hyps = loom_calloc((size_t)n * K + 1, sizeof *hyps);
    int *counts = loom_calloc((size_t)n + 1, sizeof(int)), *lens = loom_calloc(n + 1, sizeof(int));
    int *src = loom_malloc((size_t)t->threads * t->batch * S + 1, sizeof(int));
    if (!hyps || !counts || !lens || !src)
        rc = LOOM_ENOMEM;
    for (int r = 0; r < m && !rc; r++)
        lens[r] = (int)t->lens[t->order[r]];
    /* each thread has its own workspace and takes batches as it finishes */
    atomic_int next = 0;
    decode_job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int k = 0; k < t->threads && !rc; k++) {
        jobs[k] =
            (decode_job){t, &next, k, m, src + (size_t)k * t->batch * S, lens, hyps, counts, 0};
        /* a thread only for a share that has a batch (a streamed line has one) */
        if (k > 0 && (long long)k * t->batch < m)
            started[k] = pthread_create(&tid[k], NULL, decode_share, &jobs[k]) == 0;
    }
    if (!rc)
        decode_share(&jobs[0]);
    for (int k = 0; k < t->threads && !rc; k++) {
        if (k > 0 && started[k])
            pthread_join(tid[k], NULL);
        else if (k > 0 && (long long)k * t->batch < m)
            decode_share(&jobs[k]);
    }
    for (int k = 0; k < t->threads && !rc; k++)
        rc = jobs[k].rc;
    /* rank r of the sorted batch holds input line order[r] */
    int *rank = loom_malloc(n + 1, sizeof(int));
    if (!rank && !rc)
        rc = LOOM_ENOMEM;
    for (int r = 0; r < n && !rc; r++)
        rank[t->order[r]] = r;
    for (int i = 0; i < n && !rc; i++) {
        int r = rank[i];
        long long line = t->first + i;
        int c = r < m ? counts[r] : 0;
        if (K > 1) {
            for (int j = 0; j < c; j++) {
                const loom_seq_hyp *h = &hyps[(size_t)r * K + j];
                fprintf(out, "%lld ||| ", line);
                if ((rc = print_words(t, out, h, i, lens[r])))
                    break;
                fprintf(out, " ||| %.4f", h->score);
                if (t->align)
                    print_align(out, h, lens[r], t->align);
                fputc('\n', out);
            }
            if (c == 0)
                fprintf(out, "%lld |||  ||| 0\n", line);
            continue;
        }
        if (c > 0) {
            const loom_seq_hyp *h = &hyps[(size_t)r * K];
            if ((rc = print_words(t, out, h, i, lens[r])))
                break;
            if (t->align)
                print_align(out, h, lens[r], t->align);
            if (t->svg_dir && (rc = write_svg(t, line, t->ids[i], lens[r], h)))
                break;
        }
        fputc('\n', out);
    }
    for (int r = 0; r < m && hyps && counts; r++) {
        if (counts[r] > 0)
            t->words += hyps[(size_t)r * K].len;
        loom_seq_hyps_free(&hyps[(size_t)r * K], counts[r]);
    }
    t->sentences += n;
    loom_progress_update(t->progress, (double)t->sentences, NULL);
    free(hyps);
    free(counts);
    free(lens);
    free(src);
    free(rank);
    t->first += n;
    t->n = 0;
    if (!rc && ferror(out))
        rc = loom_error(LOOM_EIO, "writing the translations failed");
    return rc;
}

static int translate_file(translator *t, const char *path, FILE *out)
{
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t cap = 0, len;
    t->first = 1;
    while ((rc = loom_reader_getline(r, &buf, &cap, &len, 1u << 20)) == 1) {
        int i = t->n;
        rc = loom_seq_encode_sentence(t->tok, t->b.vocab[0], buf, len, &t->ids[i], &t->lens[i],
                                      &t->caps[i]);
        if (rc) {
            rc = loom_error_prefix(rc, loom_reader_path(r), loom_reader_line_number(r));
            break;
        }
        if (t->text) { /* --replace-unk reads the line's tokens again */
            if (len + 1 > t->text_cap[i]) {
                char *p = loom_realloc(t->text[i], len + 1, 1);
                if (!p) {
                    rc = LOOM_ENOMEM;
                    break;
                }
                t->text[i] = p, t->text_cap[i] = len + 1;
            }
            memcpy(t->text[i], buf, len);
            t->text[i][len] = '\0';
            t->text_len[i] = len;
        }
        t->n++;
        if (t->n == t->window && (rc = flush(t, out)))
            break;
    }
    if (rc == 0)
        rc = flush(t, out);
    free(buf);
    loom_reader_close(r);
    return rc < 0 ? rc : 0;
}

static int run_translate(int argc, char **argv)
{
    static const struct option longopts[] = {{"beam", required_argument, 0, 'k'},
                                             {"alpha", required_argument, 0, OPT_ALPHA},
                                             {"nbest", required_argument, 0, OPT_NBEST},
                                             {"batch", required_argument, 0, OPT_BATCH},
                                             {"max-len", required_argument, 0, OPT_MAX_LEN},
                                             {"align", required_argument, 0, OPT_ALIGN},
                                             {"attention-svg", required_argument, 0, OPT_SVG},
                                             {"threads", required_argument, 0, OPT_THREADS},
                                             {"replace-unk", no_argument, 0, OPT_REPLACE_UNK},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    static const char *const aligns[] = {"soft", "hard", NULL};
    const char *cmd = "translate";
    translator t = {0};
    loom_seq_decode_defaults(&t.o);
    long long beam = 1, nbest = 1, batch = 64, max_len = 0, threads = 1;
    double alpha = 0.6;
    int c, k, quiet = 0, progress = CLI_PROGRESS_AUTO;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_int(cmd, "beam", optarg, 1, 1000, &beam) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ALPHA:
            if (cli_double(cmd, "alpha", optarg, 0, 10, &alpha) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_NBEST:
            if (cli_int(cmd, "nbest", optarg, 1, 1000, &nbest) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (cli_int(cmd, "batch", optarg, 1, 65536, &batch) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_LEN:
            if (cli_int(cmd, "max-len", optarg, 1, 100000, &max_len) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (cli_int(cmd, "threads", optarg, 1, MAX_THREADS, &threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ALIGN:
            if ((k = cli_choice(cmd, "align", optarg, aligns)) < 0)
                return CLI_EXIT_USAGE;
            t.align = k + 1;
            break;
        case OPT_SVG:
            t.svg_dir = optarg;
            break;
        case OPT_REPLACE_UNK:
            t.replace_unk = 1;
            break;
        case CLI_OPT_HELP:
            return cli_help(cmd);
        case CLI_OPT_QUIET:
            quiet = 1, progress = CLI_PROGRESS_OFF;
            break;
        case CLI_OPT_PROGRESS:
            progress = CLI_PROGRESS_ON;
            break;
        default:
            return cli_bad_option(cmd, argc, argv);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "expects a MODEL file");
    if (argc - optind > 2)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind + 2]);
    if (nbest > beam)
        return cli_usage(cmd, "--nbest %lld needs --beam of at least %lld", nbest, nbest);
    struct stat sb;
    if (t.svg_dir && (stat(t.svg_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return cli_usage(cmd, "--attention-svg: '%s' is not a directory", t.svg_dir);
    const char *model = argv[optind], *input = optind + 1 < argc ? argv[optind + 1] : "-";
    loom_blas_set_threads(1); /* our threads take whole batches */
    t.o.beam = (int)beam, t.o.nbest = (int)nbest, t.o.alpha = (float)alpha;
    t.o.max_len = (int)max_len, t.o.align = t.align || t.svg_dir || t.replace_unk;
    t.batch = (int)batch;
    t.window = batch == 1 ? 1 : (int)(batch * 16 < 16384 ? batch * 16 : 16384);
    /* --batch 1 streams stdin line by line; a file at --batch 1 with more
     * threads is read 16 lines per thread, each sentence still decoded on
     * its own (same results), the threads taking sentences in turn */
    if (batch == 1 && threads > 1 && strcmp(input, "-") != 0)
        t.window = (int)threads * 16;
    if (t.window < t.batch)
        t.window = t.batch;
    int rc = loom_seq_file_load(&t.b, model, NULL);
    if (!rc)
        rc = loom_seq_model_prepare_decoding(t.b.model);
    t.threads = (int)threads;
    t.w = loom_calloc(t.threads, sizeof *t.w);
    if (!t.w)
        rc = LOOM_ENOMEM;
    for (int k = 0; k < t.threads && !rc; k++)
        rc = loom_seq_work_new(&t.w[k], t.b.model);
    if (!rc)
        rc = loom_tokenizer_new(&t.tok, &t.b.tok[0]);
    if (!rc) {
        t.ids = loom_calloc(t.window, sizeof *t.ids);
        t.lens = loom_calloc(t.window, sizeof *t.lens);
        t.caps = loom_calloc(t.window, sizeof *t.caps);
        t.order = loom_calloc(t.window, sizeof *t.order);
        if (!t.ids || !t.lens || !t.caps || !t.order)
            rc = LOOM_ENOMEM;
        if (!rc && t.replace_unk) {
            t.text = loom_calloc(t.window, sizeof *t.text);
            t.text_cap = loom_calloc(t.window, sizeof *t.text_cap);
            t.text_len = loom_calloc(t.window, sizeof *t.text_len);
            if (!t.text || !t.text_cap || !t.text_len)
                rc = LOOM_ENOMEM;
        }
    }
    double t0 = loom_now();
    t.progress = loom_progress_new("translate", 0, "sentences", cli_progress_enabled(progress));
    if (!rc)
        rc = translate_file(&t, input, stdout);
    if (!rc && fflush(stdout) != 0)
        rc = loom_error(LOOM_EIO, "writing the translations failed");
    loom_progress_set_total(t.progress, (double)t.sentences);
    loom_progress_finish(t.progress, NULL);
    loom_progress_free(t.progress);
    double secs = loom_now() - t0;
    /* the figures a user compares with other tools (Marian's "Total time"):
     * reading, decoding and writing, the model's loading excluded */
    if (!rc && !quiet && t.sentences > 0)
        fprintf(stderr,
                "loom translate: %lld sentences, %lld words out, in %.3f s (%.0f sentences/s, "
                "%.0f words/s; beam %lld, batch %lld, %lld thread%s)\n",
                t.sentences, t.words, secs, t.sentences / (secs > 0 ? secs : 1e-9),
                t.words / (secs > 0 ? secs : 1e-9), beam, batch, threads, threads > 1 ? "s" : "");
    for (int i = 0; t.ids && i < t.window; i++)
        free(t.ids[i]);
    free(t.ids);
    for (int i = 0; t.text && i < t.window; i++)
        free(t.text[i]);
    free(t.text);
    free(t.text_cap);
    free(t.text_len);
    free(t.tokbuf);
    free(t.tokoff);
    free(t.lens);
    free(t.caps);
    free(t.order);
    loom_tokenizer_free(t.tok);
    for (int k = 0; t.w && k < t.threads; k++)
        loom_seq_work_free(t.w[k]);
    free(t.w);
    loom_seq_bundle_free(&t.b);
    return rc ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_translate = {"translate", run_translate,
                                   "translate sentences with a sequence model", help};
