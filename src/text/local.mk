# src/text: sources, headers, commands and tests of this layer.
