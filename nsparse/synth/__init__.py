"""nsparse.synth"""
