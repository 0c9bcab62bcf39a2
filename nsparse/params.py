"""The schema of params.yaml: every section typed, range-checked and closed to unknown keys.

Why: a typo (`train.flops_wieght`) or a quoted number (`steps: "4"`) used to be
noticed, if at all, deep inside a stage after minutes of data loading, or never
(the default silently applied). `nsparse.config.load_params()` validates the whole
file against `Params` before any stage sees it, and reports every fault as one
line: the key path, what is wrong, and for an unknown key the nearest valid name.

Values are not coerced (`"4"` is not an int, `1` is not a bool); ints are accepted
where a float is expected. The validated, frozen models are what the code receives:
a stage passes its sections (`params.train`, `params.variant_train("v2")`) into the
library, so a setting goes from params.yaml to its use through this file alone.
No field has a default: params.yaml states every value once.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from typing_extensions import Self

from nsparse.faults import UserFault

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]  # a share or probability in [0, 1]
Threads = PositiveInt | None  # None: every CPU available


class ParamsError(UserFault, ValueError):
    """params.yaml breaks the schema; the message is one line naming the key path(s) and the fault(s)."""


class Section(BaseModel):
    """A closed mapping: unknown keys, wrong types and out-of-range values are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def merged(self, overrides: Mapping[str, Any]) -> Self:
        """A copy with `overrides` laid over it (nested mappings merge) and validated again.

        How a variant's `train:` overrides apply, and how scripts and tests vary one setting.
        """
        return self.model_validate(deep_merged(self.model_dump(), dict(overrides)))


# --- sources, opensearch, baselines -------------------------------------------------


class DebianPackage(Section):
    """One apt package prepare downloads: the exact version, and the SHA-256 of its .deb (null: not checked)."""

    version: str = Field(min_length=1)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None


class Sources(Section):
    shared_data: str
    korquad: str
    msmarco_ko: str
    msmarco_en: str
    muse_train: str
    muse_test: str
    apt_cache: str | None
    libreoffice_help: dict[Literal["libreoffice-help-ko", "libreoffice-help-en-us"], DebianPackage]

    @field_validator("libreoffice_help")
    @classmethod
    def _both_languages(cls, value: dict[str, DebianPackage]) -> dict[str, DebianPackage]:
        missing = {"libreoffice-help-ko", "libreoffice-help-en-us"} - value.keys()
        if missing:
            raise ValueError(f"needs a version for {sorted(missing)}")
        return value


class OpenSearchSection(Section):
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    heap: Annotated[str, Field(pattern=r"^\d+[kmgKMG]$")]
    port: Annotated[int, Field(ge=1, le=65535)]
    java_home: str
    fetch: Literal["auto", "maven", "https"]
    maven_repository: str
    distribution_url: str
    startup_timeout_s: PositiveInt
    nodes: PositiveInt


class Paths(Section):
    """Every folder the pipeline reads or writes; dvc.yaml interpolates the same values."""

    benchmarks: str
    train: str
    dictionaries: str
    parallel: str
    pretrain: str
    synth: str
    own: str
    synonyms: str
    mix: str
    base: str
    models: str
    live: str
    exports: str
    deploy: str
    reports: str


class Bm25Params(Section):
    k1: PositiveFloat
    b: Fraction


Split = Literal["dev", "test"]


def _not_dev(split: str) -> str:
    if split == "dev":
        raise ValueError("'dev' is model-selection data (train.validation); score systems on 'test'")
    return split


class Evaluation(Section):
    benchmarks: list[str] = Field(min_length=1)
    split: Split

    check_split = field_validator("split")(_not_dev)


class NoriTuning(Section):
    """nori's k1/b candidates (every pair is tried) and the benchmarks whose dev splits choose among them."""

    k1: list[PositiveFloat] = Field(min_length=1)
    b: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1)
    dev: list[str] = Field(min_length=1)


class Baselines(Section):
    systems: list[Literal["bm25_kiwi", "bm25_nori", "bm25_nori_tuned", "bm25_vocab"]] = Field(min_length=1)
    depth: PositiveInt
    nori_tuning: NoriTuning


# --- LLM, synthesize, verify, mix ---------------------------------------------------


