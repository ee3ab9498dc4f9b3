"""The field-token engine: a per-column tokenizer and a small decoder trained from scratch.

A record becomes about one token per column (two for a continuous number, a short word or
character sequence for free text); each column owns its own slice of the vocabulary, so decoding
masks the logits to the current column's slice and every generated record is valid by
construction. Modules: :mod:`.tokenizer` (encode/decode), :mod:`.model` (sizing, the decoder),
:mod:`.train` (plain and DP-SGD training), :mod:`.generate` (masked sampling).
"""
