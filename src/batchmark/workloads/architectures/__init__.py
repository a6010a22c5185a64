"""Each workload's architecture and training settings as plain numbers and tables, with no framework in them:
the one place a layer table, a width or a loss weight is written, which the PyTorch, Keras and MLX twins of a
workload all build from, so that they cannot drift apart. (Keras's own applications build MobileNetV3,
ResNet50V2 and DenseNet121 on that framework; our PyTorch and MLX twins follow their layouts from here.)
"""