class Llm(Section):
    backend: Literal["offline", "transformers", "openai", "llama_cpp"]
    model: str
    temperature: NonNegativeFloat
    top_p: Annotated[float, Field(gt=0, le=1)]
    top_k: PositiveInt | None
    max_new_tokens: PositiveInt
    batch_size: PositiveInt
    dtype: str
    device: str | None
    base_url: str
    api_key_env: str
    concurrency: PositiveInt
    timeout_s: PositiveFloat
    max_retries: NonNegativeInt
    structured_output: bool
    extra_body: dict[str, Any]
    n_ctx: PositiveInt
    n_gpu_layers: Annotated[int, Field(ge=-1)]
    n_threads: PositiveInt | None  # llama_cpp: CPU threads; None: every CPU the process may use
    completion: bool | None  # llama_cpp: prompt by plain few-shot completion; None: for packaged base models


class SynthPrompts(Section):
    queries: str
    paraphrases: str


class SynthFilters(Section):
    min_tokens: PositiveInt
    max_tokens: PositiveInt
    min_hangul_ratio: Fraction
    max_copy_ratio: Fraction
    max_jaccard: Fraction
    round_trip_top_k: PositiveInt
    negatives_per_query: NonNegativeInt

    @model_validator(mode="after")
    def _token_range(self) -> SynthFilters:
        if self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) exceeds max_tokens ({self.max_tokens})")
        return self


class Synthesize(Section):
    corpora: list[str]
    documents_per_corpus: PositiveInt
    queries_per_document: PositiveInt
    paraphrases_per_query: NonNegativeInt
    max_document_chars: PositiveInt
    offline_methods: list[Literal["ict", "keywords"]]
    keyword_terms: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)]
    prompts: SynthPrompts
    filters: SynthFilters
    own_corpus: Annotated[str, Field(min_length=1)] | None  # a JSONL of {_id, title, text} or a BEIR folder
    own_split: Annotated[str, Field(min_length=1)]
    own_heldout_share: Annotated[float, Field(gt=0, lt=1)]
    fewshot_shots: PositiveInt  # base models (llm.completion): training pairs shown as examples

    @model_validator(mode="after")
    def _some_documents(self) -> Synthesize:
        if not self.corpora and self.own_corpus is None:
            raise ValueError("corpora is empty and own_corpus is null: no documents to synthesize queries for")
        return self


class VerifyPrompts(Section):
    verify: str
    propose: str


class Verify(Section):
    min_count: PositiveInt
    max_document_ratio: Fraction
    candidates_per_term: PositiveInt
    rank_window: PositiveInt
    min_ochiai: Fraction
    threshold: Fraction
    llm_max_candidates: NonNegativeInt
    propose_from: list[str]
    propose_terms: NonNegativeInt
    prompts: VerifyPrompts
    fewshot_shots: PositiveInt  # base models (llm.completion): seed-split pairs shown as examples


class Mix(Section):
    max_synthetic: NonNegativeInt | None
    codeswitch_share: Fraction
    codeswitch_rate: Fraction


# --- deploy, benchmark --------------------------------------------------------------


class Deploy(Section):
    model_group: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]  # OpenSearch index names: lower case
    ingest: Literal["auto", "pipeline", "client"]
    fit_statistics: bool  # each index's models fitted to its corpus (IDF, mean length); false: as shipped
    deploy_timeout_s: PositiveFloat
    encode_batch_size: PositiveInt
    bulk_batch_size: PositiveInt
    own_index: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")] | None  # alias of your documents' index


class BenchmarkSection(Section):
    variant: str = Field(min_length=1)  # the variant hybrid, two-phase and the paired tests use
    max_queries: PositiveInt
    top_k: PositiveInt
    clients: PositiveInt
    throughput_queries: PositiveInt
    hybrid_pipeline: str
    hybrid_bm25_weights: Annotated[list[Annotated[float, Field(ge=0, lt=1)]], Field(min_length=1)]
    hybrid_dev: list[str] = Field(min_length=1)
    two_phase: bool
    two_phase_pipeline: str


# --- prepare, base, train, export, variants --------------------------------------------


class PrepareMsmarco(Section):
    heldout_queries: PositiveInt
    dev_queries: NonNegativeInt


class PrepareKorquad(Section):
    dev_questions: PositiveInt
    test_max_questions: PositiveInt
    min_corpus_docs: NonNegativeInt


class PrepareDistractors(Section):
    libreoffice: NonNegativeInt
    min_chars: NonNegativeInt


class PrepareCodeswitch(Section):
    dictionary_fraction: Annotated[float, Field(gt=0, lt=1)]
    rate: Fraction


