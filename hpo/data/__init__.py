"""The examples: where they come from (``sources``: a hub id, a folder of files, an aclImdb
tree; ``hub``: whether the Hub can be reached), their classes (``labels``), the splits a stage
trains and scores on (``splits``), which tokens of a long text are kept (``truncation``), and
the tokenized splits, made once and cached (``tokenized``).

Imports only :mod:`hpo.config` and below; no model is loaded here.
"""
