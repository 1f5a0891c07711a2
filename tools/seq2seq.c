/* loom seq2seq: trains an attention + RNN encoder-decoder on parallel text.
 * Parses the command line into src/seq's options struct (every value is
 * checked by the library's options table, src/seq/options.c, the one that
 * also checks model files), calls loom_seq_train_run and prints. */
#include "config.h"
#include "cli.h"
#include "tokflags.h"
#include "base/error.h"
#include "base/dist.h"
#include "base/progress.h"
#include "seq/train.h"

#include <signal.h>
#include <stdio.h>

static const char help[] =
    "usage: loom seq2seq [OPTIONS] PAIRS -o MODEL\n"
    "       loom seq2seq [OPTIONS] --src FILE --tgt FILE -o MODEL\n"
    "\n"
    "Trains a sequence-to-sequence model (embeddings, a GRU, LSTM or Elman encoder,\n"
    "attention, a decoder with input feeding, softmax) on parallel text and\n"
    "writes one model file that 'loom translate' needs nothing else to use.\n"
    "PAIRS has 'source<TAB>target' lines (further columns ignored, as in\n"
    "Tatoeba's files); .gz is read transparently.\n"
    "\n"
    "data:\n"
    "  -o, --output MODEL     the model file (safetensors; required)\n"
    "      --src FILE, --tgt FILE  aligned files instead of PAIRS\n"
    "      --valid FILE       validation pairs: loss, greedy BLEU and exact match\n"
    "                         after each epoch; the best model (by loss) is kept\n"
    "                         (BLEU of a subword target: on the detokenised text)\n"
    "      --valid-every N    validate every N steps instead of once per epoch\n"
    "      --min-count N      drop words seen fewer than N times (default 1)\n"
    "      --max-vocab N      keep at most N words per side (default 0: all)\n"
    "      --max-len N        drop pairs with a side over N tokens (default 50; 0: none)\n"
    "subword units (SentencePiece .model files, from 'loom subword train'):\n"
    "      --src-subword SPM, --tgt-subword SPM  read that side as the model's pieces:\n"
    "                         training reads raw text, the vocabulary is the pieces\n"
    "                         seen in training, the model file embeds SPM, and\n"
    "                         'loom translate' reads and writes raw text (the\n"
    "                         tokenizer options do not apply to that side)\n"
    "      --joint-subword SPM  one model for both sides (with --tie-embeddings: one\n"
    "                         vocabulary and one embedding table of pieces)\n"
    "model:\n"
    "      --cell gru|lstm|elman  recurrent cell of encoder and decoder (default gru);\n"
    "                         elman is the plain h = tanh(x U + h' W + b)\n"
    "      --layers N         encoder layers (default 1)\n"
    "      --dec-layers N     stacked decoder layers (default 1), as OpenNMT's and\n"
    "                         Marian's: layer 1 reads [embedding; context], each layer\n"
    "                         above the new state of the one below (with --dropout\n"
    "                         between them); the attention is queried by the top\n"
    "                         layer's previous state, the state the output layer reads\n"
    "                         (Luong's and OpenNMT's choice: the query is the decoder's\n"
    "                         most processed state); one bridge from the encoder's top\n"
    "                         layer's final states gives every layer its first state\n"
    "                         (whatever --layers is); 'loom export' refuses N > 1\n"
    "      --bidirectional    bidirectional encoder (the default)\n"
    "      --unidirectional   left-to-right encoder\n"
    "      --attention bahdanau|dot|general|none   (default bahdanau)\n"
    "      --emb N            embedding size (default 64, or the vectors' size)\n"
    "      --hidden N         hidden size (default 128)\n"
    "      --attn-dim N       Bahdanau attention size (default: --hidden)\n"
    "      --dropout P        dropout on embeddings, between layers and before the\n"
    "                         output layer (default 0)\n"
    "      --tie-embeddings   one vocabulary and one embedding table for both sides\n"
    "                         (languages sharing words, or tasks such as copying)\n"
    "transfer learning:\n"
    "      --src-vectors FILE, --tgt-vectors FILE  initialise the embeddings of the\n"
    "                         words found in a vector file (any format loom reads)\n"
    "      --freeze src|tgt|both  keep those embeddings fixed (default: none)\n"
    "      --scale-vectors    multiply each vector file by one factor so that its values\n"
    "                         have standard deviation 1, the scale of the random\n"
    "                         initialisation (word2vec vectors have ~0.1-0.3, too small\n"
    "                         for the encoder to learn from quickly); frozen rows are\n"
    "                         then the scaled vectors\n"
    "      --src-vocab-from-vectors N  add to the source vocabulary the first N words\n"
    "                         of --src-vectors (0: all) that it lacks, so that words\n"
    "                         training never saw (or saw under --min-count) are read\n"
    "                         through their vectors instead of as <unk>; best with\n"
    "                         --freeze src, which keeps the unseen words' vectors in\n"
    "                         the space the encoder learns (default: off)\n"
    "training:\n"
    "      --lr X             Adam learning rate (default 0.002)\n"
    "      --lr-warmup N      raise the rate linearly over the first N steps (default 0)\n"
    "      --lr-decay none|inv-sqrt|plateau  after the warm-up: keep the rate (default);\n"
    "                         inv-sqrt: lr * sqrt(N / step) (Marian's --lr-decay-inv-sqrt,\n"
    "                         needs --lr-warmup N); plateau: multiply it by\n"
    "                         --lr-decay-factor at each validation that is not the best\n"
    "                         so far (OpenNMT's, PyTorch's ReduceLROnPlateau; needs --valid)\n"
    "      --lr-decay-factor F  (default 0.5)\n"
    "      --clip X           global gradient-norm clipping (default 1; 0: off)\n"
    "      --label-smoothing X  (default 0)\n"
    "      --batch N          sentences per batch (default 64)\n"
    "      --epochs N         (default 10)\n"
    "      --patience N       stop after N validations without improvement (default 0: never)\n"
    "      --keep-last N      also keep the last N validations' models, as MODEL.1 ..\n"
    "                         MODEL.N in turn, for 'loom average' (default 0; at most 16)\n"
    "      --best-by loss|bleu  what the kept model and --patience go by: validation\n"
    "                         loss (default) or greedy BLEU (Marian's --valid-metrics)\n"
    "      --precision fp32|bf16  what training's matrix products compute in: fp32\n"
    "                         (the default; bit for bit as before) or bf16 (bfloat16\n"
    "                         operands, float32 sums and master weights; needs a CPU\n"
    "                         with AVX-512 BF16). On the development Xeon (AVX-512\n"
    "                         BF16, no AMX) bf16 is SLOWER: Tatoeba training at 0.54x\n"
    "                         fp32's tokens per CPU second, validation loss and BLEU\n"
    "                         alike (scripts/bench-bf16); it is for CPUs where\n"
    "                         bfloat16 runs at twice float32's rate (AMX, Zen 4)\n"
    "      --seed N           (default 1); a seed and a thread count repeat a run bit for bit\n"
    "      --threads N        threads, each taking a share of every batch (default 1)\n"
    "      --checkpoint FILE  checkpoint file (default MODEL.ckpt)\n"
    "      --checkpoint-every MIN  minutes between checkpoints (default 10)\n"
    "      --resume FILE      continue from a checkpoint (its model and data position)\n"
    "      --max-steps N      stop after N steps (and write a checkpoint)\n"
    "                         Ctrl-C (SIGINT) stops the same way after the batch it\n"
    "                         came in (a second one at once, leaving the last\n"
    "                         complete files); exit status 130\n"
    "      --stop-at-exact X  stop once validation exact match reaches X (0..1)\n" TOKFLAGS_HELP
    "  --src-keep-case, --tgt-keep-case, --src-punct, --tgt-punct, --src-pretokenized,\n"
    "  --tgt-pretokenized     the same for one side only\n"
    "  --src-char, --tgt-char  characters as tokens on one side (--chars: both), as\n"
    "                         for spelling -> pronunciation ('loom translate' then\n"
    "                         joins a character target without spaces)\n"
    "  -q, --quiet            no progress and no report lines\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "Under 'mpirun -np N loom seq2seq ...' (a loom built with Open MPI: see\n"
    "'loom --version') the N processes train one model, synchronously: each\n"
    "computes the gradients of its share of every batch, the gradients are\n"
    "summed over the processes before each step, and the first writes the\n"
    "model and checkpoints. N processes of T threads compute what one process\n"
    "of N x T threads does. See the README, 'More than one machine'.\n"
    "\n"
    "examples:\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o reverse.loom --epochs 5\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o elman.loom --cell elman --epochs 2\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o rev.loom --epochs 2 --precision fp32\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o deep.loom --dec-layers 2 --dropout 0.2"
    " --epochs 2\n"
    "  loom seq2seq corpus/tatoeba-eng-fra.train.tsv.gz --valid corpus/tatoeba-eng-fra.valid.tsv.gz"
    " -o en-fr.loom --epochs 1 --max-steps 50\n"
    "  loom embed corpus/sotu.txt.gz -o sotu.vec --dim 32 --epochs 1 --quiet && loom seq2seq"
    " corpus/tatoeba-eng-fra.train.tsv.gz -o en-fr.loom --src-vectors sotu.vec"
    " --src-vocab-from-vectors 20000 --scale-vectors --freeze src --max-steps 10\n"
    "  loom subword train tests/fixtures/subword/tatoeba.txt -o tatoeba.model --vocab-size 400 -q"
    " && loom seq2seq corpus/tatoeba-eng-fra.valid.tsv.gz -o en-fr-sw.loom --joint-subword"
    " tatoeba.model --tie-embeddings --max-steps 20\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv --valid "
    "tests/fixtures/seq/reverse-valid.tsv"
    " -o rev.loom --valid-every 20 --max-steps 60 --lr-warmup 20 --lr-decay inv-sqrt --keep-last 3"
    " && loom average rev.loom.1 rev.loom.2 rev.loom.3 -o rev-avg.loom\n"
    "  loom seq2seq corpus/cmudict-g014b2b.train.gz -o g2p.loom --src-char --tgt-pretokenized"
    " --max-steps 20 && echo LOOM | loom translate g2p.loom\n";

enum {
    OPT_TABLE = 0x3000, /* an option of the library's table, set by its name */
    OPT_SRC,
    OPT_TGT,
    OPT_VALID,
    OPT_CHECKPOINT,
    OPT_RESUME,
    OPT_UNI,
    OPT_SIDE = 0x3100 /* + 2 * tokflag index + side */
};

#define TABLE(name, arg)                                                                           \
    {                                                                                              \
        name, arg, 0, OPT_TABLE                                                                    \
    }

static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                         {"src", required_argument, 0, OPT_SRC},
                                         {"tgt", required_argument, 0, OPT_TGT},
                                         {"valid", required_argument, 0, OPT_VALID},
                                         {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
                                         {"resume", required_argument, 0, OPT_RESUME},
                                         {"unidirectional", no_argument, 0, OPT_UNI},
                                         TABLE("bidirectional", no_argument),
                                         TABLE("tie-embeddings", no_argument),
                                         TABLE("scale-vectors", no_argument),
                                         TABLE("valid-every", required_argument),
                                         TABLE("min-count", required_argument),
                                         TABLE("max-vocab", required_argument),
                                         TABLE("max-len", required_argument),
                                         TABLE("cell", required_argument),
                                         TABLE("layers", required_argument),
                                         TABLE("dec-layers", required_argument),
                                         TABLE("attention", required_argument),
                                         TABLE("emb", required_argument),
                                         TABLE("hidden", required_argument),
                                         TABLE("attn-dim", required_argument),
                                         TABLE("dropout", required_argument),
                                         TABLE("src-vectors", required_argument),
                                         TABLE("tgt-vectors", required_argument),
                                         TABLE("freeze", required_argument),
                                         TABLE("src-vocab-from-vectors", required_argument),
                                         TABLE("lr", required_argument),
                                         TABLE("clip", required_argument),
                                         TABLE("label-smoothing", required_argument),
                                         TABLE("batch", required_argument),
                                         TABLE("epochs", required_argument),
                                         TABLE("patience", required_argument),
                                         TABLE("seed", required_argument),
                                         TABLE("threads", required_argument),
                                         TABLE("checkpoint-every", required_argument),
                                         TABLE("max-steps", required_argument),
                                         TABLE("stop-at-exact", required_argument),
                                         TABLE("best-by", required_argument),
                                         TABLE("lr-warmup", required_argument),
                                         TABLE("lr-decay", required_argument),
                                         TABLE("lr-decay-factor", required_argument),
                                         TABLE("keep-last", required_argument),
                                         TABLE("precision", required_argument),
                                         TABLE("src-subword", required_argument),
                                         TABLE("tgt-subword", required_argument),
                                         TABLE("joint-subword", required_argument),
                                         {"src-keep-case", no_argument, 0, OPT_SIDE + 0},
                                         {"tgt-keep-case", no_argument, 0, OPT_SIDE + 1},
                                         {"src-punct", required_argument, 0, OPT_SIDE + 2},
                                         {"tgt-punct", required_argument, 0, OPT_SIDE + 3},
                                         {"src-pretokenized", no_argument, 0, OPT_SIDE + 4},
                                         {"tgt-pretokenized", no_argument, 0, OPT_SIDE + 5},
                                         {"src-char", no_argument, 0, OPT_SIDE + 6},
                                         {"tgt-char", no_argument, 0, OPT_SIDE + 7},
                                         TOKFLAGS_LONGOPTS,
                                         CLI_COMMON_LONGOPTS,
                                         {0, 0, 0, 0}};

typedef struct {
    loom_seq_train_opts o;
    int quiet, progress;
} args;

/* Ctrl-C: the first ends training after its batch, with the files of a
 * normal end (o.stop); the next goes to loom.c's handler, which removes
 * temporaries and ends the process. Not under mpirun: the processes would
 * have to stop at the same step, so there the first one ends them. */
static volatile sig_atomic_t interrupted;
static void (*next_handler)(int) = SIG_DFL;

static void on_interrupt(int sig)
{
    interrupted = 1;
    signal(sig, next_handler);
}

static void report(void *ctx, const char *line)
{
    loom_progress_note(ctx, "%s", line);
}

static void report_plain(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "loom seq2seq: %s\n", line);
}

