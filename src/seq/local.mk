# src/seq: sources, headers, commands and tests of this layer.
