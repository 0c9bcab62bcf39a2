"""A Korean-aware WordPiece vocabulary whose pieces are the terms people search with.

Korean glues particles and endings to nouns (학교 / 학교에 / 학교에서), so a subword
vocabulary learned by frequency alone keeps whole inflected words (`학교에서`) that never
match the bare noun of a query, and cuts rarer names into syllables (서울 → `서` `##울`).
Here every Hangul word of the vocabulary text is cut at the morpheme boundaries kiwipiepy
finds (학교에서 → `학교` `##에서`) and the pieces are counted; every noun and proper noun
kiwi finds (NNG, NNP) is also counted as a bare word wherever it stands, so that a name is
one piece on its own as in a query (서울, 대한민국). The most frequent of these become the
vocabulary, together with every syllable (both forms) so that any Korean word can still be
spelled. Latin-script words (lower-cased) enter whole, the most frequent first, over a
small ordinary WordPiece vocabulary that spells the rest. The result is a plain WordPiece
`tokenizer.json` applied greedily to raw text (서울은 → `서울` `##은`): all ML Commons
runs, with no analyser at query time.

Pieces that are mostly particles, endings, suffixes or punctuation (kiwi tags outside
`nsparse.korean.CONTENT_TAG_PREFIXES`) are listed as *stop pieces*, the way nori's stop
tags drop them: the encoder gives them no weight.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from nsparse.io import read_json, write_json
from nsparse.korean import CONTENT_TAG_PREFIXES, HANGUL, kiwi

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CONTINUATION = "##"
STOP_PIECES_FILE = "stop_pieces.json"
LATIN_SHARE = 0.25  # share of the vocabulary given to Latin-script words (English, code, numbers)
LATIN_SPELLING = 1000  # merges of the ordinary WordPiece that spells Latin words not in the vocabulary whole
NOUN_TAGS = ("NNG", "NNP")  # kiwi's common and proper nouns: counted whole wherever they stand
STOP_SHARE = 0.95  # a piece is a stop piece when kiwi tags it a function morpheme this often


def _pipeline() -> Tokenizer:
    """Normaliser and pre-tokeniser shared by vocabulary learning and the final tokenizer."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


class PieceCounter:
    """Counts morpheme-boundary pieces of Hangul words and how often each one is a function morpheme."""

    def __init__(self) -> None:
        self.pieces: Counter[str] = Counter()
        self.function: Counter[str] = Counter()
        self.latin_words: Counter[str] = Counter()
        self.nouns: Counter[str] = Counter()

    def add(self, text: str, morphemes: Iterable) -> None:
        """Count the pieces of one normalised text given kiwi's tokens of that same text."""
        starts: dict[int, str] = {}
        boundaries: set[int] = set()
        for token in morphemes:
            starts.setdefault(token.start, token.tag)
            boundaries.update((token.start, token.start + token.len))
        for word, (begin, end) in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(text):
            if not HANGUL.search(word):
                self.latin_words[word] += 1
                continue
            cuts = [begin, *sorted(cut for cut in boundaries if begin < cut < end), end]
            for position, (left, right) in enumerate(zip(cuts, cuts[1:])):
                piece = text[left:right] if position == 0 else CONTINUATION + text[left:right]
                self.pieces[piece] += 1
                tag = starts.get(left, "")
                if not tag.startswith(CONTENT_TAG_PREFIXES):
                    self.function[piece] += 1
                if tag in NOUN_TAGS:
                    self.nouns[text[left:right]] += 1

    def korean_candidates(self) -> Counter[str]:
        """Korean pieces with their counts, each noun also as a bare word counted wherever it occurred."""
        candidates = Counter(self.pieces)
        for noun, count in self.nouns.items():
            candidates[noun] = max(candidates[noun], count)
        return candidates

    def stop_pieces(self, min_share: float = STOP_SHARE) -> list[str]:
        """Pieces that are function morphemes in more than `min_share` of their occurrences."""
        return sorted(piece for piece, count in self.pieces.items() if self.function[piece] > min_share * count)


def count_pieces(lines: Sequence[str], normalizer: normalizers.Normalizer) -> PieceCounter:
    """Normalise every line, analyse it with kiwi (batched) and count its pieces."""
    normalised = [normalizer.normalize_str(line) for line in lines]
    counter = PieceCounter()
    analysed = kiwi().tokenize(normalised)
    for text, morphemes in tqdm(
        zip(normalised, analysed), total=len(normalised), desc="vocabulary: kiwi pieces", unit="line", mininterval=10
    ):
        counter.add(text, morphemes)
    return counter


