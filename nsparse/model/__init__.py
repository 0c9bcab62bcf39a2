"""nsparse.model: the SPLADE-style sparse encoder and the offline base model.

Online users start from a pretrained checkpoint instead of the offline base model:
set `base.pretrained` in params.yaml to a Hugging Face hub id, e.g.
`opensearch-project/opensearch-neural-sparse-encoding-multilingual-v1`; the `base`
stage then only records it and `train` loads it with `SparseEncoder.load(hub_id)`
(which also fetches its `idf.json`, when the repository has one). Any
`AutoModelForMaskedLM` checkpoint works. Offline (CI, this project's build
machines) everything loads from local folders.
"""

from nsparse.model.encoder import EncoderSettings, SparseEncoder, compute_idf

__all__ = ["EncoderSettings", "SparseEncoder", "compute_idf"]
