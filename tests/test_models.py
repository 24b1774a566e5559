"""Model shapes and parameter counts, derived from the layer definitions of the sheet."""
import torch

from helpers.models import CNN, MLP, count_parameters


def linear(n_in, n_out):
    return n_in * n_out + n_out


def conv(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def test_mlp_shapes_and_parameters():
    for n_in, shape in ((784, (5, 1, 28, 28)), (3072, (5, 3, 32, 32))):
        model = MLP(n_in)
        out = model(torch.randn(shape))
        assert out.shape == (5, 10)
        assert torch.allclose(out.exp().sum(dim=1), torch.ones(5), atol=1e-5)  # log-softmax
        assert count_parameters(model) == linear(n_in, 512) + linear(512, 128) + linear(128, 10)


def test_cnn_follows_the_sheet():
    model = CNN()
    side = ((32 - 3 + 1) - 3) // 2 + 1 - 3 + 1  # conv s1, conv s2, conv s1, no padding
    assert 128 * side * side == 18432
    assert count_parameters(model) == (conv(3, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3)
                                       + linear(18432, 128) + linear(128, 10))
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs] == \
        [(3, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (2, 2)), (64, 128, (3, 3), (1, 1))]
    assert sum(isinstance(m, torch.nn.ReLU) for m in model) == 4  # after each computational layer but the output


def test_sources_shown_in_the_pdf_fit_its_line_width():
    import inspect

    from helpers.gradients import chain_rule
    for obj in (MLP, CNN, chain_rule):  # printed verbatim by show_source, which cannot wrap lines
        assert max(len(line) for line in inspect.getsource(obj).splitlines()) <= 88, obj.__name__
