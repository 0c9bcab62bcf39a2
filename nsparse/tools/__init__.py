"""What the `nsparse` console script runs besides the stages: no DVC stage imports from here.

`inputs` (a model or BEIR folder a user names), `evaluate` (`nsparse evaluate`), `inspect`
(`nsparse encode|explain|search`), `scale` (`nsparse bench scale`). What the stages call lives in
`nsparse.pipeline`.
"""
