"""Classical baselines trained on the same split, so every deep model has a number to beat."""

from __future__ import annotations

import time

import numpy as np


def pixel_logistic_regression(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    size: int = 16,
    max_examples: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """scikit-learn logistic regression on standardised, downsampled RGB pixels."""
    # Deferred: scikit-learn (about a second to import) loads only when a baseline is fitted.
    import cv2
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def features(images: np.ndarray) -> np.ndarray:
        return np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).reshape(-1) for image in images])

    if len(train_images) > max_examples:
        keep = np.random.default_rng(seed).choice(len(train_images), max_examples, replace=False)
        train_images, train_labels = train_images[keep], train_labels[keep]
    start = time.perf_counter()
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1))
    classifier.fit(features(train_images).astype(np.float32), train_labels)
    accuracy = float((classifier.predict(features(test_images).astype(np.float32)) == test_labels).mean())
    return {
        "name": f"logistic regression on {size}x{size} pixels (scikit-learn)",
        "accuracy": accuracy,
        "train_examples": int(len(train_images)),
        "seconds": round(time.perf_counter() - start, 2),
    }


def tfidf_logistic_regression(
    train_texts,
    train_labels: np.ndarray,
    validation_texts,
    validation_labels: np.ndarray,
    test_texts,
    test_labels: np.ndarray,
    character: bool,
    max_examples: int = 100_000,
    seed: int = 0,
) -> dict[str, float]:
    """TF-IDF + logistic regression, the regularisation strength chosen on the validation split.

    Character 1–3-grams for text without spaces between words (Chinese, Japanese), else word
    uni- and bigrams; sublinear term frequencies in both cases.
    """
    # Deferred: scikit-learn (about a second to import) loads only when a baseline is fitted.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_labels = list(train_texts), np.asarray(train_labels)
    if len(train_texts) > max_examples:
        keep = np.random.default_rng(seed).choice(len(train_texts), max_examples, replace=False)
        train_texts, train_labels = [train_texts[i] for i in keep], train_labels[keep]
    start = time.perf_counter()
    if character:
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    else:
        vectorizer = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    train_features = vectorizer.fit_transform(train_texts)
    validation_features = vectorizer.transform(list(validation_texts))
    best = None
    for strength in (0.3, 1.0, 3.0, 10.0, 30.0):
        classifier = LogisticRegression(C=strength, max_iter=2000)
        classifier.fit(train_features, train_labels)
        score = float((classifier.predict(validation_features) == np.asarray(validation_labels)).mean())
        if best is None or score > best[0]:
            best = (score, strength, classifier)
    _, strength, classifier = best
    accuracy = float((classifier.predict(vectorizer.transform(list(test_texts))) == np.asarray(test_labels)).mean())
    grams = "character 1-3-grams" if character else "word 1-2-grams"
    return {
        "name": f"TF-IDF {grams} + logistic regression (C={strength:g}, scikit-learn)",
        "accuracy": accuracy,
        "train_examples": int(len(train_texts)),
        "seconds": round(time.perf_counter() - start, 2),
    }


def frame_difference_logistic_regression(
    train_videos: list,
    test_videos: list,
    skip_frames: int = 0,
    size: int = 16,
    max_examples: int = 20_000,
    seed: int = 0,
) -> dict[str, float]:
    """Logistic regression per frame on a downsampled grey frame and its change since the previous frame.

    Causal like the recurrent model (frame t uses frames t-1 and t). A video's prediction is the
    class with the highest mean probability over its frames after the first ``skip_frames``.

    Args:
        train_videos, test_videos: ``(read whole video, label, name)`` per video; frames uint8 (n, h, w, 3).
    """
    # Deferred: scikit-learn (about a second to import) loads only when a baseline is fitted.
    import cv2
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def features(frames: np.ndarray) -> np.ndarray:
        grey = np.stack(
            [
                cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA)
                for f in frames
            ]
        ).astype(np.float32)
        grey = grey.reshape(len(frames), -1) / 255.0
        previous = np.concatenate([grey[:1], grey[:-1]])
        return np.concatenate([grey, grey - previous], axis=1)

    start = time.perf_counter()
    train_features, train_labels = [], []
    for read, label, _ in train_videos:
        values = features(read())[skip_frames:]
        train_features.append(values)
        train_labels.append(np.full(len(values), label))
    x, y = np.concatenate(train_features), np.concatenate(train_labels)
    if len(x) > max_examples:
        keep = np.random.default_rng(seed).choice(len(x), max_examples, replace=False)
        x, y = x[keep], y[keep]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1))
    classifier.fit(x, y)
    correct = total = videos_correct = 0
    for read, label, _ in test_videos:
        probabilities = classifier.predict_proba(features(read())[skip_frames:])
        predicted = classifier.classes_[probabilities.argmax(-1)]
        correct, total = correct + int((predicted == label).sum()), total + len(predicted)
        videos_correct += int(classifier.classes_[probabilities.mean(axis=0).argmax()] == label)
    return {
        "name": f"logistic regression on {size}x{size} grey frames and frame differences (scikit-learn)",
        "frame_accuracy": correct / max(total, 1),
        "video_accuracy": videos_correct / max(len(test_videos), 1),
        "train_frames": int(len(x)),
        "seconds": round(time.perf_counter() - start, 2),
    }