/* A tokenizer flag for both sides or for one (--src-punct ...); 1 when
 * `c` was one, 0 when not, -1 after a usage error. */
static int tok_option(int c, const char *arg, loom_tok_opts *tok)
{
    static const int flags[] = {TOKFLAGS_KEEP_CASE, TOKFLAGS_PUNCT, TOKFLAGS_PRETOKENIZED,
                                TOKFLAGS_CHARS};
    if (c >= TOKFLAGS_KEEP_CASE && c <= TOKFLAGS_CHARS) {
        if (tokflags_option("seq2seq", c, arg, &tok[0]) < 0)
            return -1;
        return tokflags_option("seq2seq", c, arg, &tok[1]);
    }
    if (c < OPT_SIDE || c >= OPT_SIDE + 8)
        return 0;
    int k = c - OPT_SIDE;
    return tokflags_option("seq2seq", flags[k / 2], arg, &tok[k % 2]) < 0 ? -1 : 1;
}

/* Returns 0 to go on, or an exit status + 1. */
static int parse(int argc, char **argv, args *a)
{
    const char *cmd = "seq2seq";
    loom_seq_train_opts *o = &a->o;
    int c, idx = 0, k;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, &idx)) != -1) {
        if ((k = tok_option(c, optarg, o->tok)) != 0) {
            if (k < 0)
                return 1 + CLI_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case OPT_TABLE:
            if (loom_seq_opt_set(o, longopts[idx].name, optarg ? optarg : "1") < 0)
                return 1 + cli_usage(cmd, "%s", loom_error_message());
            break;
        case OPT_UNI:
            loom_seq_opt_set(o, "bidirectional", "0");
            break;
        case 'o':
            o->output = optarg;
            break;
        case OPT_SRC:
            o->src = optarg;
            break;
        case OPT_TGT:
            o->tgt = optarg;
            break;
        case OPT_VALID:
            o->valid = optarg;
            break;
        case OPT_CHECKPOINT:
            o->checkpoint = optarg;
            break;
        case OPT_RESUME:
            o->resume = optarg;
            break;
        case CLI_OPT_HELP:
            return 1 + cli_help(cmd);
        case CLI_OPT_QUIET:
            a->quiet = 1, a->progress = CLI_PROGRESS_OFF;
            break;
        case CLI_OPT_PROGRESS:
            a->progress = CLI_PROGRESS_ON;
            break;
        default:
            return 1 + cli_bad_option(cmd, argc, argv);
        }
    }
    if (optind < argc)
        o->pairs = argv[optind++];
    if (optind < argc)
        return 1 + cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!o->output)
        return 1 + cli_usage(cmd, "needs -o MODEL");
    if (!o->pairs == !(o->src && o->tgt) || (!o->src != !o->tgt))
        return 1 + cli_usage(cmd, "needs PAIRS or both --src and --tgt");
    if (loom_seq_opts_check(o) < 0)
        return 1 + cli_usage(cmd, "%s", loom_error_message());
    return 0;
}