def latin_vocabulary(words: Counter[str], size: int, min_frequency: int) -> list[str]:
    """Latin-script pieces: a small ordinary WordPiece that spells any word, then the most frequent whole words."""
    alphabet = {char for word in words for char in word}  # each in both forms, before any merge is learned
    spelling = 2 * len(alphabet) + min(size // 4, LATIN_SPELLING)
    vocabulary = set(latin_spelling(words, spelling, min_frequency))
    for word, count in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        if len(vocabulary) >= size or count < min_frequency:
            break
        vocabulary.add(word)
    return sorted(vocabulary)


def latin_spelling(words: Counter[str], size: int, min_frequency: int) -> list[str]:
    """An ordinary WordPiece vocabulary learned on the Latin-script words alone (alphabet included)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=size, min_frequency=min_frequency, special_tokens=[], show_progress=False
    )
    tokenizer.train_from_iterator(
        (word for word, count in words.items() for _ in range(min(count, 50))), trainer=trainer
    )
    return list(tokenizer.get_vocab())


def train_tokenizer(
    lines: Sequence[str], vocab_size: int, min_frequency: int
) -> tuple[PreTrainedTokenizerFast, list[str]]:
    """The morpheme-aware WordPiece tokenizer of `lines` and its stop pieces."""
    return tokenizer_from_counts(count_pieces(lines, _pipeline().normalizer), vocab_size, min_frequency)


def tokenizer_from_counts(
    counter: PieceCounter, vocab_size: int, min_frequency: int
) -> tuple[PreTrainedTokenizerFast, list[str]]:
    """The WordPiece tokenizer of counted pieces, and its stop pieces (one count serves several sizes).

    Vocabulary = special tokens + Latin pieces (`LATIN_SHARE` of `vocab_size`: spelling
    pieces and whole words) + every Hangul syllable in both forms + the most frequent Korean
    morpheme pieces and bare nouns up to `vocab_size`, renumbered in sorted order so that
    the same text always gives the same ids.
    """
    pipeline = _pipeline()
    vocabulary = set(latin_vocabulary(counter.latin_words, int(vocab_size * LATIN_SHARE), min_frequency))
    for syllable in {char for piece in counter.pieces for char in piece.removeprefix(CONTINUATION)}:
        vocabulary.update((syllable, CONTINUATION + syllable))
    budget = vocab_size - len(SPECIAL_TOKENS)
    for piece, count in sorted(counter.korean_candidates().items(), key=lambda item: (-item[1], item[0])):
        if len(vocabulary) >= budget or count < min_frequency:
            break
        vocabulary.add(piece)
    vocabulary -= set(SPECIAL_TOKENS)
    ordered = SPECIAL_TOKENS + sorted(vocabulary)
    tokenizer = pipeline
    tokenizer.model = models.WordPiece(
        {token: index for index, token in enumerate(ordered)}, unk_token="[UNK]", max_input_chars_per_word=100
    )
    cls_id, sep_id = ordered.index("[CLS]"), ordered.index("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    stops = [piece for piece in counter.stop_pieces() if piece in vocabulary]
    return fast, stops


def save_stop_pieces(folder: str | os.PathLike[str], stops: Sequence[str]) -> None:
    write_json(Path(folder) / STOP_PIECES_FILE, sorted(stops))


def load_stop_pieces(folder: str | os.PathLike[str]) -> list[str]:
    """The stop pieces saved beside a tokenizer; none for a tokenizer without the file (e.g. a hub model)."""
    path = Path(folder) / STOP_PIECES_FILE
    return list(read_json(path)) if path.exists() else []


# --- how whole the vocabulary's terms are (issue 25; scripts/vocabulary_sizes.py and the tests) -------------

ENGLISH_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves s t""".split()
)
LATIN_WORD = re.compile(r"[a-z]+")


def frequent_nouns(texts: Sequence[str], count: int, min_syllables: int = 2) -> list[str]:
    """The `count` most frequent nouns and proper nouns (kiwi NNG/NNP) of at least `min_syllables` Hangul syllables."""
    nouns: Counter[str] = Counter()
    for tokens in kiwi().tokenize(list(texts)):
        nouns.update(
            token.form
            for token in tokens
            if token.tag in NOUN_TAGS and len(token.form) >= min_syllables and all(HANGUL.match(c) for c in token.form)
        )
    return [noun for noun, _ in sorted(nouns.items(), key=lambda item: (-item[1], item[0]))[:count]]


def frequent_english_words(texts: Sequence[str], count: int) -> list[str]:
    """The `count` most frequent lower-cased English words of `texts`, stop words aside."""
    words = Counter(
        word for text in texts for word in LATIN_WORD.findall(text.lower()) if word not in ENGLISH_STOP_WORDS
    )
    return [word for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0]))[:count]]


def split_words(tokenizer: PreTrainedTokenizerBase, words: Sequence[str]) -> dict[str, list[str]]:
    """The words of `words` that the tokenizer cuts into more than one piece, with their pieces."""
    pieces = {word: tokenizer.tokenize(word) for word in words}
    return {word: cut for word, cut in pieces.items() if len(cut) != 1}
