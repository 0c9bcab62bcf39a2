"""nsparse.synonyms"""
