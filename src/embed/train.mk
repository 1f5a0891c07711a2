# src/embed (trainer): the word2vec trainer, `loom embed`, its tests.
