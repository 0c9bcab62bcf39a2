"""nsparse.train"""
