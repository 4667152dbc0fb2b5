"""Greedy decoding for plans: the grammar checked lazily, optional drafts from the prompt.

Same output as llama-cpp-python's own loop (greedy under the grammar), less work:
- The grammar is checked on the model's own choice only. llama.cpp's grammar sampler
  filters all ~150k candidates at every step (a quarter of a step on a 2-core CPU);
  greedy decoding only needs to know whether the best token is allowed, and the full
  filter runs only when it is refused. Measured: 28 tokens/s instead of 20.
- Prompt-lookup drafts (`draft_max` > 0, off by default). A plan line copies much of its
  text from the prompt (tool names, the request's names and phrases, dates from the date
  table), so the tokens that followed the last few generated tokens where they last occur
  in the prompt are proposed and checked in one batch with the next token. On a 2-core
  CPU that does not pay: a batch of 8 costs ~4.6 single steps and ~40% of draft tokens
  are accepted (bench/planner_bench.py). Where a batch costs about one step (a GPU) it
  would.

- Jump-forward (`jump_forward`, on by default): where the grammar allows exactly one
  continuation (`", "` between arguments, `join()`, the rest of a grounded date after its
  first digits), llguidance computes the forced tokens (its tokenization of the forced
  text), and they are evaluated in one batch with the chosen token instead of one decode
  step each. The batch's logits of every position check them: where the model's own
  choice is another token (the same text cut otherwise), that choice is taken and the rest
  of the batch dropped, so the plan is the one step-by-step decoding writes, as long as
  a batch's logits equal single steps' (shared.runtime.models.batch_invariant_build: on
  x86-64 llamafile's sgemm patched by scripts/patch_llama.py; see the README). The forced
  text is handed on before its batch is evaluated (it is the grammar's, however the model
  cuts it), so a call's closing newline reaches the scheduler a batch sooner. The plan's
  opening, forced before the model has chosen anything (`1. `), is evaluated in the
  prompt's own batch: one evaluation fewer before the first call. Once the grammar can
  only end (after `join()`), decoding stops without asking the model.

The decoder writes into a `llama_cpp.Llama`'s context and keeps its token record
(`input_ids`, `n_tokens`) true, so prefix reuse across requests keeps working."""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

GRAMMARS_KEPT = 8  # compiled grammars kept for reuse (the static ones come back often)


@dataclass
class DecodeStats:
    generated: int = 0
    batches: int = 0  # model evaluations after the prompt
    drafted: int = 0  # draft tokens proposed
    accepted: int = 0  # draft tokens the model agreed with
    forced: int = 0  # tokens the grammar forced (jump-forward), evaluated with the token before them
    refused: int = 0  # forced tokens dropped because the model would have cut the text otherwise
    opening: int = 0  # forced tokens evaluated in the prompt's batch and kept ("1. ")
    finish: str = ""  # stop | length | abort
    # Where the time went (seconds): the prompt's evaluation, the model's steps after it, the
    # grammar (compiling, checking, masks, forced tokens).
    prompt_s: float = 0.0
    decode_s: float = 0.0
    grammar_s: float = 0.0


class GrammarCheck:
    """One llama.cpp grammar sampler, used as a filter only: is this token allowed next,
    and the best allowed token of a row of logits."""

    def __init__(self, llm: Any, grammar_text: str, root: str = "root") -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, grammar_text.encode(),
                                                              root.encode())
        if not self._sampler:
            raise ValueError("llama.cpp could not parse the plan grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_arr = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        n_vocab = llm.n_vocab()
        self._all = np.zeros(n_vocab, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)],
                                                     align=True))
        self._ids = np.arange(n_vocab, dtype=np.intc)
        self._all_arr = llama_cpp.llama_token_data_array(
            data=self._all.ctypes.data_as(llama_cpp.llama_token_data_p), size=n_vocab, selected=-1, sorted=False)

    def reset(self) -> None:
        self._lib.llama_sampler_reset(self._sampler)

    def allows(self, token: int) -> bool:
        self._one[0].id, self._one[0].logit, self._one[0].p = token, 0.0, 0.0
        self._one_arr.size, self._one_arr.selected, self._one_arr.sorted = 1, -1, False
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._one_arr))
        return bool(np.isfinite(self._one[0].logit))

    def best(self, logits: np.ndarray) -> int:
        """The highest-scoring token the grammar allows."""
        self._all["id"] = self._ids
        self._all["logit"] = logits
        self._all["p"] = 0.0
        self._all_arr.size, self._all_arr.selected, self._all_arr.sorted = len(self._ids), -1, False
        self._lib.llama_sampler_apply(self._sampler, ctypes.byref(self._all_arr))
        return int(self._all["id"][int(np.argmax(self._all["logit"][: self._all_arr.size]))])

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._sampler, token)

    def forced(self) -> list[int]:
        return []  # llama.cpp's sampler cannot say; see GuidanceCheck

    def rollback(self, n: int) -> None:
        raise NotImplementedError("llama.cpp's grammar sampler cannot go back; it forces nothing")

    def finished(self) -> bool:
        return False

    def __del__(self) -> None:
        if getattr(self, "_sampler", None):
            self._lib.llama_sampler_free(self._sampler)
            self._sampler = None


