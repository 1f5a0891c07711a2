/* loom translate: decodes sentences with one model from 'loom seq2seq' (or
 * an ensemble of several), one per line, stdin or a file to stdout. Options,
 * printing and the attention SVGs; reading, batching, threads and the
 * search are the library's translator (src/seq/translator.h). */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "base/progress.h"
#include "core/blas.h"
#include "seq/shortlist.h"
#include "seq/translator.h"

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
    "vocabularies and tokenizer options; nothing else is needed. A model\n"
    "trained on subword units (seq2seq --src-subword/--tgt-subword/--joint-subword)\n"
    "embeds its SentencePiece models: it reads raw text and writes raw, cased,\n"
    "detokenised text, with alignments merged to words.\n"
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
    "      --pieces           subword models: print the output pieces joined by\n"
    "                         spaces, not the decoded text (alignments per piece)\n"
    "      --attention-svg DIR  write DIR/NNNNNN.svg, one attention heat map per\n"
    "                         sentence (source words across, output words down)\n"
    "      --ensemble M2,M3   decode with MODEL and these models as an ensemble: at\n"
    "                         each step the search follows the mean of their\n"
    "                         log-probabilities (alignments: their mean attention);\n"
    "                         every model must have MODEL's target vocabulary and\n"
    "                         source tokenizer options\n"
    "      --threads N        threads, each decoding whole batches (default 1; at\n"
    "                         --batch 1 on a FILE, sentences split across threads)\n"
    "      --shortlist FILE   a vocabulary shortlist (as Marian's --shortlist and\n"
    "                         CTranslate2's use_vmap): the output layer, softmax and\n"
    "                         search of each batch cover only the --shortlist-top\n"
    "                         most frequent target words and, for every source word\n"
    "                         of the batch, its first --shortlist-best targets in FILE\n"
    "                         ('source<TAB>target target ...' lines, made by 'loom\n"
    "                         shortlist'); a sentence's output may then depend on its\n"
    "                         batch. Default: exact, every target word. Tatoeba\n"
    "                         en->fr, 8,000 target words, one thread: top 1000,\n"
    "                         best 20 took 0.31x exact's CPU time greedy (BLEU\n"
    "                         18.77 vs 18.93) and 0.35x at beam 5 (20.54 vs\n"
    "                         20.56); scripts/bench-shortlist\n"
    "      --shortlist-top K  the most frequent target words always in (default 1000)\n"
    "      --shortlist-best M targets per source word (default 0: all of FILE's)\n"
    "  -q, --quiet            no progress and no closing summary (sentences,\n"
    "                         words and sentences/s, on stderr)\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom --beam 5 --nbest 3\n"
    "  echo 'a b c' | loom translate tests/fixtures/seq/reverse.loom --align hard\n"
    "  echo 'a zebra c' | loom translate tests/fixtures/seq/reverse.loom --replace-unk\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom --ensemble "
    "tests/fixtures/translate/reverse-seed2.loom\n"
    "  echo 'a b c d' | loom translate tests/fixtures/seq/reverse.loom --shortlist "
    "tests/fixtures/seq/reverse.shortlist --shortlist-top 4\n"
    "  echo \"Where's Tom?\" | loom translate tests/fixtures/translate/en-fr-subword.loom --beam "
    "4\n"
    "  echo \"Where's Tom?\" | loom translate tests/fixtures/translate/en-fr-subword.loom --pieces "
    "--align hard\n";

enum {
    OPT_ALPHA = 0x3000,
    OPT_NBEST,
    OPT_BATCH,
    OPT_MAX_LEN,
    OPT_ALIGN,
    OPT_SVG,
    OPT_THREADS,
    OPT_REPLACE_UNK,
    OPT_ENSEMBLE,
    OPT_PIECES,
    OPT_SHORTLIST,
    OPT_SHORTLIST_TOP,
    OPT_SHORTLIST_BEST
};
enum { ALIGN_NONE = 0, ALIGN_SOFT = 1, ALIGN_HARD = 2 };

/* What printing needs. */
typedef struct {
    loom_translator *tr;
    FILE *out;
    int align, nbest;
    const char *svg_dir;
    loom_progress *progress;
    long long sentences, words; /* translated so far, and their output words */
} printer;

