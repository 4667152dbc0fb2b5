"""The LLM planner: llama.cpp on the CPU, decoding under the plan grammar, streaming.

One model load per process; consecutive requests share the prompt's static prefix in
the KV cache (llama-cpp-python reuses the longest common token prefix)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.planner.base import PlanRequest
from services.planner.decoding import PlanDecoder
from services.planner.grammar import plan_grammar
from services.planner.grounding import Grounding, Inventory, ground
from services.planner.prompt import PROMPT_STYLES, TEMPLATES, Prompt, build_prompt, build_short_prompt, decide_prompt
from shared import paths
from shared.plan import Call, PlanSyntaxError, RepeatedCalls, parse_line
from shared.runtime import adapter_merge, models

log = logging.getLogger(__name__)

STOP = ["<|im_end|>", "<|endoftext|>", "<END_OF_PLAN>", "###"]
DECODERS = ("greedy", "llama")


@dataclass
class PlannerSettings:
    model: str = "qwen-0.5b"  # a packaged model name or a GGUF path
    template: str = "chatml"  # chatml (Qwen, SmolLM2) or alpaca (TinyAgent's GGUFs)
    grammar: bool = True
    prefix_reuse: bool = True
    n_ctx: int = 4096
    n_threads: int = field(default_factory=lambda: os.cpu_count() or 2)
    max_tokens: int = 400
    max_calls: int = 10
    lora_path: str | None = None  # None: the adapter shipped for the model, if any; "" for none
    # "full": rules, tools and examples in the prompt; "short": none of them, for an adapter
    # trained without (services.planner.prompt.build_short_prompt). None: the style the
    # adapter's train.json records ("full" without an adapter).
    prompt_style: str | None = None
    # With retrieval, what the prompt holds (the grammar allows only the retrieved tools in
    # every layout): "subset": the retrieved tools and examples (shortest prompt, but new
    # tokens for every request); "all": all 16 tools, then the retrieved examples; "grammar":
    # the static prompt (all tools, the default examples), whose KV state is cached, so only
    # the request is evaluated.
    tool_layout: str = "subset"
    # "greedy": our loop (services.planner.decoding: the grammar checked lazily);
    # "llama": llama-cpp-python's own, the baseline it is measured against. Both write the
    # greedy plan under the grammar. `draft_tokens` > 0 adds prompt-lookup drafts to ours.
    decoder: str = "greedy"
    draft_tokens: int = 0
    # Ours only: the tokens the grammar forces evaluated in one batch (llguidance), not one
    # step each; off: llama.cpp's grammar sampler checks the model's choices (the baseline).
    jump_forward: bool = True
    # Kernels whose logits do not depend on the batch's size (shared.runtime.models.load_llama),
    # so that jump-forward's batches write the plan step-by-step decoding writes.
    batch_invariant: bool = True
    # Grounding (services.planner.grounding): times, priority and the Mac's names resolved by
    # code; the grammar then allows those arguments only from what was resolved. `inventory`:
    # the Mac's calendars, lists, folders, notes and contacts (None: unknown, those stay free).
    grounding: bool = True
    inventory: Inventory | None = None
    # A call that repeats an earlier one (same tool, same arguments) is dropped and later
    # references renumbered (shared.plan.RepeatedCalls); off: the model's text as written.
    merge_repeats: bool = True
    # The adapter merged into the base's weights once (shared.runtime.adapter_merge, cached):
    # no adapter matmuls per token; off: llama.cpp applies it at run time.
    merge_adapter: bool = True

    @classmethod
    def from_args(cls, args: Any) -> PlannerSettings:
        s = cls()
        if getattr(args, "model", None):
            s.model = args.model
        if getattr(args, "template", None):
            s.template = args.template
        if getattr(args, "no_grammar", False):
            s.grammar = False
        if getattr(args, "tool_layout", None):
            s.tool_layout = args.tool_layout
        if getattr(args, "lora", None) is not None:
            s.lora_path = args.lora
        if getattr(args, "prompt_style", None):
            s.prompt_style = args.prompt_style
        if getattr(args, "decoder", None):
            s.decoder = args.decoder
        if getattr(args, "no_jump_forward", False):
            s.jump_forward = False
        if getattr(args, "no_grounding", False):
            s.grounding = False
        if getattr(args, "keep_repeats", False):
            s.merge_repeats = False
        if getattr(args, "no_merge", False):
            s.merge_adapter = False
        # The CLI plans for the simulated Mac: its world's names are the ones to offer.
        s.inventory = Inventory.from_world(json.loads(Path(getattr(args, "world", None) or paths.default_world())
                                                      .read_text(encoding="utf-8")))
        return s


@dataclass
class PlanStats:
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0  # after prefix reuse
    generated_tokens: int = 0
    seconds_to_first_token: float = 0.0
    seconds_total: float = 0.0
    truncated: bool = False  # the token budget ran out; the plan was closed with join()
    draft_tokens: int = 0  # proposed by prompt lookup (PlannerSettings.draft_tokens)
    draft_accepted: int = 0
    forced_tokens: int = 0  # of generated_tokens, forced by the grammar (jump-forward)
    forced_refused: int = 0  # forced tokens the model would have cut otherwise (dropped, its own taken)
    # Where the time went (our decoder): grounding, prompt evaluation, the model's steps, the grammar.
    grounding_s: float = 0.0
    prompt_s: float = 0.0
    decode_s: float = 0.0
    grammar_s: float = 0.0
    repeats_dropped: int = 0  # calls that repeated an earlier one (PlannerSettings.merge_repeats)


def _without_repeats(pieces: Iterator[str], repeats: RepeatedCalls) -> Iterator[str]:
    """`pieces` (whole lines, a call's newline maybe apart) with repeated calls dropped
    and the rest renumbered; a line left as written when nothing in it changes."""
    after_dropped = False
    for piece in pieces:
        body = piece.rstrip("\n")
        newline = piece[len(body):]
        if not body.strip():
            if not after_dropped:  # the newline of a dropped call goes with it
                yield piece
            after_dropped = False
            continue
        after_dropped = False
        try:
            item = parse_line(body)
        except PlanSyntaxError:
            item = None  # the consumer's parser says what is wrong with it
        if not isinstance(item, Call):
            yield piece
            continue
        kept = repeats.keep(item)
        if kept is None:
            after_dropped = not newline
            continue
        lead = body[: len(body) - len(body.lstrip())]
        yield piece if kept == item else lead + kept.render() + newline


def _call_number(line: str) -> int | None:
    """The call number of a complete call line, None for anything else."""
    try:
        item = parse_line(line)
    except PlanSyntaxError:
        return None
    return item.idx if isinstance(item, Call) else None


class LlmPlanner:
    name = "llm"

    def __init__(self, settings: PlannerSettings | None = None) -> None:
        from llama_cpp import LlamaGrammar

        models.quiet_llama()
        self.settings = s = settings or PlannerSettings()
        if s.template not in TEMPLATES:
            raise ValueError(f"unknown prompt template {s.template!r}; choose one of {TEMPLATES}")
        if s.decoder not in DECODERS:
            raise ValueError(f"unknown decoder {s.decoder!r}; choose one of {DECODERS}")
        self.model_path = models.resolve(s.model)
        if s.lora_path is None:
            shipped = models.shipped_adapter(s.model)
            s.lora_path = str(shipped) if shipped else ""
        if s.prompt_style is None:
            s.prompt_style = models.adapter_prompt_style(Path(s.lora_path)) if s.lora_path else "full"
        if s.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {s.prompt_style!r}; choose one of {PROMPT_STYLES}")
        # Only where the build's own batch kernels allow it (scripts/setup.sh); on stock
        # llamafile the other batch kernels are kept, since turning them off would buy nothing.
        self.batch_invariant = s.batch_invariant and models.batch_invariant_build()
        lora = s.lora_path or None
        if lora and s.merge_adapter:
            try:
                self.model_path, lora = adapter_merge.merged_model(self.model_path, Path(lora)), None
            except (adapter_merge.MergeError, ImportError, OSError, ValueError) as e:
                # The same adapter, only slower (a near-tie may fall otherwise): say so and go on.
                log.warning("the adapter could not be merged into %s (%s); applying it at run time",
                            self.model_path.name, e)
        self._llm = models.load_llama(self.model_path, batch_invariant=self.batch_invariant, n_ctx=s.n_ctx,
                                      n_threads=s.n_threads, n_batch=512, lora_path=lora, verbose=False, seed=0)
        self._grammar_cls = LlamaGrammar
        self._decoder = PlanDecoder(self._llm, draft_max=s.draft_tokens, jump_forward=s.jump_forward)
        self._grammars: dict[tuple[str, ...], Any] = {}
        self._decide_grammar: Any = None
        # One llama.cpp context: a plan still finishing in its thread and a decide() or
        # summarize() from another must not touch it at once.
        self._busy = threading.RLock()
        self._abort = threading.Event()
        self.last = PlanStats()
        self._static: list[int] = []  # the static prompt prefix's tokens (see warm_prefix)
        self.prefix_state = self.warm_prefix() if s.prefix_reuse else "off"

    def warm_prefix(self, tools: tuple[str, ...] = ()) -> str:
        """Put the static prompt prefix in the KV cache: from a session file saved by an
        earlier process when there is one (a cold start then costs no prompt evaluation),
        else by evaluating it and saving the file. Returns "loaded" or "evaluated"."""
        import ctypes
        import hashlib

        import llama_cpp

        prefix = self._prompt(PlanRequest("", "2000-01-01 00:00:00", tools)).render(self.settings.template)
        prefix = prefix[: prefix.rindex("<|im_start|>user") if self.settings.template == "chatml"
                        else prefix.rindex("### Input:")]
        tokens = self._llm.tokenize(prefix.encode(), add_bos=False, special=True)
        if not tools:
            self._static = list(tokens)
        adapter = models.sha256_id(Path(self.settings.lora_path)) if self.settings.lora_path else ""
        key = hashlib.sha256(f"{models.sha256_id(self.model_path)}|{adapter}|{self.settings.n_ctx}|{prefix}".encode())
        path = models.CACHE_DIR / "prefix" / f"{key.hexdigest()[:24]}.session"
        ctx = self._llm._ctx.ctx
        if path.exists():
            out = (llama_cpp.llama_token * len(tokens))()
            n_out = ctypes.c_size_t(0)
            if llama_cpp.llama_state_load_file(ctx, str(path).encode(), out, len(tokens), ctypes.byref(n_out)) \
                    and list(out[: n_out.value]) == list(tokens):
                self._llm.input_ids[: len(tokens)] = tokens
                self._llm.n_tokens = len(tokens)
                return "loaded"
        self._llm.reset()
        self._llm.eval(tokens)
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = (llama_cpp.llama_token * len(tokens))(*tokens)
        tmp = path.with_suffix(".tmp")
        if llama_cpp.llama_state_save_file(ctx, str(tmp).encode(), arr, len(tokens)):
            tmp.replace(path)
        return "evaluated"

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many of `tokens` the KV cache already holds. A prompt that starts with the
        static prefix, while the cache holds another layout's prompt (a typed request with
        retrieved examples came between two voice requests), gets the static prefix back
        from its session file first: a file read instead of thousands of tokens."""
        cached = self._llm._input_ids[: self._llm.n_tokens]
        common = 0
        for a, b in zip(cached, tokens, strict=False):
            if a != b:
                break
            common += 1
        static = self._static
        if static and common < len(static) and tokens[: len(static)] == static:
            self.warm_prefix()
            common = len(static)
        return common

    def grammar_for(self, tools: tuple[str, ...]) -> Any:
        if tools not in self._grammars:
            self._grammars[tools] = self._grammar_cls.from_string(
                plan_grammar(tools, self.settings.max_calls), verbose=False)
        return self._grammars[tools]

    def ground(self, request: PlanRequest) -> Grounding | None:
        if not self.settings.grounding or not request.query:
            return None
        return ground(request.query, request.now, self.settings.inventory)

    def _prompt(self, request: PlanRequest, grounding: Grounding | None = None) -> Prompt:
        style = self.settings.prompt_style
        if style in ("short", "grounded"):  # the layout only narrows the grammar
            found = grounding.prompt_block() if grounding and style == "grounded" else ""
            return build_short_prompt(request.query, request.now, request.context, found)
        layout = request.layout or self.settings.tool_layout
        tools = request.tools if layout == "subset" else ()
        examples = request.examples if layout != "grammar" and request.examples else None
        return build_prompt(request.query, request.now, tools, examples, request.context)

    def prompt_text(self, request: PlanRequest, grounding: Grounding | None = None) -> str:
        return self._prompt(request, grounding).render(self.settings.template)

    def stream(self, request: PlanRequest) -> Iterator[str]:
        with self._busy:
            self._abort.clear()
            yield from self._stream(request)

    def prefill(self, request: PlanRequest) -> int:
        """Evaluate the prompt up to the end of the request's words, writing nothing: the
        user's words so far, while they speak, so that the plan for the final words starts
        with only the last few tokens to evaluate. Returns the tokens evaluated; 0 when the
        model is busy (a prefill never waits: it is only worth doing while the model idles)."""
        if not self.settings.prefix_reuse or not self._busy.acquire(blocking=False):
            return 0
        try:
            # Only a prompt with grounding's block needs grounding while the user speaks.
            grounding = self.ground(request) if self.settings.prompt_style == "grounded" else None
            text = self.prompt_text(request, grounding)
            marker = f"Request: {request.query}"
            text = text[: text.rindex(marker) + len(marker)].rstrip()
            tokens = self._llm.tokenize(text.encode(), add_bos=False, special=True)[:-1]  # the last may still merge
            common = self._cached_prefix(tokens)
            if common == len(tokens):
                return 0
            self._llm.n_tokens = common
            self._llm.eval(tokens[common:])  # drops the KV cells past `common` first
            return len(tokens) - common
        finally:
            self._busy.release()

    def abort(self) -> None:
        """Stop the plan being written (a speculative plan the user's words overtook): the
        stream ends at the next token, and the context is free for the next request."""
        self._abort.set()

    def _stream(self, request: PlanRequest) -> Iterator[str]:
        if not self.settings.merge_repeats:
            yield from self._lines(request)
            return
        repeats = RepeatedCalls()
        yield from _without_repeats(self._lines(request), repeats)
        self.last.repeats_dropped = repeats.dropped

    def _lines(self, request: PlanRequest) -> Iterator[str]:
        """The plan as the model writes it, in whole lines (a call as soon as it closes)."""
        s = self.settings
        t_ground = time.perf_counter()
        grounding = self.ground(request)
        grounding_s = time.perf_counter() - t_ground
        text = self.prompt_text(request, grounding)
        tokens = self._llm.tokenize(text.encode(), add_bos=False, special=True)
        if not s.prefix_reuse:
            self._llm.reset()
        common = self._cached_prefix(tokens) if s.prefix_reuse else 0
        stats = PlanStats(prompt_tokens=len(tokens), prompt_tokens_evaluated=len(tokens) - common,
                          grounding_s=grounding_s)
        t0 = time.perf_counter()
        pieces = self._pieces(tokens, common, request, grounding)
        # Hand on whole lines only (a call as soon as its closing parenthesis is there), so
        # that if the token budget runs out mid-line, the partial line is dropped and the
        # plan closed with join(): what consumers receive is always a valid plan.
        line = ""
        last_idx = 0
        finish = None
        for piece, reason in pieces:
            finish = reason or finish
            if self._abort.is_set():
                stats.truncated = True
                break
            if not piece:
                continue
            if stats.generated_tokens == 0:
                stats.seconds_to_first_token = time.perf_counter() - t0
            stats.generated_tokens += 1
            line += piece
            while "\n" in line:
                head, line = line.split("\n", 1)
                last_idx = _call_number(head) or last_idx
                yield head + "\n"
            if line.endswith(")") and _call_number(line):
                last_idx = _call_number(line) or last_idx
                yield line
                line = ""  # the newline that follows arrives as an empty line
        if line.strip() and (finish != "length" or _call_number(line)):
            yield line
        elif finish == "length":
            stats.truncated = True
            yield f"\n{last_idx + 1}. join()"
        stats.seconds_total = time.perf_counter() - t0
        if s.decoder == "greedy":
            stats.generated_tokens = self._decoder.last.generated
            d = self._decoder.last
            stats.draft_tokens, stats.draft_accepted, stats.forced_tokens = d.drafted, d.accepted, d.forced
            stats.forced_refused = d.refused
            stats.prompt_s, stats.decode_s, stats.grammar_s = d.prompt_s, d.decode_s, d.grammar_s
        self.last = stats

    def _pieces(self, tokens: list[int], cached: int, request: PlanRequest,
                grounding: Grounding | None = None) -> Iterator[tuple[str, str | None]]:
        """The plan's text as it is generated, each piece with the finish reason so far
        ("length" when the token budget ran out)."""
        s = self.settings
        tools = tuple(request.tools)
        offers = grounding.offers() if grounding else None
        if s.decoder == "greedy":
            grammar = plan_grammar(tools, s.max_calls, offers) if s.grammar else None
            for piece in self._decoder.generate(tokens, cached, grammar=grammar, max_tokens=s.max_tokens,
                                                stop=STOP, abort=self._abort):
                yield piece, None
            yield "", self._decoder.last.finish
            return
        grammar = (self._grammar_cls.from_string(plan_grammar(tools, s.max_calls, offers), verbose=False)
                   if offers else self.grammar_for(tools)) if s.grammar else None
        out = self._llm.create_completion(tokens, max_tokens=s.max_tokens, temperature=0.0, top_k=1, stream=True,
                                          stop=STOP, grammar=grammar)
        for chunk in out:
            choice = chunk["choices"][0]
            yield choice["text"], choice.get("finish_reason")

    def decide(self, query: str, observations: str) -> str:
        """The joiner's model step: "finish" or "replan", decoded under a two-word grammar."""
        if self._decide_grammar is None:
            self._decide_grammar = self._grammar_cls.from_string('root ::= "Finish" | "Replan"', verbose=False)
        prompt = decide_prompt(query, observations).render(self.settings.template)
        with self._busy:
            out = self._llm.create_completion(prompt, max_tokens=4, temperature=0.0, top_k=1, stop=STOP,
                                              grammar=self._decide_grammar)
        return "replan" if out["choices"][0]["text"].strip().lower().startswith("replan") else "finish"

    def summarize(self, text: str, max_tokens: int = 80) -> str:
        """A short summary of a document, for summarize_pdf on a machine with this model."""
        prompt = ("<|im_start|>user\nSummarize this document in one or two sentences.\n\n"
                  f"{text[:6000]}<|im_end|>\n<|im_start|>assistant\n")
        with self._busy:
            out = self._llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stop=STOP)
        return out["choices"][0]["text"].strip()