FORCED_PREFIX_BYTES = 16  # the longest beginning of a forced text `GuidanceCheck.best` weighs as one token


class GuidanceCheck:
    """The plan grammar in llguidance (the same GBNF, converted to its Lark): is a token
    allowed, the best allowed token, the tokens the grammar forces next, and whether it
    can only end."""

    def __init__(self, tokenizer: Any, grammar_text: str, tokenize: Callable[[bytes], list[int]]) -> None:
        """`tokenizer`: llguidance's view of the vocabulary; `tokenize`: the model's own."""
        import llguidance

        self._tokenize = tokenize
        self._matcher = llguidance.LLMatcher(tokenizer, llguidance.grammar_from("gbnf", grammar_text), log_level=0)
        if self._matcher.is_error():
            raise ValueError(f"llguidance could not compile the plan grammar: {self._matcher.get_error()}")

    def _check(self) -> None:
        if self._matcher.is_error():
            raise RuntimeError(f"plan grammar: {self._matcher.get_error()}")

    def reset(self) -> None:
        self._matcher.reset()

    def allows(self, token: int) -> bool:
        return self._matcher.validate_tokens([token]) == 1

    def best(self, logits: np.ndarray) -> int:
        bits = np.unpackbits(np.frombuffer(self._matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
        allowed = bits[: len(logits)].astype(bool)
        best = int(np.argmax(np.where(allowed, logits, -np.inf)))
        # The mask leaves out the tokens that cut text the grammar forces: where a string at
        # its length limit can only end, it offers `")` but not `"`, which `allows` and
        # llama.cpp's grammar accept (and step by step takes, when the model rates it higher).
        # Those are the single tokens that spell a beginning of the forced text.
        forced = bytes(self._matcher.compute_ff_bytes())
        for end in range(1, min(len(forced), FORCED_PREFIX_BYTES) + 1):
            ids = self._tokenize(forced[:end])
            if len(ids) == 1 and logits[ids[0]] > logits[best] and self.allows(ids[0]):
                best = ids[0]
        return best

    def accept(self, token: int) -> None:
        self._matcher.consume_token(token)
        self._check()

    def forced(self) -> list[int]:
        return list(self._matcher.compute_ff_tokens())

    def rollback(self, n: int) -> None:
        """Undo the last `n` tokens accepted."""
        self._matcher.rollback(n)
        self._check()

    def finished(self) -> bool:
        return self._matcher.is_stopped()


def prompt_lookup(context: np.ndarray, ngram_max: int, ngram_min: int, draft_max: int) -> list[int]:
    """The tokens that followed the context's last n tokens at their latest earlier
    occurrence, for the longest n in [ngram_min, ngram_max] that occurs; [] if none."""
    size = len(context)
    for n in range(min(ngram_max, size - 1), ngram_min - 1, -1):
        tail = context[size - n:]
        # Windows that start before the tail itself and leave at least one token after.
        windows = np.lib.stride_tricks.sliding_window_view(context[: size - 1], n)
        hits = np.flatnonzero((windows == tail).all(axis=1))
        if len(hits):
            start = int(hits[-1]) + n
            return context[start: start + draft_max].tolist()
    return []


class PlanDecoder:
    """Greedy decoding on a llama-cpp-python `Llama`, streaming text pieces."""

    def __init__(self, llm: Any, *, draft_max: int = 0, ngram_max: int = 4, ngram_min: int = 3,
                 jump_forward: bool = True) -> None:
        import llama_cpp

        self.llm = llm
        self.draft_max = draft_max
        self.jump_forward = jump_forward
        self._tokenizer: Any = None  # llguidance's view of the vocabulary (~1 s to build: at load, not mid-plan)
        if jump_forward:
            from llguidance.llamacpp import lltokenizer_from_vocab

            self._tokenizer = lltokenizer_from_vocab(llm._model.vocab)
        self.ngram_max = ngram_max
        self.ngram_min = ngram_min
        self._vocab = llm._model.vocab
        self._is_eog = llama_cpp.llama_vocab_is_eog
        # Grounded grammars differ from request to request: keep the few most recent (each
        # holds a vocabulary-sized array), not one per request for the life of the stage.
        self._grammars: OrderedDict[str, GrammarCheck | GuidanceCheck] = OrderedDict()
        self._unverified = 0
        self.last = DecodeStats()

    def _grammar(self, text: str) -> GrammarCheck | GuidanceCheck:
        if text not in self._grammars:
            if self.jump_forward:
                self._grammars[text] = GuidanceCheck(
                    self._tokenizer, text, lambda b: self.llm.tokenize(b, add_bos=False, special=False))
            else:
                self._grammars[text] = GrammarCheck(self.llm, text)
            while len(self._grammars) > GRAMMARS_KEPT:
                self._grammars.popitem(last=False)
        self._grammars.move_to_end(text)
        check = self._grammars[text]
        check.reset()
        return check

    def _evaluate(self, tokens: list[int], *, rows: int = 1) -> np.ndarray:
        """Append `tokens` to the context; the logits of its last `rows` positions (the
        output layer runs for those only: a long prompt asks for one or a few)."""
        llm = self.llm
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=False)
        for i in range(len(tokens) - rows, len(tokens)):
            llm._batch.batch.logits[i] = True
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past: n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(rows, llm.n_vocab()))

    def _drop_unverified(self) -> None:
        """Take the draft tokens the model did not agree with out of the context (also when
        the consumer stops reading mid-draft), so that it holds only the text written."""
        if self._unverified:
            self.llm.n_tokens -= self._unverified
            self.llm._ctx.kv_cache_seq_rm(-1, self.llm.n_tokens, -1)
            self._unverified = 0

    def generate(self, prompt: list[int], cached: int, *, grammar: str | None, max_tokens: int,
                 stop: list[str], abort: threading.Event | None = None) -> Iterator[str]:
        """Text pieces of the greedy continuation of `prompt`, of which the context already
        holds the first `cached` tokens. Ends at an end-of-generation token, a stop string
        (not included), `max_tokens`, or `abort`; `last.finish` says which."""
        try:
            yield from self._generate(prompt, cached, grammar, max_tokens, stop, abort)
        finally:
            self._drop_unverified()

    def _generate(self, prompt: list[int], cached: int, grammar: str | None, max_tokens: int, stop: list[str],
                  abort: threading.Event | None) -> Iterator[str]:
        llm = self.llm
        stats = self.last = DecodeStats()
        clock = time.perf_counter
        t = clock()
        check = self._grammar(grammar) if grammar else None
        # The opening the grammar forces before the model chooses anything ("1. "): evaluated
        # with the prompt, its rows checked like any forced tokens' (check_forced below), and
        # kept within the same room as they are (the token budget, the context).
        opening: list[int] = []
        if check is not None:
            opening = check.forced()[: max(0, min(max_tokens - 1, llm.n_ctx() - len(prompt) - 2))]
            for f in opening:
                check.accept(f)
        stats.grammar_s += clock() - t
        t = clock()
        cached = min(cached, len(prompt) - 1)  # the last prompt token is evaluated for its logits
        llm.n_tokens = cached
        if len(prompt) - cached + len(opening) > llm.n_batch:
            llm.eval(prompt[cached:-1])
        rows = self._evaluate([*prompt[llm.n_tokens:], *opening], rows=len(opening) + 1)
        stats.prompt_s = clock() - t
        context = list(prompt)
        text = TextStream(stop)

        def choose(logits: np.ndarray) -> int:
            token = int(np.argmax(logits))
            if check is not None:
                t = clock()
                if not check.allows(token):
                    token = check.best(logits)
                if not self._is_eog(self._vocab, token):
                    check.accept(token)
                stats.grammar_s += clock() - t
            return token

        owed = b""  # forced text handed on before its tokens were evaluated (see below)

        def emit(token: int) -> str:
            nonlocal owed
            stats.generated += 1
            context.append(token)
            data = llm.detokenize([token], special=False)
            said = min(len(owed), len(data))
            if data[:said] != owed[:said]:
                raise RuntimeError(f"decoding: token {token} spells {data!r} where the grammar forced {owed!r}")
            owed = owed[said:]
            return text.add(data[said:])

        def ended() -> str:
            return "stop" if text.stopped else "length" if stats.generated >= max_tokens else ""

        def evaluate(tokens: list[int], rows: int) -> np.ndarray:
            t = clock()
            out = self._evaluate(tokens, rows=rows)
            stats.decode_s += clock() - t
            stats.batches += 1
            return out

        def check_forced(rows: np.ndarray, forced: list[int]) -> tuple[int, int]:
            """How many of the forced tokens the model agrees with, evaluated in the batch
            whose rows are `rows` (row i: the model's choice after the first i of them), and
            the token to go on with: the model's own where it would have cut the forced text
            otherwise (the rest of the batch then dropped), else -1 (choose from row `kept`)."""
            assert check is not None
            for i, f in enumerate(forced):
                if int(np.argmax(rows[i])) == f:
                    continue  # the model's first choice: the grammar allows it, nothing to check
                t = clock()
                check.rollback(len(forced) - i)  # the grammar back to where forced[i] was chosen
                stats.grammar_s += clock() - t
                choice = choose(rows[i])
                if choice == f:
                    t = clock()
                    for g in forced[i + 1:]:
                        check.accept(g)
                    stats.grammar_s += clock() - t
                    continue
                llm.n_tokens -= len(forced) - i
                llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
                stats.refused += len(forced) - i
                return i, choice
            return len(forced), -1

        token = -1
        if opening:
            kept, token = check_forced(rows, opening)
            stats.forced += kept
            stats.opening = kept
            for f in opening[:kept]:
                piece = emit(f)
                if piece:
                    yield piece
            stats.finish = ended()
            rows = rows[kept:]
        if token < 0 and not stats.finish:
            token = choose(rows[0])
        while not stats.finish:
            if self._is_eog(self._vocab, token):
                stats.finish = "stop"
                break
            piece = emit(token)
            if piece:
                yield piece
            stats.finish = ended()
            if stats.finish:
                break
            if abort is not None and abort.is_set():
                stats.finish = "abort"
                break
            forced: list[int] = []
            if check is not None:
                t = clock()
                if check.finished():  # only the end is left: no need to ask the model for it
                    stats.grammar_s += clock() - t
                    stats.finish = "stop"
                    break
                room = min(max_tokens - stats.generated - 1, llm.n_ctx() - llm.n_tokens - 2)
                forced = check.forced()[: max(0, room)]
                for f in forced:
                    check.accept(f)
                stats.grammar_s += clock() - t
            if forced:
                # The forced text is the grammar's, however the model cuts it into tokens, so it
                # is handed on before the batch that checks it is evaluated: a call's closing
                # newline reaches the scheduler a batch sooner. What it spells is owed: the
                # tokens that spell it later (forced or the model's own) are not written again.
                ahead = b"".join(llm.detokenize([f], special=False) for f in forced)[len(owed):]
                owed += ahead
                piece = text.add(ahead)
                if piece:
                    yield piece
                # The chosen token and the forced ones after it in one batch. The model checks
                # each forced token (row i is its choice after the first i): the grammar forces
                # the text, not how it is cut into tokens, and where the model would have cut
                # it otherwise its own choice is taken and the rest of the batch dropped.
                rows = evaluate([token, *forced], rows=len(forced) + 1)
                kept, token = check_forced(rows, forced)
                stats.forced += kept
                for f in forced[:kept]:
                    piece = emit(f)
                    if piece:
                        yield piece
                stats.finish = ended()
                if stats.finish:
                    break
                if token < 0:
                    token = choose(rows[kept])
                continue
            room = min(self.draft_max, max_tokens - stats.generated - 1, llm.n_ctx() - llm.n_tokens - 2)
            draft = prompt_lookup(np.asarray(context, dtype=np.intc), self.ngram_max, self.ngram_min,
                                  room) if room > 0 else []
            rows = evaluate([token, *draft], rows=len(draft) + 1)
            self._unverified = len(draft)
            stats.drafted += len(draft)
            agreed = 0
            token = choose(rows[0])
            while agreed < len(draft) and token == draft[agreed] and not self._is_eog(self._vocab, token):
                # The draft token is already in the context: hand it on and read the next row.
                agreed += 1
                self._unverified -= 1
                piece = emit(token)
                if piece:
                    yield piece
                if ended():
                    break
                token = choose(rows[agreed])
            stats.accepted += agreed
            self._drop_unverified()
            stats.finish = ended()
            if stats.finish:
                break
        tail = text.flush()
        if tail:
            yield tail


class TextStream:
    """Token bytes to text pieces, holding back what may be the start of a stop string
    (or of a UTF-8 character) until it is known not to be."""

    def __init__(self, stop: list[str]) -> None:
        self.stop = [s for s in stop if s]
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""
        self.stopped = False

    def add(self, data: bytes) -> str:
        self._held += self._utf8.decode(data)
        for s in self.stop:
            at = self._held.find(s)
            if at >= 0:
                self._held, self.stopped = self._held[:at], True
        if self.stopped:
            return self.flush()
        keep = max((n for s in self.stop for n in range(1, len(s)) if self._held.endswith(s[:n])), default=0)
        out, self._held = self._held[: len(self._held) - keep], self._held[len(self._held) - keep:]
        return out

    def flush(self) -> str:
        out, self._held = self._held, ""
        return out
