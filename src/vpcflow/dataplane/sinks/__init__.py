"""Record sinks (nouns): each takes rendered record batches to one kind of destination."""
