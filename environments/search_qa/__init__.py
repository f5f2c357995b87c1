"""Search QA (Search-R1 style) over HotpotQA or your own data: entry point
`search_qa = "agentrl.environments.search_qa:SearchQA"`."""

from agentrl.environments.search_qa.search_qa import SearchQA, SearchQAEnv

__all__ = ["SearchQA", "SearchQAEnv"]
