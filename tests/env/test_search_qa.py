"""search_qa episodes end to end: an oracle wins, wrong answers and malformed replies get the
documented rewards and observations, searches are recorded, user data loads or fails clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentrl.environments.search_qa import SearchQA
from agentrl.environments.search_qa.scoring import exact_match, f1_score, normalize_answer

from agentrl.env.protocol import Env, EnvSpec
from tests.fixtures.episodes import play


@pytest.fixture(scope="module")
def tags_spec() -> SearchQA:
    return SearchQA()


@pytest.fixture(scope="module")
def tool_spec() -> SearchQA:
    return SearchQA(action_format="tool_call")


def tool_call(name: str, **arguments: str) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def oracle_actions(spec: SearchQA, split: str, index: int) -> list[str]:
    """Search each gold passage by its title, then answer the gold answer."""
    task = spec.task(split, index)
    if spec.tools is None:
        searches = [
            f"<think>look up {t}</think><search>{t}</search>" for t in task.payload["supporting_titles"]
        ]
        return [*searches, f"<answer>{task.payload['answers'][0]}</answer>"]
    searches = [tool_call("search", query=t) for t in task.payload["supporting_titles"]]
    return [*searches, tool_call("answer", text=task.payload["answers"][0])]


def test_spec_satisfies_the_protocols_and_splits_are_fixed(tags_spec: SearchQA) -> None:
    assert isinstance(tags_spec, EnvSpec) and isinstance(tags_spec.make_env(), Env)
    assert (tags_spec.num_tasks("train"), tags_spec.num_tasks("eval")) == (150, 50)
    train_ids = {tags_spec.task("train", i).task_id for i in range(150)}
    eval_ids = {tags_spec.task("eval", i).task_id for i in range(50)}
    assert not train_ids & eval_ids
    assert tags_spec.task("eval", 3) == SearchQA().task("eval", 3)
    assert tags_spec.tools is None and tags_spec.vocabulary() is None


@pytest.mark.parametrize("spec_name", ["tags_spec", "tool_spec"])
def test_the_oracle_reaches_reward_one_on_every_eval_question(
    spec_name: str, request: pytest.FixtureRequest
) -> None:
    spec: SearchQA = request.getfixturevalue(spec_name)
    for index in range(spec.num_tasks("eval") or 0):
        results = play(spec, spec.task("eval", index), oracle_actions(spec, "eval", index))
        final = results[-1]
        assert final.done and final.reward == 1.0 and final.success is True
        assert final.metrics["em"] == 1.0 and final.metrics["f1"] == 1.0
        searches = [call for result in results for call in result.tool_calls]
        assert [call.name for call in searches] == ["search"] * len(
            spec.task("eval", index).payload["supporting_titles"]
        )
        assert all(call.ok for call in searches)
        assert not any(result.failure for result in results)


def test_gold_titles_are_retrieved_and_the_state_key_is_the_retrieved_set(tags_spec: SearchQA) -> None:
    task = tags_spec.task("train", 0)
    first, *searched = play(tags_spec, task, [f"<search>{t}</search>" for t in task.payload["supporting_titles"]])
    assert first.state_key == f"{task.task_id}:"
    for title, result in zip(task.payload["supporting_titles"], searched):
        assert result.observation.startswith("<information>Doc 1 (Title: ")
        assert f"(Title: {title})" in result.observation
        assert result.tool_calls[0].arguments == {"query": title}
    retrieved = searched[-1].state_key.split(":", 1)[1].split(",")
    assert retrieved == sorted(retrieved) and len(retrieved) >= 3


def test_a_wrong_answer_scores_zero_with_partial_f1(tags_spec: SearchQA) -> None:
    index = next(i for i in range(150) if len(tags_spec.task("train", i).payload["answers"][0].split()) > 1)
    gold = tags_spec.task("train", index).payload["answers"][0]
    final = play(tags_spec, tags_spec.task("train", index), [f"<answer>{gold.split()[0]} nothing</answer>"])[-1]
    assert final.done and final.reward == 0.0 and final.success is False and final.metrics["em"] == 0.0
    assert 0.0 < final.metrics["f1"] < 1.0
    assert final.observation == f"wrong: the answer was {gold}"


@pytest.mark.parametrize(
    ("spec_name", "reply", "message"),
    [
        (
            "tags_spec",
            "I think it is Paris",
            "no <search>query</search> or <answer>text</answer> in the reply",
        ),
        ("tags_spec", "<search>  </search>", "empty <search></search>"),
        ("tool_spec", "Paris", "no tool call found; call search or answer (hermes format)"),
        ("tool_spec", "<tool_call>{query: Paris}</tool_call>", "invalid JSON"),
        (
            "tool_spec",
            tool_call("lookup", query="x"),
            "unknown tool 'lookup'; available tools: answer, search",
        ),
        (
            "tool_spec",
            '<tool_call>{"name": "search", "arguments": {"query": 3}}</tool_call>',
            "must be string",
        ),
    ],
)
def test_a_malformed_reply_is_a_format_failure_and_the_episode_goes_on(
    spec_name: str, reply: str, message: str, request: pytest.FixtureRequest
) -> None:
    spec: SearchQA = request.getfixturevalue(spec_name)
    start, failed, *rest = play(spec, spec.task("train", 0), [reply, *oracle_actions(spec, "train", 0)])
    assert message in failed.observation
    assert failed.reward == pytest.approx(-0.1) and not failed.done
    assert (
        failed.failure == "format" and failed.state_key == start.state_key and failed.tool_calls == ()
    )
    assert rest[-1].done and rest[-1].success is True  # the agent recovered


def test_searches_past_the_limit_fail_as_tool_calls_not_format_errors() -> None:
    spec = SearchQA(max_searches=1)
    _, first, second = play(
        spec, spec.task("train", 0), ["<search>Ed Wood</search>", "<search>Scott Derrickson</search>"]
    )
    assert first.tool_calls[0].ok
    call = second.tool_calls[0]
    assert not call.ok and "search limit reached (1 searches)" in (call.error or "")
    assert second.failure is None and "search limit reached" in second.observation


def test_tool_call_mode_declares_search_and_answer_schemas(tool_spec: SearchQA) -> None:
    assert [s["function"]["name"] for s in tool_spec.tools or []] == ["search", "answer"]
    assert tool_spec.tools[0]["function"]["parameters"]["required"] == ["query"]  # type: ignore[index]
    assert "<tool_call>" in tool_spec.system_prompt


def test_squad_normalisation_em_and_f1() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert exact_match("an Apple", ["apple", "pear"]) and not exact_match("apples", ["apple"])
    assert f1_score("New York City", ["new york"]) == pytest.approx(0.8)
    assert f1_score("Boston", ["new york"]) == 0.0


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_user_data_loads_and_trains_on_its_own_corpus(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "q.jsonl",
        [{"question": f"Who wrote book {i}?", "answers": [f"author {i}", f"writer {i}"]} for i in range(8)],
    )
    corpus = write_jsonl(
        tmp_path / "c.jsonl",
        [{"title": f"Book {i}", "text": f"Book {i} was written by author {i}."} for i in range(8)],
    )
    spec = SearchQA(questions_path=str(questions), corpus_path=str(corpus))
    assert (spec.num_tasks("train"), spec.num_tasks("eval")) == (6, 2)
    task = spec.task("train", 0)
    number = task.payload["answers"][0].split()[-1]
    _, searched, final = play(spec, task, [f"<search>book {number}</search>", f"<answer>Writer {number}</answer>"])
    assert f"(Title: Book {number})" in searched.observation.split("\n")[0]
    assert final.success is True


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question": "q?"}], "needs 'answers'"),
        ([{"question": "", "answers": ["a"]}], "'question' must be a non-empty string"),
        ([{"question": "q?", "answers": "a"}], "'answers' must be a non-empty list of strings"),
        ([], "holds no questions"),
        (
            [{"id": 1, "question": "q?", "answer": "a"}, {"id": 1, "question": "r?", "answer": "b"}],
            "repeats ids",
        ),
    ],
)
def test_bad_question_files_are_refused_with_the_line(
    tmp_path: Path, rows: list[object], message: str
) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"text": "x"}])
    with pytest.raises(ValueError, match=message):
        SearchQA(questions_path=str(write_jsonl(tmp_path / "q.jsonl", rows)), corpus_path=str(corpus))


def test_missing_files_and_bad_parameters_are_refused(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "q.jsonl", [{"question": "q?", "answer": "a"}, {"question": "r?", "answer": "b"}]
    )
    with pytest.raises(FileNotFoundError, match="corpus file .*nope.jsonl does not exist"):
        SearchQA(questions_path=str(questions), corpus_path=str(tmp_path / "nope.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: invalid JSON"):
        SearchQA(questions_path=str(questions), corpus_path=str(tmp_path / "bad.jsonl"))
    with pytest.raises(ValueError, match="go together"):
        SearchQA(questions_path=str(questions))
    with pytest.raises(ValueError, match="action_format must be one of tags, tool_call"):
        SearchQA(action_format="xml")