/* ' ||| ' and the attention: hard 'source-target' pairs, or soft rows;
 * the word-level attention when post-processing merged pieces. */
static void print_align(printer *p, const loom_translation_hyp *t)
{
    const loom_seq_hyp *h = &t->hyp;
    const float *a = t->word_align ? t->word_align : h->align;
    int rows = t->word_align ? t->word_len : h->len,
        cols = t->word_align ? t->word_src_len : h->src_len;
    fputs(" |||", p->out);
    if (!a)
        return;
    if (p->align == ALIGN_HARD) { /* no pair for </s> */
        for (int i = 0; i < rows; i++)
            fprintf(p->out, " %d-%d", loom_seq_align_argmax(a + (size_t)i * cols, cols), i);
        return;
    }
    rows += t->word_align ? 0 : h->finished;
    for (int i = 0; i < rows; i++) {
        fputs(i ? " |" : "", p->out);
        for (int j = 0; j < cols; j++)
            fprintf(p->out, " %.3f", a[(size_t)i * cols + j]);
    }
}

/* Prints one line's translation: its best hypothesis, or with --nbest
 * 'LINE ||| translation ||| score' lines. */
static int print_translation(void *ctx, long long line, const loom_translation *tr)
{
    printer *p = ctx;
    if (p->nbest > 1) {
        for (int j = 0; j < tr->n; j++) {
            const loom_translation_hyp *h = &tr->hyps[j];
            fprintf(p->out, "%lld ||| %s ||| %.4f", line, h->text, h->hyp.score);
            if (p->align)
                print_align(p, h);
            fputc('\n', p->out);
        }
        if (tr->n == 0)
            fprintf(p->out, "%lld |||  ||| 0\n", line);
    } else {
        if (tr->n > 0) {
            const loom_translation_hyp *h = &tr->hyps[0];
            fputs(h->text, p->out);
            if (p->align)
                print_align(p, h);
            char path[4096];
            snprintf(path, sizeof path, "%s/%06lld.svg", p->svg_dir ? p->svg_dir : "", line);
            int rc = p->svg_dir ? loom_translator_write_svg(p->tr, tr, h, path) : 0;
            if (rc)
                return rc;
        }
        fputc('\n', p->out);
    }
    p->words += tr->n > 0 ? tr->hyps[0].hyp.len : 0;
    loom_progress_update(p->progress, (double)++p->sentences, NULL);
    if (ferror(p->out))
        return loom_error(LOOM_EIO, "writing the translations failed");
    return 0;
}

/* --ensemble M2,M3: the model files after MODEL, into paths[*n..], cut
 * from `copy` (a copy of `list` that the paths point into). */
static int split_ensemble(const char *cmd, const char *list, char *copy, const char **paths, int *n)
{
    for (char *s = copy, *next; s; s = next) {
        next = strchr(s, ',');
        if (next)
            *next++ = '\0';
        if (!*s)
            return cli_usage(cmd, "--ensemble: an empty model name in '%s'", list);
        if (*n == LOOM_SEQ_MAX_ENSEMBLE)
            return cli_usage(cmd, "--ensemble: at most %d models in all", LOOM_SEQ_MAX_ENSEMBLE);
        paths[(*n)++] = s;
    }
    return 0;
}

