using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Autodiff;

/// <summary>
/// The identity the IWAE gradient rests on: with w = StopGradient(softmax(lw)),
/// grad(-sum_s w_s lw_s) = grad(-logsumexp(lw)); and it fails without the StopGradient.
/// </summary>
public class StopGradientIdentityTests
{
    private static double[] Grad(Parameter<double> lw, Func<Tape<double>, Var<double>, Var<double>> loss)
    {
        lw.ZeroGrad();
        var t = new Tape<double>();
        t.Backward(loss(t, t.Param(lw)));
        return lw.Grad.ToArray();
    }

    [TestCase(1, 1)]
    [TestCase(3, 1)]
    [TestCase(5, 3)]
    [TestCase(50, 7)]
    public void WeightedLogWeights_HaveTheGradientOfLogSumExp(int k, int b)
    {
        var lw = Uniform("logW", k, b, 7, -20, 5);   // [k,B]: row s is sample s
        var weighted = Grad(lw, (t, x) => t.Neg(t.Sum(t.Mul(t.StopGradient(t.Softmax(x, 0)), x))));
        var lse = Grad(lw, (t, x) => t.Neg(t.Sum(t.LogSumExp(x, 0))));
        Assert.That(MaxAbsDiff(weighted, lse), Is.LessThan(1e-14));
    }

    [TestCase(3, 1)]
    [TestCase(5, 3)]
    public void WithoutStopGradient_TheGradientDiffers(int k, int b)
    {
        var lw = Uniform("logW", k, b, 8, -3, 3);
        var attached = Grad(lw, (t, x) => t.Neg(t.Sum(t.Mul(t.Softmax(x, 0), x))));
        var lse = Grad(lw, (t, x) => t.Neg(t.Sum(t.LogSumExp(x, 0))));
        Assert.That(MaxAbsDiff(attached, lse), Is.GreaterThan(1e-2));
    }

    [Test]
    public void AtKEqualsOne_BothAreTheIdentity()
    {
        var lw = Uniform("logW", 1, 4, 9);
        var weighted = Grad(lw, (t, x) => t.Neg(t.Sum(t.Mul(t.StopGradient(t.Softmax(x, 0)), x))));
        Assert.That(weighted, Is.All.EqualTo(-1.0));
    }
}