class PreparePairs(Section):
    negatives: NonNegativeInt
    mining_depth: PositiveInt

    @model_validator(mode="after")
    def _depth_holds_negatives(self) -> PreparePairs:
        if self.mining_depth < self.negatives:
            raise ValueError(f"mining_depth ({self.mining_depth}) is smaller than negatives ({self.negatives})")
        return self


class Prepare(Section):
    msmarco: PrepareMsmarco
    korquad: PrepareKorquad
    distractors: PrepareDistractors
    codeswitch: PrepareCodeswitch
    pairs: PreparePairs


class Base(Section):
    pretrained: str | None
    threads: Threads
    vocab_size: PositiveInt
    min_frequency: PositiveInt
    vocabulary_corpora: list[str]  # names under paths.benchmarks (their documents; empty: the pre-training text alone)
    hidden_size: PositiveInt
    num_layers: PositiveInt
    num_heads: PositiveInt
    intermediate_size: PositiveInt
    max_length: PositiveInt
    block_length: PositiveInt
    batch_size: PositiveInt
    steps: PositiveInt
    learning_rate: PositiveFloat
    warmup_ratio: Fraction
    mask_probability: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _shapes(self) -> Base:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a multiple of num_heads ({self.num_heads})")
        if self.block_length > self.max_length:
            raise ValueError(f"block_length ({self.block_length}) exceeds max_length ({self.max_length})")
        return self


class Validation(Section):
    benchmarks: list[str] = Field(min_length=1)  # names under paths.benchmarks
    split: Split
    max_queries: PositiveInt | None  # None: every judged query of the split
    max_docs: PositiveInt | None  # None: the whole corpus

    @field_validator("split")
    @classmethod
    def _not_test(cls, split: str) -> str:
        if split == "test":
            raise ValueError("'test' is for the final benchmark only; select checkpoints on 'dev'")
        return split


class IbmModel1(Section):
    iterations: PositiveInt
    max_tokens: PositiveInt
    min_count: PositiveInt
    min_probability: Annotated[float, Field(gt=0, le=1)]
    max_targets: PositiveInt
    max_document_ratio: Annotated[float, Field(gt=0, le=1)]


class Translation(IbmModel1):
    min_reverse_probability: Annotated[float, Field(ge=0, le=1)]  # 0: no agreement of the directions asked


class TrainEncoder(Section):
    mode: Literal["inference-free", "bi-encoder"]
    lexical_floor: bool
    prune_ratio: Annotated[float, Field(ge=0, lt=1)]
    max_length: PositiveInt | None  # tokens per passage; None: whole documents (the floor has no window)
    passage_overlap: NonNegativeInt | None  # longer documents: None cuts them, a number splits them into passages
    window: PositiveInt | None

    @model_validator(mode="after")
    def _whole_documents_need_a_window(self) -> TrainEncoder:
        if self.max_length is None and not self.lexical_floor and self.window is None:
            raise ValueError("max_length null (whole documents) needs lexical_floor true or a transformer window")
        overlap, length = self.passage_overlap, self.max_length
        if overlap is not None and (length is None or overlap >= length - 2):
            raise ValueError("passage_overlap needs a max_length and must be below max_length - 2 (its special tokens)")
        return self

    query_max_length: PositiveInt


class Expansion(IbmModel1):
    scales: list[NonNegativeFloat] = Field(min_length=1)  # candidate weights of the table, chosen on the dev splits


class TrainLexical(Section):
    idf_corpora: list[str] = Field(min_length=1)  # names under paths.benchmarks
    translation: Translation
    expansion: Expansion


class TrainObjective(Section):
    train_idf: bool
    learned_part: bool
    temperature: PositiveFloat
    idf_prior_weight: NonNegativeFloat
    flops_weight: NonNegativeFloat
    query_flops_weight: NonNegativeFloat
    flops_warmup_steps: NonNegativeInt
    l0_threshold: NonNegativeFloat | None


class TrainOptimizer(Section):
    steps: PositiveInt
    batch_size: PositiveInt
    negatives_per_query: NonNegativeInt
    accumulation_steps: PositiveInt
    learning_rate: PositiveFloat
    idf_learning_rate: PositiveFloat
    weight_decay: NonNegativeFloat
    warmup_ratio: Fraction
    max_grad_norm: PositiveFloat


