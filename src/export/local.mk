# src/export: models as ONNX graphs (protobuf-c over Debian's onnx.proto);
# `loom export`.

# The C of onnx.proto, generated in the build tree by protoc-c: the
# structures and descriptors the exporter fills and packs.
nodist_libloom_la_SOURCES = src/export/onnx.pb-c.c src/export/onnx.pb-c.h src/export/web_files.c
BUILT_SOURCES = src/export/onnx.pb-c.h
CLEANFILES += src/export/onnx.pb-c.c src/export/onnx.pb-c.h src/export/web_files.c
src/export/onnx.pb-c.h: src/export/onnx.pb-c.c
src/export/onnx.pb-c.c: $(ONNX_PROTO)
	$(AM_V_GEN)$(MKDIR_P) src/export && \
	$(PROTOC_C) --proto_path="$$(dirname '$(ONNX_PROTO)')" --c_out=src/export '$(ONNX_PROTO)'

# The browser page, built into loom (`loom export --web`).
LOOM_WEB_FILES = $(srcdir)/web/index.html $(srcdir)/web/loom-onnx.js
src/export/web_files.c: $(LOOM_WEB_FILES) $(srcdir)/src/export/embed-files.sh
	$(AM_V_GEN)$(MKDIR_P) src/export && \
	$(SHELL) $(srcdir)/src/export/embed-files.sh $(LOOM_WEB_FILES) >$@.tmp && mv $@.tmp $@

libloom_la_SOURCES += src/export/cls_onnx.c src/export/onnx_graph.c src/export/outdir.c src/export/seq_onnx.c src/export/web.c
noinst_HEADERS += src/export/cls_onnx.h src/export/onnx_graph.h src/export/outdir.h src/export/web.h
EXTRA_DIST += src/export/embed-files.sh web/index.html
noinst_HEADERS += src/export/seq_onnx.h
loom_SOURCES += tools/export.c

# tests: every fixture model exported, checked by onnx.checker and run in
# onnxruntime-node (tests/onnx) against loom's own log p and translations
check_PROGRAMS += tests/helper_seq_logp
tests_helper_seq_logp_SOURCES = tests/helper_seq_logp.c
tests_helper_seq_logp_LDADD = libloom.la
TESTS += tests/e2e/test_onnx.sh tests/e2e/test_onnx_web.sh tests/e2e/test_onnx_signal.sh tests/e2e/test_onnx_classify.sh
EXTRA_DIST += tests/e2e/test_onnx.sh tests/e2e/test_onnx_web.sh tests/e2e/test_onnx_signal.sh tests/e2e/test_onnx_classify.sh tests/onnx/browser.py tests/onnx/check.js tests/onnx/package.json \
	tests/onnx/package-lock.json web/loom-onnx.js
