/* loom serve: word vectors, translation models and classifiers behind an
 * HTTP JSON API and a web page (src/serve). This file parses the options,
 * loads what is named, starts the server and waits for SIGTERM or SIGINT. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "serve/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: loom serve [--vectors NAME=FILE]... [--model NAME=FILE]...\n"
    "                  [--classifier NAME=FILE]... [OPTIONS]\n"
    "\n"
    "Serves what it is given over HTTP until SIGTERM or SIGINT (then it stops\n"
    "accepting, finishes the requests in flight and exits 0). JSON in and out:\n"
    "  POST /v1/nearest     {\"vectors\", \"words\": [...] | \"positive\": [...],\n"
    "                        \"negative\": [...], \"k\", \"method\": \"add\"|\"mul\",\n"
    "                        \"restrict_vocab\"}: gensim's most_similar (add) and\n"
    "                        most_similar_cosmul (mul); each of \"words\" is its own\n"
    "                        query, positive/negative make one\n"
    "  POST /v1/analogy     {\"vectors\", \"queries\": [[a, b, c], ...] | \"a\", \"b\",\n"
    "                        \"c\", \"k\", \"method\"}: a is to b as c is to ?\n"
    "  POST /v1/similarity  {\"vectors\", \"pairs\": [[w1, w2], ...]}: cosines\n"
    "  POST /v1/translate   {\"model\", \"src\": [sentences], \"beam\", \"nbest\", \"alpha\",\n"
    "                        \"align\"} -> {\"translations\": [{\"tgt\", \"tokens\",\n"
    "                        \"src_tokens\", \"score\", \"logp\", \"nbest\": [...], \"align\"}]}\n"
    "                        in the order of src; absent fields take loom translate's\n"
    "                        defaults\n"
    "  POST /translator/translate  OpenNMT-py's REST route: [{\"src\", \"id\"}, ...] ->\n"
    "                        [[{\"src\", \"tgt\", \"n_best\", \"pred_score\"}, ...]]; \"id\"\n"
    "                        names the model (--model 100=FILE for OpenNMT's default)\n"
    "  POST /v1/tokenize    {\"text\" | \"texts\", \"keep_case\", \"punct\": \"keep\"|\"drop\",\n"
    "                        \"model\": a classifier or translation model whose\n"
    "                        tokenizer to use, \"side\": \"src\"|\"tgt\" of a model;\n"
    "                        a subword side gives its SentencePiece pieces}\n"
    "  POST /v1/classify    {\"classifier\", \"text\" | \"texts\", \"k\", \"threshold\"}\n"
    "  GET  /v1/models      what is loaded, with loom info's facts\n"
    "  GET  /healthz        {\"status\": \"ok\"}\n"
    "  GET  /metrics        Prometheus text: requests, errors, latency, batch sizes\n"
    "  GET  /               a page to try it in a browser\n"
    "Names (NAME=) are what requests give as \"vectors\", \"model\" or \"classifier\";\n"
    "without one, the first loaded is used. Errors are {\"error\": {\"code\",\n"
    "\"message\"}} with 400 (bad JSON, wrong types, unknown name, too many tokens),\n"
    "404, 405, 413 (body too large), 422 (unknown words, listed in \"unknown\") or\n"
    "503 (busy, or shutting down). Nearest and analogy queries arriving together\n"
    "are answered by one search (a GEMM per block of queries). Greedy sentences\n"
    "to translate join a running decoder batch between its steps and leave it as\n"
    "soon as they end (continuous batching, up to --max-batch sentences a\n"
    "worker); beam search requests arriving together are one decoder call. An\n"
    "answer never depends on its company. scripts/bench-serve compares the server\n"
    "under wrk (1, 8, 64 connections, one sentence or word a request) with loom\n"
    "translate --batch 64 and loom nearest on the same data, model, --threads and\n"
    "search (offline over 10x the sentences, median of 3); two quiet runs on a\n"
    "2-core AMD EPYC: translate at 64 connections 115% and 91% of offline (p99 71\n"
    "and 84 ms), nearest 59% and 49% (p99 11 and 10 ms; the README has the\n"
    "table).\n"
    "\n"
    "options:\n"
    "      --vectors NAME=FILE    word vectors (any format loom reads); repeatable\n"
    "      --model NAME=FILE      a model made by loom seq2seq; repeatable\n"
    "      --classifier NAME=FILE a model made by loom classify train; repeatable\n"
    "      --host ADDR            address to listen on (default 127.0.0.1)\n"
    "      --port N               port (default 8080; 0: any free one, printed)\n"
    "      --threads N            compute threads (default: one per core)\n"
    "      --http-threads N       threads reading requests (default 2)\n"
    "      --max-connections N    open connections at once (default 256)\n"
    "      --timeout SECONDS      idle or slow connections are closed (default 10)\n"
    "      --batch-wait-ms N      how long a sentence to translate waits for company\n"
    "                             when its worker has nothing to decode (default 2)\n"
    "      --nearest-wait-ms N    how long a nearest or analogy query waits for\n"
    "                             company (default 0: one search runs at a time and\n"
    "                             the queries that come during it are the next batch)\n"
    "      --max-batch N          queries per batch, sentences in a worker's running\n"
    "                             decoder batch (default 64)\n"
    "      --max-pending N        queued queries before answering 503 (default 4096)\n"
    "      --max-body BYTES       request body size (default 1048576)\n"
    "      --max-depth N          JSON nesting (default 16)\n"
    "      --max-array N          elements of one JSON array (default 10000)\n"
    "      --max-texts N          texts or sentences per request (default 256)\n"
    "      --max-text-bytes N     bytes of one text or sentence (default 4096)\n"
    "      --max-k N              neighbours per query (default 1000)\n"
    "      --max-tokens N         tokens (subword models: pieces) of a sentence to\n"
    "                             translate (default 200)\n"
    "      --check                load everything, bind the port, print what would\n"
    "                             be served and exit (a configuration check)\n"
    "  -q, --quiet                print nothing but errors and the listening line\n"
    "  -h, --help                 this help\n"
    "\n"
    "Then, from another shell:\n"
    "  curl -s localhost:8080/v1/nearest -d '{\"words\": [\"war\"], \"k\": 3}'\n"
    "\n"
    "examples:\n"
    "  loom serve --vectors sotu=tests/fixtures/vectors/sotu.bin --port 0 --check\n";

enum {
    OPT_VECTORS = 0x2000,
    OPT_CLASSIFIER,
    OPT_MODEL,
    OPT_MAX_TOKENS,
    OPT_HOST,
    OPT_PORT,
    OPT_THREADS,
    OPT_HTTP_THREADS,
    OPT_MAX_CONN,
    OPT_TIMEOUT,
    OPT_WAIT,
    OPT_NEAREST_WAIT,
    OPT_MAX_BATCH,
    OPT_MAX_PENDING,
    OPT_MAX_BODY,
    OPT_MAX_DEPTH,
    OPT_MAX_ARRAY,
    OPT_MAX_TEXTS,
    OPT_MAX_TEXT_BYTES,
    OPT_MAX_K,
    OPT_CHECK
};

enum { MAX_SERVED = 64 };

typedef struct {
    int kind; /* OPT_VECTORS, OPT_MODEL, OPT_CLASSIFIER */
    char *arg;
} served_arg;

