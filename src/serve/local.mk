# src/serve: the HTTP JSON API and page over vectors, models and
# classifiers (libmicrohttpd, jansson); `loom serve`.
libloom_la_SOURCES += src/serve/request.c src/serve/metrics.c src/serve/batcher.c \
	src/serve/server.c src/serve/vectors.c src/serve/texts.c src/serve/page.c \
	src/serve/translate.c src/serve/mhd.c
noinst_HEADERS += src/serve/server.h src/serve/request.h src/serve/mhd.h
noinst_HEADERS += src/serve/internal.h src/serve/batcher.h src/serve/metrics.h
loom_SOURCES += tools/serve.c
TESTS += tests/e2e/test_serve.sh tests/e2e/test_serve_page.sh
EXTRA_DIST += tests/e2e/test_serve.sh tests/e2e/serve_check.py tests/e2e/test_serve_page.sh \
	tests/e2e/serve_page.py
