"""Work bigger than one call: bulk embeddings and the Batch API."""
