using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Autodiff;

/// <summary>
/// <see cref="Tape{T}.LinearBernoulliLogLik"/> in float32 gives the value and every gradient of the two ops it fuses,
/// <see cref="Tape{T}.BernoulliLogLik"/> of <see cref="Tape{T}.Linear(Var{T}, Var{T}, Var{T})"/>, bit for bit: with all
/// gradients, with the layer's weights held constant, in forward-only mode (where the logits are never written), and
/// on 1 and 2 threads. (float64 composes the two ops; its gradients are checked in <see cref="OpGradTests"/>.)
/// </summary>
public class FusedOutputLayerTests
{
    private static int[] Bits(Tensor<float> t) => t.Span.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    // 60 rows of h against 20 target rows (3 samples each, stacked sample-major), 33 hidden, 785 outputs.
    private const int Rows = 60, XRows = 20, Hidden = 33, Outputs = 785;

    private static (Tensor<float> Y, Tensor<float>[] Grads) Run(bool fused, bool detach, bool noGrad, int threads)
    {
        var h = new Parameter<float>("h", Random<float>(Rows, Hidden, 1));
        var w = new Parameter<float>("W", Random<float>(Hidden, Outputs, 2, 0.8));
        var b = new Parameter<float>("b", Random<float>(1, Outputs, 3, 20));
        var x = Random<float>(XRows, Outputs, 4);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x.Span[i] > 0.4f ? 1 : 0;
        var t = new Tape<float>(TestUtil.Threads(threads)) { NoGrad = noGrad };
        var hv = t.Param(h);
        Var<float> wv = t.Param(w), bv = t.Param(b);
        if (detach) (wv, bv) = (t.StopGradient(wv), t.StopGradient(bv));
        var y = fused ? t.LinearBernoulliLogLik(hv, wv, bv, t.Constant(x)) : t.BernoulliLogLik(t.Linear(hv, wv, bv), t.Constant(x));
        var weights = Random<float>(Rows, 1, 5);
        if (!noGrad) t.Backward(t.Sum(t.Mul(y, t.Constant(weights))));
        return (y.Value.Clone(), [h.Grad.Clone(), w.Grad.Clone(), b.Grad.Clone()]);
    }

    [Test]
    public void FusedOp_GivesTheBitsOfLinearThenBernoulli(
        [Values] bool detach, [Values] bool noGrad, [Values(1, 2)] int threads)
    {
        var (yPlain, gPlain) = Run(fused: false, detach, noGrad, threads);
        var (yFused, gFused) = Run(fused: true, detach, noGrad, threads);
        Assert.That(Bits(yFused), Is.EqualTo(Bits(yPlain)), "log-likelihoods");
        string[] names = ["dh", "dW", "db"];
        for (int i = 0; i < 3; i++) Assert.That(Bits(gFused[i]), Is.EqualTo(Bits(gPlain[i])), names[i]);
        if (!noGrad) Assert.That(gFused[0].Span.ToArray().Any(v => v != 0), Is.True, "a gradient reached h");
        if (!noGrad && !detach) Assert.That(gFused[2].Span.ToArray().Any(v => v != 0), Is.True, "a gradient reached b");
    }
}
