"""Build, train, store and query MNIST networks, following "TensorFlow without a PhD"; no UI code here."""