class TrainDistillation(Section):
    method: Literal["kl", "margin_mse"] | None
    weight: NonNegativeFloat
    temperature: PositiveFloat
    teacher: str = Field(min_length=1)  # "bm25", or a previous nsparse model's path or hub id


class TrainSchedule(Section):
    checkpoint_every: PositiveInt
    validate_every: PositiveInt
    log_every: PositiveInt


class Train(Section):
    threads: Threads
    encoder: TrainEncoder
    lexical: TrainLexical
    objective: TrainObjective
    optimizer: TrainOptimizer
    distillation: TrainDistillation
    schedule: TrainSchedule
    validation: Validation

    @model_validator(mode="after")
    def _something_trains(self) -> Train:
        if not self.objective.learned_part and not self.objective.train_idf:
            raise ValueError("objective: learned_part false and train_idf false: nothing would train (turn one on)")
        if self.objective.train_idf and self.encoder.mode != "inference-free":
            raise ValueError("train_idf needs encoder.mode inference-free (the IDF weighs inference-free queries)")
        return self


class ExportParity(Section):
    benchmark: str
    split: Split
    texts: PositiveInt
    atol: PositiveFloat
    top_k: PositiveInt


class ExportBench(Section):
    benchmark: str
    split: Split
    max_queries: PositiveInt
    max_docs: PositiveInt
    batch_size: PositiveInt


class Export(Section):
    threads: Threads
    opset: Annotated[int, Field(ge=7, le=19)]  # ML Commons 3.6.0 and 2.19.1 bundle ONNX Runtime 1.16.3: opset <= 19
    quantize: bool
    parity: ExportParity
    bench: ExportBench


class Variant(Section):
    pairs: str
    parallel: list[str] = Field(default_factory=list)  # parallel texts / dictionaries for the translation table
    train: dict[str, Any] = Field(default_factory=dict)  # overrides of `train:` keys, checked against Train below


# =====================================================================================


class Params(Section):
    """The whole of params.yaml."""

    seed: NonNegativeInt
    paths: Paths
    bm25: Bm25Params
    evaluation: Evaluation
    sources: Sources
    prepare: Prepare
    baselines: Baselines
    opensearch: OpenSearchSection
    base: Base
    llm: Llm
    synthesize: Synthesize
    verify: Verify
    train: Train
    export: Export
    mix: Mix
    variants: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")], Variant] = Field(min_length=1)
    deploy: Deploy
    benchmark: BenchmarkSection

    @model_validator(mode="after")
    def _benchmark_variant_exists(self) -> Params:
        if self.benchmark.variant not in self.variants:
            raise ValueError(
                f"benchmark.variant {self.benchmark.variant!r} is not one of variants {list(self.variants)}"
            )
        if unknown := set(self.benchmark.hybrid_dev) - set(self.evaluation.benchmarks):
            raise ValueError(f"benchmark.hybrid_dev {sorted(unknown)} are not in evaluation.benchmarks (deployed)")
        if unknown := set(self.baselines.nori_tuning.dev) - set(self.evaluation.benchmarks):
            raise ValueError(f"baselines.nori_tuning.dev {sorted(unknown)} are not in evaluation.benchmarks")
        return self

    def variant_train(self, variant: str) -> Train:
        """`train:` with the variant's own `train:` overrides laid over it: what `train <variant>` trains with."""
        return self.train.merged(self.variants[variant].train)

    def ineffective_settings(self) -> dict[str, str]:
        """Settings that change no vector any model writes under the options chosen, each with the option that
        silences it.

        Why: such a setting still reruns the stages that read it, and a user who changes it
        (`dvc exp run -S base.steps=1000`) expects a different model; `nsparse.config`
        warns when one of them differs from the value the last run recorded in dvc.lock.
        """
        silent: dict[str, str] = {}
        trains = [self.variant_train(name) for name in self.variants]
        if self.base.pretrained is not None:
            reason = "base.pretrained is set: the hub model is used as it is"
            silent.update(dict.fromkeys((f"base.{key}" for key in Base.model_fields if key != "pretrained"), reason))
        elif not any(train.objective.learned_part for train in trains):
            reason = "no variant trains the learned part (train.objective.learned_part): no masked-LM pre-training"
            silent.update(dict.fromkeys((f"base.{key}" for key in PRETRAINING_KEYS), reason))
        if not any(train.objective.learned_part for train in trains):
            reason = "train.objective.learned_part is false: only the IDF query weights learn"
            silent.update(dict.fromkeys(LEARNED_PART_KEYS, reason))
        if all(train.encoder.mode == "inference-free" for train in trains):
            silent["train.objective.query_flops_weight"] = "train.encoder.mode is inference-free: no query encoder"
        methods = {train.distillation.method for train in trains}
        if methods == {None}:
            reason = "train.distillation.method is null"
            silent.update(dict.fromkeys(("train.distillation.weight", "train.distillation.temperature"), reason))
            silent["train.distillation.teacher"] = reason
        elif "kl" not in methods:
            silent["train.distillation.temperature"] = "only the kl distillation method divides by it"
        return silent


