from nsparse.korean import analyze, analyze_batch


def test_analyze_keeps_content_morphemes_lowercased_and_drops_particles():
    assert analyze("학교에서 Python을 설치하는 방법") == ["학교", "python", "설치", "방법"]


def test_analyze_batch_equals_analyze_per_text():
    texts = ["학교에서 공부하는 사람", "아름다운 세상 3가지", "OpenSearch 색인"]
    assert list(analyze_batch(texts)) == [analyze(text) for text in texts]
