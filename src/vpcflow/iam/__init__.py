"""IAM: policy documents, principals, a compact evaluator (explicit deny > allow > implicit deny)."""
