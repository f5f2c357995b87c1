"""Multi-turn contexts built from exact token ids, never by re-tokenizing history.

The context of turn k+1 is the context of turn k, plus the action ids the sampler produced, plus the
tokenized *delta* the chat template adds for the next observation (end of the assistant message, the
user block, the generation prompt). Re-rendering and re-tokenizing the whole conversation would give
different ids whenever a BPE merge crosses a message boundary or the sampled ids are not the canonical
tokenization of their text; the learner would then train on tokens the sampler never produced.

The delta is derived once from the tokenizer's own chat template by rendering a probe conversation
with placeholder messages and cutting the text after the assistant placeholder, so any template works
as long as it renders messages in order.

A window of the last k turns (`context_ids` with `window_turns=k`) restarts the conversation at the
first kept turn: only that turn's observation is rendered again, from its text, as the opening user
message it now is; every later id (actions, observation deltas) is reused as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

from agentrl.tools.rendering import template_supports_tools, tools_fallback_text
from agentrl.types import Turn

_USER = "\x00AGENTRL_USER\x00"
_REPLY = "\x00AGENTRL_REPLY\x00"
_NEXT = "\x00AGENTRL_NEXT\x00"


@dataclass(frozen=True)
class ObservationTemplate:
    """The text the chat template puts around an observation that follows an assistant reply:
    `after_reply` closes the reply and opens the user turn, `before_generation` closes it and opens
    the next assistant turn."""

    after_reply: str
    before_generation: str


class ChatContext:
    """Builds the first prompt and the per-turn observation deltas for one tokenizer.

    `tools` (OpenAI function schemas, an environment's `EnvSpec.tools`) go to the chat template's
    `tools=` argument when the template renders them, else into the system prompt as the documented
    text fallback (`agentrl.tools.rendering`); either way every render, the probe included, sees them.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        system_prompt: str = "",
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "the tokenizer has no chat template; set one (tokenizer.chat_template = ...) or use a "
                "checkpoint whose tokenizer_config.json defines it"
            )
        self.tokenizer = tokenizer
        self.tools = [dict(schema) for schema in tools] if tools and template_supports_tools(tokenizer) else None
        if tools and self.tools is None:
            system_prompt = "\n\n".join(part for part in (system_prompt, tools_fallback_text(tools)) if part)
        self.system_prompt = system_prompt
        self.template = self._probe_observation_template()
        self.stop_token_ids = self._stop_token_ids()

    def _messages(self, *turns: tuple[str, str]) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + [{"role": role, "content": content} for role, content in turns]

    def _render(self, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=self.tools, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def _probe_observation_template(self) -> ObservationTemplate:
        rendered = self._render(
            self._messages(("user", _USER), ("assistant", _REPLY), ("user", _NEXT)),
            add_generation_prompt=True,
        )
        if _REPLY not in rendered or _NEXT not in rendered:
            raise ValueError("the chat template drops message contents; agentrl cannot derive turn deltas")
        tail = rendered[rendered.index(_REPLY) + len(_REPLY) :]
        after_reply, before_generation = tail.split(_NEXT, 1)
        return ObservationTemplate(after_reply=after_reply, before_generation=before_generation)

    def _stop_token_ids(self) -> frozenset[int]:
        """Tokens that end a reply: the eos token, and the special token that closes every message
        in the template (e.g. `<|im_end|>` in ChatML, `<|eot_id|>` in Llama 3): one that starts both
        the text after a reply and the text after a user message."""
        stops = {self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()
        after_reply = self.encode(self.template.after_reply)
        after_user = self.encode(self.template.before_generation)
        closes_every_message = bool(after_reply) and bool(after_user) and after_reply[0] == after_user[0]
        if closes_every_message and after_reply[0] in self.tokenizer.all_special_ids:
            stops.add(after_reply[0])
        return frozenset(stops)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def initial_ids(self, observation: str) -> list[int]:
        """System prompt, first observation and the generation prompt."""
        return self.encode(self._render(self._messages(("user", observation)), add_generation_prompt=True))

    def observation_delta_ids(self, action_ids: list[int], observation: str) -> list[int]:
        """Ids to append after `action_ids` so the context reads as if the template had rendered
        the conversation with `observation` as the next user message.

        When the sampler already produced the token that closes a reply (an eos or `<|im_end|>`),
        that token is part of the action and is not added again.
        """
        closing = self.template.after_reply
        if action_ids and action_ids[-1] in self.stop_token_ids:
            stop_text = self.tokenizer.decode([action_ids[-1]])
            closing = closing.removeprefix(stop_text)
        return self.encode(closing + observation + self.template.before_generation)

    def context_ids(
        self, turns: Sequence[Turn], observation: str, observation_ids: list[int], window_turns: int | None
    ) -> list[int]:
        """The ids the decision after `turns` (the episode so far) is made from, given the current
        `observation` and its ids as the episode records them (`initial_ids` first, deltas after).

        `window_turns=None` is the full history: every turn's observation and action ids, then the
        current observation's. With `window_turns=k`, a conversation that starts at the k-th last turn:
        the system prompt and that turn's observation as the first prompt, the kept turns' exact ids,
        then the current observation (k = 0: system prompt and current observation only). While the
        episode is no longer than k turns the two are the same ids.
        """
        first = 0 if window_turns is None else max(0, len(turns) - window_turns)
        kept = [(turn.observation_text, turn.observation_ids, turn.action_ids) for turn in turns[first:]]
        ids: list[int] = []
        for position, (text, shown_ids, action_ids) in enumerate([*kept, (observation, observation_ids, [])]):
            restarts = position == 0 and first > 0  # the window dropped turns: this message opens it
            ids += (self.initial_ids(text) if restarts else shown_ids) + action_ids
        return ids

    def decode_action(self, action_ids: list[int]) -> str:
        return self.tokenizer.decode(action_ids, skip_special_tokens=True).strip()
