"""Fast neural style transfer (Johnson, Alahi & Fei-Fei 2016, https://arxiv.org/abs/1603.08155; the transform net
in its supplementary material) with the instance norm, nearest upsampling + convolution and loss weights of the
PyTorch port (https://github.com/pytorch/examples/tree/main/fast_neural_style), through a frozen VGG16
(https://arxiv.org/abs/1409.1556). Shapes in the comments are per image, channels last.
"""

# Transform net, one (filters, kernel, stride) per conv + norm + ReLU: (S, S, 3) -> (S/4, S/4, 128).
DOWN_CONVS = [(32, 9, 1), (64, 3, 2), (128, 3, 2)]
RESIDUAL_BLOCKS = 5  # each conv3x3-IN-ReLU-conv3x3-IN plus the identity, at 128 channels and S/4
# Each: nearest upsampling x2, then conv3x3 + norm + ReLU to these filters: (S/4, S/4, 128) -> (S, S, 32).
UP_FILTERS = [64, 32]

# VGG16's convolutions up to relu4_3, one (filters, convolutions) per stage; a 2x2 max-pool starts stages 2-4.
# Later layers are not used by the loss, so they are not built.
VGG16_STAGES = [(64, 2), (128, 2), (256, 3), (512, 3)]  # the stages end at relu1_2, relu2_2, relu3_3, relu4_3
CONTENT_STAGE = 2  # content loss on relu2_2
# torchvision's normalisation of [0, 1] RGB (not Keras's caffe-style `preprocess_input`).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The PyTorch port's weights, for MSEs of ImageNet-normalised VGG features and of Grams normalised by C*H*W.
CONTENT_WEIGHT = 1e5
STYLE_WEIGHT = 1e10
# Johnson's code uses a TV strength of 1e-6 on 0-255 pixels with content weight 1 on Caffe VGG features (about
# 58x ours). Rescaled to [0, 1] pixels and content weight 1e5 here that is roughly 1 on the summed squared
# differences: a small smoothing term next to content and style, as intended. The pytorch port drops TV.
TV_WEIGHT = 1.0
LEARNING_RATE = 1e-3
