"""taskrel.encoders: bad input, shapes, preprocessing values, seeded determinism, EfficientNet-Lite0 loading."""
import numpy as np
import pytest
import torch
from taskrel.encoders import (LeNet, preprocess_images, train_classifier, extract_features, predict, accuracy,
                              efficientnet_lite0, efficientnet_lite_weights, fine_tune, EFFICIENTNET_LITE_MEAN,
                              EFFICIENTNET_LITE_STD)

torch.set_num_threads(1)
RNG = np.random.default_rng(0)
IMG = RNG.integers(0, 256, size=(12, 20, 20), dtype=np.uint8)


def halves(n=200, side=20, seed=0):
    "A task with an obvious answer: class 0 has a bright left half, class 1 a bright right half, plus noise."
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.integers(0, 60, size=(n, side, side)).astype(np.uint8)
    for i, c in enumerate(y):
        X[i, :, (0 if c == 0 else side // 2):(side // 2 if c == 0 else side)] += 150
    return X, y


@pytest.mark.parametrize("kw,X,match", [
    (dict(), IMG.astype(np.float32), r"X: dtype float32, expected uint8"),
    (dict(), IMG[0], r"X: shape \(20, 20\), expected"),
    (dict(), np.zeros((2, 8, 8, 2), np.uint8), r"C = 1 or 3"),
    (dict(), IMG[:0], r"X: no images"),
    (dict(size=7), IMG, r"size=7: expected an int >= 8"),
    (dict(size=20.0), IMG, r"size=20.0: expected an int"),
    (dict(channels=2), IMG, r"channels=2"),
    (dict(std=0.0), IMG, r"std=0.0: must be positive"),
])
def test_preprocess_refuses_bad_input(kw, X, match):
    with pytest.raises(ValueError, match=match):
        preprocess_images(X, **kw)


def test_preprocess_shapes_and_values():
    white = np.full((3, 16, 16), 255, np.uint8)
    t = preprocess_images(white, size=28)
    assert t.shape == (3, 1, 28, 28) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), 1.0, atol=1e-6)               # a constant image stays constant when resized
    t3 = preprocess_images(white, size=32, channels=3, mean=EFFICIENTNET_LITE_MEAN, std=EFFICIENTNET_LITE_STD)
    assert t3.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(t3.numpy(), (255 - 127) / 128, atol=1e-5)  # TF-Lite scaling (255x - 127) / 128
    black = preprocess_images(np.zeros((1, 28, 28), np.uint8), 28, 3, EFFICIENTNET_LITE_MEAN, EFFICIENTNET_LITE_STD)
    np.testing.assert_allclose(black.numpy(), -127 / 128, atol=1e-5)
    rgb = np.stack([IMG, IMG // 2, IMG // 4], -1)
    np.testing.assert_allclose(preprocess_images(rgb, 20, 1).numpy()[:, 0],
                               (IMG.astype(np.float32) + IMG // 2 + IMG // 4) / 3 / 255, atol=1e-6)  # RGB -> channel mean


@pytest.mark.parametrize("size", [16, 28, 32])
def test_lenet_shapes(size):
    net = LeNet(image_size=size, seed=0)
    x = torch.zeros(4, 1, size, size)
    assert net.features(x).shape == (4, 200) and net(x).shape == (4, 10)


@pytest.mark.parametrize("kw,match", [(dict(image_size=15), "image_size=15"), (dict(feature_dim=0), "feature_dim=0"),
                                      (dict(n_classes=1.5), "n_classes=1.5")])
def test_lenet_refuses_bad_sizes(kw, match):
    with pytest.raises(ValueError, match=match):
        LeNet(**kw)


def test_lenet_seeded_init_leaves_global_rng_alone():
    torch.manual_seed(1); a = torch.rand(3)
    torch.manual_seed(1); n1 = LeNet(seed=7); b = torch.rand(3)
    assert torch.equal(a, b)
    assert all(torch.equal(p, q) for p, q in zip(n1.parameters(), LeNet(seed=7).parameters()))
    assert not torch.equal(n1.head.weight, LeNet(seed=8).head.weight)


def test_training_is_deterministic_and_learns():
    X, y = halves()
    nets = [LeNet(image_size=20, n_classes=2, seed=0) for _ in range(3)]
    h0 = train_classifier(nets[0], X, y, epochs=2, batch_size=32, seed=0, progress=False)
    h1 = train_classifier(nets[1], X, y, epochs=2, batch_size=32, seed=0, progress=False)
    train_classifier(nets[2], X, y, epochs=2, batch_size=32, seed=1, progress=False)
    assert h0 == h1 and all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))
    assert not torch.equal(nets[0].head.weight, nets[2].head.weight)
    Xt, yt = halves(60, seed=1)
    assert accuracy(nets[0], Xt, yt) >= 0.95, "an obvious left/right task must be learned in 2 epochs"
    assert h0[-1] < h0[0]


@pytest.mark.parametrize("kw,match", [(dict(epochs=0), "epochs=0"), (dict(batch_size=-1), "batch_size=-1"), (dict(lr=0.0), "lr=0.0")])
def test_training_refuses_bad_arguments(kw, match):
    X, y = halves(20)
    with pytest.raises(ValueError, match=match):
        train_classifier(LeNet(image_size=20, n_classes=2), X, y, progress=False, **kw)


def test_training_refuses_mismatched_labels():
    X, y = halves(20)
    with pytest.raises(ValueError, match="y: has 19 labels but the features have 20 rows"):
        train_classifier(LeNet(image_size=20, n_classes=2), X, y[:-1], progress=False)


def test_features_do_not_depend_on_the_batch_size():
    net = LeNet(image_size=20, seed=0)
    a, b = extract_features(net, IMG, batch_size=5), extract_features(net, IMG, batch_size=256)
    assert a.shape == (12, 200) and a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert predict(net, IMG).shape == (12,)


# ---- EfficientNet-Lite0 (the pre-trained encoder of Fig. 4b) ----
effnet = pytest.importorskip("efficientnet_lite_pytorch")


def test_efficientnet_loads_the_shipped_imagenet_weights():
    enc = efficientnet_lite0(image_size=32, seed=0)
    state = torch.load(efficientnet_lite_weights(0), map_location="cpu")
    for k in ["_conv_stem.weight", "_blocks.0._depthwise_conv.weight", "_conv_head.weight", "_bn1.running_mean"]:
        assert torch.equal(enc.net.state_dict()[k], state[k]), k
    assert enc.feature_dim == 1280
    assert all(m.momentum == 0.1 for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d))
    z1, z2 = extract_features(enc, IMG[:5]), extract_features(enc, IMG[:5], batch_size=2)
    assert z1.shape == (5, 1280)
    np.testing.assert_allclose(z1, z2, rtol=1e-4, atol=1e-5)   # evaluation mode: no batch statistics


@pytest.mark.parametrize("kw,exc,match", [(dict(image_size=16), ValueError, "image_size=16"),
                                         (dict(image_size=32, weights_path="/nonexistent/w.pth"), FileNotFoundError, "nonexistent")])
def test_efficientnet_refuses_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        efficientnet_lite0(**kw)


def test_fine_tune_trains_every_parameter_deterministically():
    X, y = halves(40, side=32)
    a, b = efficientnet_lite0(image_size=32, n_classes=2, seed=0), efficientnet_lite0(image_size=32, n_classes=2, seed=0)
    for p in a.parameters(): p.requires_grad_(False)   # fine_tune must switch them back on
    stem0 = a.net._conv_stem.weight.detach().clone()
    ha = fine_tune(a, X, y, epochs=1, batch_size=20, seed=0, progress=False)
    hb = fine_tune(b, X, y, epochs=1, batch_size=20, seed=0, progress=False)
    assert not torch.equal(stem0, a.net._conv_stem.weight)           # the body moved, not only the head
    assert ha == hb and torch.equal(a.net._conv_stem.weight, b.net._conv_stem.weight)
