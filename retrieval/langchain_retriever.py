"""A LangChain retriever over the Searcher, so the index plugs into LangChain chains and tools.

Usage in an LCEL chain::

    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    retriever = GyoseiRetriever(searcher=searcher, access=Access(clearance=1, groups=["all"]), k=5)

    def format_docs(docs):
        return "\\n\\n".join(f"[{i}] {d.metadata['citation']}\\n{d.page_content}" for i, d in enumerate(docs, 1))

    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm
    chain.invoke("行政手続法の目的は何か")
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from retrieval.citation import describe_source
from retrieval.types import Access, Filters, Hit, SearchMode

__all__ = ["GyoseiRetriever", "hit_to_document"]


class GyoseiRetriever(BaseRetriever):
    """Hybrid (or dense/sparse) search on behalf of one user, as LangChain ``Document``s.

    ``access`` has no default: every search is made for a known clearance and set of groups, and
    the index applies it inside the query. Each document's metadata is the chunk's payload (minus
    its text) plus ``rank`` (1 = best) and ``citation`` (the source named for the user). No raw
    score: a sparse score carries IDF counted over every chunk, hidden ones included.

    >>> retriever = GyoseiRetriever(searcher=searcher, access=Access(clearance=2, groups=["soumu"]))
    >>> docs = retriever.invoke("電子帳簿保存の要件は")  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Any  # retrieval.search.Searcher (Any: a fake with the same ``search`` works in tests)
    access: Access
    filters: Filters | None = None
    mode: SearchMode = SearchMode.HYBRID
    k: int = Field(default=5, ge=1)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.searcher.search(query, self.access, self.filters, self.mode, self.k)
        return [hit_to_document(hit, rank) for rank, hit in enumerate(hits, 1)]


def hit_to_document(hit: Hit, rank: int = 1) -> Document:
    """A search hit as a LangChain ``Document``: text as content, payload + rank + citation as metadata."""
    metadata = {key: value for key, value in hit.payload.items() if key != "text"}
    metadata["rank"] = rank
    metadata["citation"] = describe_source(hit.payload)
    return Document(page_content=hit.text, metadata=metadata, id=hit.chunk_id)
