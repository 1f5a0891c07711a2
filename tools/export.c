/* loom export: writes a sequence model as ONNX graphs with the JSON that
 * a runtime loop needs (src/export/seq_onnx.h). This file parses options. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "classify/model.h"
#include "export/cls_onnx.h"
#include "export/seq_onnx.h"
#include "seq/model_file.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: loom export MODEL -o DIR [OPTIONS]\n"
    "\n"
    "Writes the sequence model MODEL (from loom seq2seq) as ONNX files that run in\n"
    "onnxruntime or any ONNX runtime, in the directory DIR (which must not exist or\n"
    "be empty; it appears complete or not at all):\n"
    "  encoder.onnx       src_ids, src_lens -> enc, keys, mask, h0 (c0 for LSTM)\n"
    "  decoder_step.onnx  prev, h (c), enc, keys, mask -> logp, h_out (c_out), attn\n"
    "  vocab.json         both vocabularies, special ids, tokenizer options\n"
    "  source.model, target.model  a subword side's SentencePiece model (its\n"
    "                     pieces and scores also in vocab.json)\n"
    "  interface.json     each graph's inputs and outputs (names, dtypes, shapes with\n"
    "                     symbolic dimensions), the model's sizes, the search's rules\n"
    "The graphs are dynamic in batch and lengths; the search (greedy or beam) is the\n"
    "caller's loop, as interface.json describes. GRU and LSTM models with any\n"
    "attention, bidirectional and stacked encoders, word and subword vocabularies\n"
    "are exported; another cell or characters as tokens are refused with the\n"
    "option it cannot express, and nothing is written.\n"
    "\n"
    "A text classifier (from loom classify train; bag or cnn, any loss) is written\n"
    "as one graph:\n"
    "  classifier.onnx    ids, lens -> probs (the label probabilities)\n"
    "  classifier.json    words, labels, tokenizer and n-gram settings: how a line\n"
    "                     becomes ids\n"
    "  interface.json     the graph's inputs and outputs\n"
    "\n"
    "options:\n"
    "  -o, --output DIR       the directory to write (required)\n"
    "      --step-cell op|unrolled  the decoder step's cell as ONNX's GRU/LSTM\n"
    "                         operator (default) or as MatMul/Sigmoid/Tanh nodes\n"
    "      --web              also the page that translates in a browser, entirely\n"
    "                         client-side, with onnxruntime-web: index.html and\n"
    "                         loom-onnx.js (serve DIR over HTTP and open it)\n"
    "      --ort-web DIST     copy onnxruntime-web's WebAssembly build (ort.wasm.min.js,\n"
    "                         ort-wasm-simd-threaded.{mjs,wasm}) from DIST, e.g.\n"
    "                         tests/onnx/node_modules/onnxruntime-web/dist (implies\n"
    "                         --web); without it the page loads them from jsDelivr\n"
    "  -q, --quiet            no closing summary\n"
    "      --progress         accepted for symmetry (export is quick)\n"
    "  -h, --help             this help\n"
    "\n"
    "example:\n"
    "  loom export tests/fixtures/seq/reverse.loom -o reverse-onnx\n"
    "  loom export tests/fixtures/seq/reverse.loom -o reverse-web --web\n"
    "  loom classify train tests/fixtures/classify/train.txt -o bag.loom --dim 8 -q\n"
    "  loom export bag.loom -o bag-onnx\n";

enum { OPT_STEP_CELL = 0x2000, OPT_WEB, OPT_ORT_WEB };

static int run_export(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_OUTPUT_LONGOPT,
                                             {"step-cell", required_argument, 0, OPT_STEP_CELL},
                                             {"web", no_argument, 0, OPT_WEB},
                                             {"ort-web", required_argument, 0, OPT_ORT_WEB},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    cli_io io = {0};
    int c, rc;
    loom_export_opts o;
    loom_export_opts_default(&o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:q", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_STEP_CELL: {
            int k = cli_choice("export", "step-cell", optarg, loom_export_cell_names);
            if (k < 0)
                return CLI_EXIT_USAGE;
            o.step_cell = (loom_export_cell)k;
            break;
        }
        case OPT_WEB:
            o.web = 1;
            break;
        case OPT_ORT_WEB:
            o.ort_web = optarg;
            o.web = 1;
            break;
        default:
            if ((rc = cli_io_option("export", c, &io, argc, argv)) != CLI_IO_NEXT)
                return rc;
        }
    }
    const char *out = io.output;
    if (argc - optind != 1)
        return cli_usage("export", "expects one MODEL, not %d file names", argc - optind);
    if (!out || !*out)
        return cli_usage("export", "needs -o DIR");
    const char *model = argv[optind];
    if (cli_inputs(argv + optind, 1))
        return CLI_EXIT_ERROR;
    int cls = loom_cls_is_model_file(model);
    if (cls) {
        loom_classifier *m = NULL;
        rc = loom_classifier_load(&m, model);
        if (!rc)
            rc = loom_export_cls(m, model, out, &o);
        loom_classifier_free(m);
    } else {
        loom_seq_bundle b;
        memset(&b, 0, sizeof b);
        rc = loom_seq_file_load(&b, model, NULL);
        if (!rc)
            rc = loom_export_seq(&b, model, out, &o);
        loom_seq_bundle_free(&b);
    }
    if (rc)
        return cli_fail();
    if (!io.quiet)
        fprintf(stderr, "loom export: wrote %s/{%s,interface.json}\n", out,
                cls ? "classifier.onnx,classifier.json"
                    : "encoder.onnx,decoder_step.onnx,vocab.json");
    return CLI_EXIT_OK;
}

const cli_command cmd_export = {"export", run_export,
                                "write a sequence model or classifier as ONNX graphs", help};