# Base-model settings read only by masked-LM pre-training (the vocabulary needs the others).
PRETRAINING_KEYS = (
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
    "block_length",
    "batch_size",
    "steps",
    "learning_rate",
    "warmup_ratio",
    "mask_probability",
)
# Train settings read only when the transformer's learned part trains.
LEARNED_PART_KEYS = (
    "train.encoder.window",
    "train.objective.flops_weight",
    "train.objective.flops_warmup_steps",
    "train.objective.l0_threshold",
    "train.optimizer.learning_rate",
    "train.optimizer.weight_decay",
)


def validate_params(params: dict[str, Any], source: str = "params.yaml") -> Params:
    """Check `params` against the schema (variants' `train` overrides included); raise one-line ParamsError."""
    try:
        model = Params.model_validate(params)
    except ValidationError as err:
        raise ParamsError(f"{source}: {describe(err, Params)}") from None
    for name, variant in model.variants.items():
        try:
            Train.model_validate(deep_merged(params["train"], variant.train))
        except ValidationError as err:
            raise ParamsError(f"{source}: {describe(err, Train, prefix=('variants', name, 'train'))}") from None
    return model


def deep_merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it, mapping by mapping (nested mappings merge, other values replace).

    How a variant's `train:` overrides apply to `train:`, and how CI's reduced params apply to params.yaml.
    """
    merged = dict(base)
    for key, value in overrides.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merged(merged[key], value) if nested else value
    return merged


def describe(err: ValidationError, root: type[BaseModel], prefix: tuple[str | int, ...] = ()) -> str:
    """Every fault of `err` as `key.path: fault`, joined on one line; an unknown key gets its nearest valid name."""
    errors = err.errors(include_url=False)
    suggested: set[tuple[str | int, ...]] = set()
    faults = []
    for error in errors:
        if error["type"] == "extra_forbidden":
            fault, suggestion = _unknown_key(error, root)
            if suggestion is not None:
                suggested.add((*error["loc"][:-1], suggestion))
            faults.append((error["loc"], fault))
    for error in errors:
        if error["type"] == "extra_forbidden" or tuple(error["loc"]) in suggested:
            continue  # a key missing because it was misspelt is already reported with its typo
        faults.append((error["loc"], _fault(error)))
    return "; ".join(f"{_dotted(prefix + tuple(loc))}: {fault}" for loc, fault in faults)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return (
        ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc).replace(".[", "[")
        or "(top level)"
    )


def _fault(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "missing key"
    message = error["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:] if message else message
    if error["type"] in ("model_type", "dict_type"):
        return f"expected a mapping, got {error['input']!r}"
    if error["type"] == "value_error":  # our own checks: the message names the values involved
        return message
    return f"{message}, got {error['input']!r}"


def _unknown_key(error: ErrorDetails, root: type[BaseModel]) -> tuple[str, str | None]:
    valid = _fields_at(root, error["loc"][:-1])
    matches = difflib.get_close_matches(str(error["loc"][-1]), valid, n=1, cutoff=0.75)
    if matches:
        return f"unknown key; did you mean '{matches[0]}'?", matches[0]
    return f"unknown key (valid keys: {', '.join(valid)})", None


def _fields_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Names of the fields of the model reached by following `loc` from `root` (through dicts and optionals)."""
    current: Any = root
    skip_dict_key = False
    for part in loc:
        if skip_dict_key:
            skip_dict_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return []
        current = _inner_model(current.model_fields[part].annotation)
        if isinstance(current, tuple):  # dict[str, Model]: the next part is a key of that dict
            current, skip_dict_key = current[1], True
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _inner_model(annotation: Any) -> Any:
    """The model class inside `annotation`: `Model`, from `Model | None`, or ("dict", Model) from `dict[str, Model]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return ("dict", args[-1])
    for arg in args:
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None