/* NAME=FILE into name and file (in place). */
static int split_named(const char *opt, char *arg, char **name, char **file)
{
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage("serve", "--%s expects NAME=FILE, not '%s'", opt, arg), -1;
    *eq = 0;
    *name = arg;
    *file = eq + 1;
    return 0;
}

static int parse_int(const char *opt, const char *s, long long lo, long long hi, int *out)
{
    long long v;
    if (cli_int("serve", opt, s, lo, hi, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int run_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"vectors", required_argument, 0, OPT_VECTORS},
        {"classifier", required_argument, 0, OPT_CLASSIFIER},
        {"model", required_argument, 0, OPT_MODEL},
        {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"host", required_argument, 0, OPT_HOST},
        {"port", required_argument, 0, OPT_PORT},
        {"threads", required_argument, 0, OPT_THREADS},
        {"http-threads", required_argument, 0, OPT_HTTP_THREADS},
        {"max-connections", required_argument, 0, OPT_MAX_CONN},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"batch-wait-ms", required_argument, 0, OPT_WAIT},
        {"nearest-wait-ms", required_argument, 0, OPT_NEAREST_WAIT},
        {"max-batch", required_argument, 0, OPT_MAX_BATCH},
        {"max-pending", required_argument, 0, OPT_MAX_PENDING},
        {"max-body", required_argument, 0, OPT_MAX_BODY},
        {"max-depth", required_argument, 0, OPT_MAX_DEPTH},
        {"max-array", required_argument, 0, OPT_MAX_ARRAY},
        {"max-texts", required_argument, 0, OPT_MAX_TEXTS},
        {"max-text-bytes", required_argument, 0, OPT_MAX_TEXT_BYTES},
        {"max-k", required_argument, 0, OPT_MAX_K},
        {"check", no_argument, 0, OPT_CHECK},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    loom_serve_opts o;
    loom_serve_defaults(&o);
    o.threads = cli_default_threads();
    served_arg served[MAX_SERVED];
    cli_io io = {0};
    int nserved = 0, check = 0, v;
    long long big;
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_VECTORS:
        case OPT_MODEL:
        case OPT_CLASSIFIER:
            if (nserved == MAX_SERVED)
                return cli_usage("serve", "at most %d vectors and models", MAX_SERVED);
            served[nserved++] = (served_arg){c, optarg};
            break;
        case OPT_HOST:
            o.host = optarg;
            break;
        case OPT_PORT:
            if (parse_int("port", optarg, 0, 65535, &o.port) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (parse_int("threads", optarg, 1, 1024, &o.threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_HTTP_THREADS:
            if (parse_int("http-threads", optarg, 1, 256, &o.http_threads) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_CONN:
            if (parse_int("max-connections", optarg, 1, 100000, &o.max_connections) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_TIMEOUT:
            if (parse_int("timeout", optarg, 1, 86400, &o.timeout) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_WAIT:
            if (parse_int("batch-wait-ms", optarg, 0, 10000, &o.batch_wait_ms) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_NEAREST_WAIT:
            if (parse_int("nearest-wait-ms", optarg, 0, 10000, &o.nearest_wait_ms) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_BATCH:
            if (parse_int("max-batch", optarg, 1, 65536, &o.max_batch) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_PENDING:
            if (parse_int("max-pending", optarg, 1, 1 << 24, &o.max_pending) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_BODY:
            if (cli_int("serve", "max-body", optarg, 16, 1LL << 30, &big) < 0)
                return CLI_EXIT_USAGE;
            o.limits.max_body = (size_t)big;
            break;
        case OPT_MAX_DEPTH:
            if (parse_int("max-depth", optarg, 2, 1000, &o.limits.max_depth) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_ARRAY:
            if (parse_int("max-array", optarg, 1, 1 << 24, &v) < 0)
                return CLI_EXIT_USAGE;
            o.limits.max_array = (size_t)v;
            break;
        case OPT_MAX_TEXTS:
            if (parse_int("max-texts", optarg, 1, 1 << 20, &o.limits.max_sentences) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_TEXT_BYTES:
            if (parse_int("max-text-bytes", optarg, 1, 1 << 26, &v) < 0)
                return CLI_EXIT_USAGE;
            o.limits.max_sentence = (size_t)v;
            break;
        case OPT_MAX_TOKENS:
            if (parse_int("max-tokens", optarg, 1, 1 << 20, &o.limits.max_tokens) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_K:
            if (parse_int("max-k", optarg, 1, 1 << 20, &o.limits.max_k) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_CHECK:
            check = 1;
            break;
        default:
            if ((rc = cli_io_option("serve", c, &io, argc, argv)) != CLI_IO_NEXT)
                return rc;
        }
    }
    int quiet = io.quiet;
    if (optind < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (nserved == 0)
        return cli_usage("serve",
                         "nothing to serve: give --vectors, --model or --classifier NAME=FILE");

    loom_server *s;
    if (loom_server_new(&s, &o) != 0)
        return cli_fail();
    for (int i = 0; i < nserved; i++) {
        char *name, *file;
        int kind = served[i].kind;
        const char *what = kind == OPT_VECTORS ? "vectors"
                           : kind == OPT_MODEL ? "model"
                                               : "classifier";
        if (split_named(what, served[i].arg, &name, &file) < 0) {
            loom_server_free(s);
            return CLI_EXIT_USAGE;
        }
        rc = kind == OPT_VECTORS ? loom_server_add_vectors(s, name, file)
             : kind == OPT_MODEL ? loom_server_add_model(s, name, file)
                                 : loom_server_add_classifier(s, name, file);
        if (rc != 0) {
            loom_server_free(s);
            return cli_fail();
        }
        if (!quiet)
            fprintf(stderr, "loom serve: %s '%s' from %s\n", what, name, file);
    }
    /* The signals are taken by sigwait below, never by a handler; every
     * thread the server starts inherits the mask. A client that hangs up
     * must not kill the process. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (loom_server_start(s) != 0) {
        loom_server_free(s);
        return cli_fail();
    }
    printf("loom serve: listening on http://%s:%d/\n", o.host, loom_server_port(s));
    fflush(stdout);
    if (!check) {
        int sig = 0;
        sigwait(&stop, &sig);
        if (!quiet)
            fprintf(stderr, "loom serve: %s: finishing the requests in flight\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    loom_server_stop(s, 10000);
    loom_server_free(s);
    return CLI_EXIT_OK;
}

const cli_command cmd_serve = {
    "serve", run_serve, "serve vectors, models and classifiers over HTTP (JSON API, page)", help};