static int run_translate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"beam", required_argument, 0, 'k'},
        {"alpha", required_argument, 0, OPT_ALPHA},
        {"nbest", required_argument, 0, OPT_NBEST},
        {"batch", required_argument, 0, OPT_BATCH},
        {"max-len", required_argument, 0, OPT_MAX_LEN},
        {"align", required_argument, 0, OPT_ALIGN},
        {"attention-svg", required_argument, 0, OPT_SVG},
        {"threads", required_argument, 0, OPT_THREADS},
        {"replace-unk", no_argument, 0, OPT_REPLACE_UNK},
        {"ensemble", required_argument, 0, OPT_ENSEMBLE},
        {"pieces", no_argument, 0, OPT_PIECES},
        {"shortlist", required_argument, 0, OPT_SHORTLIST},
        {"shortlist-top", required_argument, 0, OPT_SHORTLIST_TOP},
        {"shortlist-best", required_argument, 0, OPT_SHORTLIST_BEST},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    static const char *const aligns[] = {"soft", "hard", NULL};
    const char *cmd = "translate";
    printer p = {0};
    loom_translate_opts o;
    loom_translate_defaults(&o);
    long long beam = 1, nbest = 1, batch = 64, max_len = 0, threads = 1;
    double alpha = 0.6;
    long long sl_top = 1000, sl_best = 0;
    const char *ensemble = NULL;
    char *sl_path = NULL;
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
            if (cli_int(cmd, "threads", optarg, 1, LOOM_TRANSLATE_MAX_THREADS, &threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_ALIGN:
            if ((k = cli_choice(cmd, "align", optarg, aligns)) < 0)
                return CLI_EXIT_USAGE;
            p.align = k + 1;
            break;
        case OPT_SVG:
            p.svg_dir = optarg;
            break;
        case OPT_REPLACE_UNK:
            o.replace_unk = 1;
            break;
        case OPT_ENSEMBLE:
            ensemble = optarg;
            break;
        case OPT_PIECES:
            o.pieces = 1;
            break;
        case OPT_SHORTLIST:
            sl_path = optarg;
            break;
        case OPT_SHORTLIST_TOP:
            if (cli_int(cmd, "shortlist-top", optarg, 4, INT32_MAX, &sl_top) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_SHORTLIST_BEST:
            if (cli_int(cmd, "shortlist-best", optarg, 0, INT32_MAX, &sl_best) < 0)
                return CLI_EXIT_USAGE;
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
    if (p.svg_dir && (stat(p.svg_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return cli_usage(cmd, "--attention-svg: '%s' is not a directory", p.svg_dir);
    const char *models[LOOM_SEQ_MAX_ENSEMBLE] = {argv[optind]};
    const char *input = optind + 1 < argc ? argv[optind + 1] : "-";
    int nmodels = 1;
    char copy[4096];
    if (ensemble && strlen(ensemble) >= sizeof copy)
        return cli_usage(cmd, "--ensemble: the list of models is too long");
    if (ensemble && split_ensemble(cmd, ensemble, strcpy(copy, ensemble), models, &nmodels))
        return CLI_EXIT_USAGE;
    loom_blas_set_threads(1); /* our threads take whole batches */
    o.decode.beam = (int)beam, o.decode.nbest = (int)nbest, o.decode.alpha = (float)alpha;
    o.decode.max_len = (int)max_len, o.decode.align = p.align || p.svg_dir;
    o.batch = (int)batch, o.threads = (int)threads;
    p.out = stdout, p.nbest = (int)nbest;
    if (sl_path && cli_inputs(&sl_path, 1))
        return CLI_EXIT_ERROR;
    int rc = loom_translator_open(&p.tr, models, nmodels, &o);
    loom_shortlist *sl = NULL;
    if (!rc && sl_path &&
        !(rc = loom_shortlist_read(&sl, sl_path, loom_translator_vocab(p.tr, 0),
                                   loom_translator_vocab(p.tr, 1), (int)sl_top, (int)sl_best)))
        loom_translator_set_shortlist(p.tr, sl);
    double t0 = loom_now();
    p.progress = loom_progress_new("translate", 0, "sentences", cli_progress_enabled(progress));
    if (!rc)
        rc = loom_translator_translate_file(p.tr, input, print_translation, &p);
    if (!rc && fflush(stdout) != 0)
        rc = loom_error(LOOM_EIO, "writing the translations failed");
    loom_progress_set_total(p.progress, (double)p.sentences);
    loom_progress_finish(p.progress, NULL);
    loom_progress_free(p.progress);
    double secs = loom_now() - t0;
    /* the figures a user compares with other tools (Marian's "Total time"):
     * reading, decoding and writing, the model's loading excluded */
    if (!rc && !quiet && p.sentences > 0)
        fprintf(stderr,
                "loom translate: %lld sentences, %lld words out, in %.3f s (%.0f sentences/s, "
                "%.0f words/s; beam %lld, batch %lld, %lld thread%s)\n",
                p.sentences, p.words, secs, p.sentences / (secs > 0 ? secs : 1e-9),
                p.words / (secs > 0 ? secs : 1e-9), beam, batch, threads, threads > 1 ? "s" : "");
    loom_translator_free(p.tr);
    loom_shortlist_free(sl);
    return rc ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_translate = {"translate", run_translate,
                                   "translate sentences with a sequence model", help};
