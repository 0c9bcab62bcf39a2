"""nsparse.llm"""