static int run_seq2seq(int argc, char **argv)
{
    args a = {.progress = CLI_PROGRESS_AUTO};
    loom_seq_train_defaults(&a.o);
    int st = parse(argc, argv, &a);
    if (st)
        return st - 1;
    char *inputs[] = {(char *)a.o.pairs, (char *)a.o.src,        (char *)a.o.tgt,
                      (char *)a.o.valid, (char *)a.o.vectors[0], (char *)a.o.vectors[1]};
    if (cli_inputs(inputs, 6))
        return CLI_EXIT_ERROR;
    /* under mpirun the first process speaks for all */
    a.quiet = a.quiet || loom_dist_rank() != 0;
    int show = loom_dist_rank() == 0 && cli_progress_enabled(a.progress);
    loom_progress *p = loom_progress_new("seq2seq", 0, "steps", show);
    loom_seq_train_result res;
    void (*prev)(int) = SIG_ERR;
    if (loom_dist_size() == 1 && (prev = signal(SIGINT, on_interrupt)) != SIG_ERR) {
        next_handler = prev;
        a.o.stop = &interrupted;
    }
    int rc = loom_seq_train_run(&a.o, p, a.quiet ? NULL : show ? report : report_plain, p, &res);
    if (prev != SIG_ERR)
        signal(SIGINT, prev);
    if (!rc)
        loom_progress_finish(p, NULL);
    loom_progress_free(p);
    if (rc)
        return cli_fail();
    if (res.interrupted) {
        if (!a.quiet)
            fprintf(stderr,
                    "loom seq2seq: stopped by SIGINT after step %ld: %ld target tokens in %.1f s "
                    "(%.0f tokens/s); wrote %s%s and the checkpoint %s%s\n",
                    res.steps, res.tokens, res.seconds, res.tokens_per_s, a.o.output,
                    res.valid_loss >= 0 ? " (the best validated model)" : "",
                    a.o.checkpoint ? a.o.checkpoint : a.o.output, a.o.checkpoint ? "" : ".ckpt");
        return 128 + SIGINT;
    }
    if (!a.quiet)
        fprintf(stderr,
                "loom seq2seq: %ld steps, %ld target tokens in %.1f s (%.0f tokens/s); "
                "wrote %s%s\n",
                res.steps, res.tokens, res.seconds, res.tokens_per_s, a.o.output,
                res.hit_max_steps ? " and the checkpoint (--max-steps)" : "");
    if (!a.quiet && loom_dist_size() > 1)
        fprintf(stderr,
                "loom seq2seq: %d processes; summing gradients took %.1f s, %.1f%% of the "
                "first process' time\n",
                loom_dist_size(), loom_dist_seconds(),
                res.seconds > 0 ? 100 * loom_dist_seconds() / res.seconds : 0.0);
    return CLI_EXIT_OK;
}

const cli_command cmd_seq2seq = {"seq2seq", run_seq2seq,
                                 "train a sequence-to-sequence model on parallel text", help};
