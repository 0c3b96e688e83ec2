"""The four heads of seed 001 on frozen features: SVM, KNN, logistic regression and the paper's DNN."""

from __future__ import annotations

import numpy as np

HEADS = ("svm", "knn", "lr", "dnn")  # the paper's four (svm: RBF kernel, as scikit-learn's default)
ALL_HEADS = (*HEADS, "linsvm")  # linsvm: a linear SVM, which fuses into the backbone like LR


class DnnHead:
    """Dense 256 LeakyReLU (he_normal, seed 42) -> Dense 1 sigmoid (glorot, seed 42); Adam, BCE, batch 32."""

    def __init__(self, epochs: int = 25, seed: int = 42) -> None:
        self.epochs, self.seed, self.model = epochs, seed, None

    def fit(self, x: np.ndarray, y: np.ndarray) -> DnnHead:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(self.seed)
        self.model = keras.Sequential([
            keras.Input((x.shape[1],), name="features"),
            keras.layers.Dense(256, kernel_initializer=keras.initializers.HeNormal(seed=self.seed)),
            keras.layers.LeakyReLU(),
            keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(
                seed=self.seed), name="pain"),
        ], name="pain_dnn")
        self.model.compile(optimizer="adam", loss="binary_crossentropy")
        ds = (tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.float32)))
              .shuffle(1024, seed=self.seed).batch(32))
        self.model.fit(ds, epochs=self.epochs, verbose=0)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.model.predict(x.astype(np.float32), verbose=0)[:, 0]
        return np.stack([1 - p, p], axis=1)


class _DecisionProba:
    """predict_proba from decision_function through a logistic, so every head speaks the same (N, 2) shape."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def fit(self, x: np.ndarray, y: np.ndarray) -> _DecisionProba:
        self.estimator.fit(x, y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.estimator.decision_function(x)))
        return np.stack([1 - p, p], axis=1)


def make_head(name: str, seed: int = 42, dnn_epochs: int = 25):
    """Scikit-learn heads standardise the features first (SVM and KNN need it; LR converges faster)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    if name == "svm":  # scores from the decision function: 0.5 is the SVM's own boundary
        return _DecisionProba(make_pipeline(StandardScaler(), SVC(kernel="rbf", random_state=seed)))
    if name == "linsvm":
        return _DecisionProba(make_pipeline(StandardScaler(), LinearSVC(random_state=seed, max_iter=20000)))
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    if name == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    if name == "dnn":
        return DnnHead(dnn_epochs, seed)
    raise ValueError(f"unknown head {name!r}; choose from {', '.join(ALL_HEADS)}")
