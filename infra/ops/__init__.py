"""Operations: the data-plane work against AWS and PostgreSQL (content, databases, local target)."""
