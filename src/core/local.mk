# src/core: sources, headers, commands and tests of this layer.
