"""nsparse.pipeline"""
