# tools: the `loom` command. Layers add their tools/<cmd>.c to loom_SOURCES
# in their own local.mk.
loom_SOURCES += tools/loom.c tools/cli.c
noinst_HEADERS += tools/cli.h tools/commands.h
