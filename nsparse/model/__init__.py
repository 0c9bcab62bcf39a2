"""nsparse.model: the SPLADE-style sparse encoder and the offline base model.

Online users start from a pretrained checkpoint instead of the offline base model:
set `base.pretrained` in params.yaml to a Hugging Face hub id, e.g.
`opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1`; the `base`
stage then only records it and `train` loads it with `SparseEncoder.load(hub_id)`
(which also fetches its `idf.json`, when the repository has one). Any
`AutoModelForMaskedLM` checkpoint works. Offline (CI, this project's build
machines) everything loads from local folders.

Modules: `encoder` (the sparse encoder and its lexical floor), `vocabulary` (the
morpheme-aware tokenizer), `translation` (IBM Model 1 table), `base` (MLM pre-training),
`words` (the words of a text and the pieces they became: `nsparse encode|explain`),
`threads`. Import them directly; this package imports nothing, so the `base` stage does
not depend on the encoder.
"""
