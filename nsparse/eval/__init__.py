"""nsparse.eval"""
