# src/embed: sources, headers, commands and tests of this layer.
