using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Autodiff;

/// <summary>Float64 central-difference checks of every op, at shapes including 1 and odd sizes.</summary>
public class OpGradTests
{
    private static readonly (int R, int C)[] Shapes = [(1, 1), (1, 5), (3, 1), (3, 7), (6, 4)];

    [TestCaseSource(nameof(Shapes))]
    public void Add_Sub_Mul_SameShape((int R, int C) s)
    {
        var a = Uniform("a", s.R, s.C, 1);
        var b = Uniform("b", s.R, s.C, 2);
        AssertGradCheck(t => Project(t, t.Add(t.Param(a), t.Param(b)), 3), a, b);
        AssertGradCheck(t => Project(t, t.Sub(t.Param(a), t.Param(b)), 4), a, b);
        AssertGradCheck(t => Project(t, t.Mul(t.Param(a), t.Param(b)), 5), a, b);
    }

    [TestCase(1, 7, 1, 7)]
    [TestCase(5, 7, 1, 7)]
    [TestCase(5, 7, 5, 1)]
    [TestCase(5, 7, 1, 1)]
    [TestCase(1, 1, 1, 1)]
    public void Add_Sub_Mul_Broadcast(int r, int c, int br, int bc)
    {
        var a = Uniform("a", r, c, 11);
        var b = Uniform("b", br, bc, 12);
        AssertGradCheck(t => Project(t, t.Add(t.Param(a), t.Param(b)), 13), a, b);
        AssertGradCheck(t => Project(t, t.Sub(t.Param(a), t.Param(b)), 14), a, b);
        AssertGradCheck(t => Project(t, t.Mul(t.Param(a), t.Param(b)), 15), a, b);
    }

    [Test]
    public void Broadcast_RejectsIncompatibleShapes()
    {
        var t = new Tape<double>();
        var a = t.Constant(Tensor<double>.Zeros(3, 4));
        var b = t.Constant(Tensor<double>.Zeros(2, 4));
        Assert.That(() => t.Add(a, b), Throws.ArgumentException.With.Message.Contains("[2,4]"));
    }

    [TestCaseSource(nameof(Shapes))]
    public void Scale_Neg_Tanh_Exp_Softplus((int R, int C) s)
    {
        var x = Uniform("x", s.R, s.C, 21, -2, 2);
        AssertGradCheck(t => Project(t, t.Scale(t.Param(x), -1.7), 22), x);
        AssertGradCheck(t => Project(t, t.Neg(t.Param(x)), 23), x);
        AssertGradCheck(t => Project(t, t.Tanh(t.Param(x)), 24), x);
        AssertGradCheck(t => Project(t, t.Exp(t.Param(x)), 25), x);
        AssertGradCheck(t => Project(t, t.Softplus(t.Param(x)), 26), x);
    }

    [TestCase(30.0)]
    [TestCase(1e4)]
    public void Softplus_ExtremeInputs(double big)
    {
        var x = FromValues("x", 2, 3, big, -big, 0.5, -0.5, big / 2, -big / 2);
        AssertGradCheck(t => Project(t, t.Softplus(t.Param(x)), 27), x);
    }

    [TestCaseSource(nameof(Shapes))]
    public void Sum_And_Mean_AllAndPerAxis((int R, int C) s)
    {
        var x = Uniform("x", s.R, s.C, 31);
        AssertGradCheck(t => t.Sum(t.Param(x)), x);
        AssertGradCheck(t => t.Mean(t.Param(x)), x);
        for (int axis = 0; axis <= 1; axis++)
        {
            int a = axis;
            AssertGradCheck(t => Project(t, t.Sum(t.Param(x), a), 32), x);
            AssertGradCheck(t => Project(t, t.Mean(t.Param(x), a), 33), x);
        }
    }

    [Test]
    public void Sum_And_Mean_Values()
    {
        var t = new Tape<double>();
        var x = t.Constant(Tensor<double>.FromArray(2, 3, [1, 2, 3, 4, 5, 6]));
        Assert.That(t.Sum(x).Item, Is.EqualTo(21));
        Assert.That(t.Mean(x).Item, Is.EqualTo(3.5));
        Assert.That(t.Sum(x, 0).Value.ToArray(), Is.EqualTo(new double[] { 5, 7, 9 }));
        Assert.That(t.Sum(x, 1).Value.ToArray(), Is.EqualTo(new double[] { 6, 15 }));
        Assert.That(t.Mean(x, 1).Value.ToArray(), Is.EqualTo(new double[] { 2, 5 }));
    }

    [TestCase(1, 1, 1)]
    [TestCase(1, 5, 3)]
    [TestCase(3, 7, 2)]
    [TestCase(4, 5, 6)]
    public void MatMul(int m, int k, int n)
    {
        var a = Uniform("a", m, k, 41);
        var b = Uniform("b", k, n, 42);
        AssertGradCheck(t => Project(t, t.MatMul(t.Param(a), t.Param(b)), 43), a, b);
    }

    [TestCase(1, 1, 1)]
    [TestCase(1, 5, 3)]
    [TestCase(3, 7, 2)]
    [TestCase(5, 4, 9)]
    public void Linear_And_LinearTanh(int rows, int inF, int outF)
    {
        var x = Uniform("x", rows, inF, 51);
        var w = Uniform("W", inF, outF, 52);
        var b = Uniform("b", 1, outF, 53);
        AssertGradCheck(t => Project(t, t.Linear(t.Param(x), w, b), 54), x, w, b);
        AssertGradCheck(t => Project(t, t.LinearTanh(t.Param(x), w, b), 55), x, w, b);
    }

    [Test]
    public void Linear_LargeShapes_AlongRandomDirections()
    {
        var x = Uniform("x", 17, 33, 56);
        var w = Uniform("W", 33, 19, 57, -0.3, 0.3);
        var b = Uniform("b", 1, 19, 58);
        var o = new GradCheckOptions { MaxElementwise = 100, Directions = 24 };
        AssertGradCheck(t => Project(t, t.LinearTanh(t.Param(x), w, b), 59), o, x, w, b);
        AssertGradCheck(t => Project(t, t.Linear(t.Param(x), w, b), 60), o, x, w, b);
    }

    [Test]
    public void Linear_MatchesMatMulPlusBias()
    {
        var t = new Tape<double>();
        var x = t.Constant(Random<double>(4, 3, 61));
        var w = t.Constant(Random<double>(3, 5, 62));
        var b = t.Constant(Random<double>(1, 5, 63));
        var viaLinear = t.Linear(x, w, b).Value.ToArray();
        var viaOps = t.Add(t.MatMul(x, w), b).Value.ToArray();
        Assert.That(MaxAbsDiff(viaLinear, viaOps), Is.LessThan(1e-15));
        var tanh = t.LinearTanh(x, w, b).Value.ToArray();
        Assert.That(MaxAbsDiff(tanh, viaLinear.Select(Math.Tanh).ToArray()), Is.LessThan(1e-15));
    }

    [TestCase(1, 1, 1)]
    [TestCase(1, 4, 3)]
    [TestCase(3, 2, 5)]
    public void RepeatRows(int b, int c, int k)
    {
        var x = Uniform("x", b, c, 71);
        AssertGradCheck(t => Project(t, t.RepeatRows(t.Param(x), k), 72), x);
        var tape = new Tape<double>();
        var y = tape.RepeatRows(tape.Constant(x.Value), k).Value;
        Assert.That(y.Rows, Is.EqualTo(k * b));
        for (int s = 0; s < k; s++)
            for (int r = 0; r < b; r++)
                Assert.That(y.Row(s * b + r).ToArray(), Is.EqualTo(x.Value.Row(r).ToArray()), "row s*B+b must be input b");
    }

    [TestCase(1, 1)]
    [TestCase(3, 5)]
    [TestCase(4, 1)]
    public void Reshape_And_Transpose(int k, int b)
    {
        var x = Uniform("x", k * b, 1, 81);
        AssertGradCheck(t => Project(t, t.Reshape(t.Param(x), k, b), 82), x);
        AssertGradCheck(t => Project(t, t.Transpose(t.Reshape(t.Param(x), k, b)), 83), x);
        var tape = new Tape<double>();
        var kb = tape.Reshape(tape.Constant(x.Value), k, b).Value;
        var bk = tape.Transpose(tape.Reshape(tape.Constant(x.Value), k, b)).Value;
        for (int s = 0; s < k; s++)
            for (int i = 0; i < b; i++)
            {
                Assert.That(kb[s, i], Is.EqualTo(x.Value[s * b + i, 0]), "[k*B,1] -> [k,B]: row s holds sample s");
                Assert.That(bk[i, s], Is.EqualTo(kb[s, i]));
            }
    }

    [TestCaseSource(nameof(Shapes))]
    public void LogSumExp_And_Softmax_BothAxes((int R, int C) s)
    {
        var x = Uniform("x", s.R, s.C, 91, -3, 3);
        for (int axis = 0; axis <= 1; axis++)
        {
            int a = axis;
            AssertGradCheck(t => Project(t, t.LogSumExp(t.Param(x), a), 92), x);
            AssertGradCheck(t => Project(t, t.Softmax(t.Param(x), a), 93), x);
        }
    }

    [Test]
    public void LogSumExp_And_Softmax_LogWeightsThousandsApart()
    {
        // log-weights 1e3 apart: a naive exp overflows (exp(1000) = inf) or underflows to 0/0.
        var x = FromValues("x", 3, 4, 0, 1000, -1000, 500, 1000, 1000, -1000, 0, -2000, -1000, -3000, -1500);
        for (int axis = 0; axis <= 1; axis++)
        {
            int a = axis;
            AssertGradCheck(t => Project(t, t.LogSumExp(t.Param(x), a), 94), x);
            AssertGradCheck(t => Project(t, t.Softmax(t.Param(x), a), 95), x);
        }
        var tape = new Tape<double>();
        var lse = tape.LogSumExp(tape.Constant(x.Value), 1).Value;
        Assert.That(lse[0, 0], Is.EqualTo(1000).Within(1e-12));
        Assert.That(lse[1, 0], Is.EqualTo(1000 + Math.Log(2)).Within(1e-12));
        Assert.That(lse[2, 0], Is.EqualTo(-1000).Within(1e-12));
        var sm = tape.Softmax(tape.Constant(x.Value), 1).Value;
        Assert.That(sm[1, 0], Is.EqualTo(0.5).Within(1e-15));
        Assert.That(sm.ToArray().All(double.IsFinite), Is.True);
    }

    [Test]
    public void LogSumExp_And_Softmax_AllNegativeInfinityLane()
    {
        double ninf = double.NegativeInfinity;
        var tape = new Tape<double>();
        var p = new Parameter<double>("x", Tensor<double>.FromArray(2, 3, [ninf, ninf, ninf, 0.1, -0.2, 0.3]));
        var x = tape.Param(p);
        var lse = tape.LogSumExp(x, 1);
        var sm = tape.Softmax(x, 1);
        Assert.That(lse.Value[0, 0], Is.EqualTo(ninf));
        Assert.That(sm.Value.Row(0).ToArray(), Is.EqualTo(new double[] { 0, 0, 0 }));
        Assert.That(sm.Value[1, 0] + sm.Value[1, 1] + sm.Value[1, 2], Is.EqualTo(1).Within(1e-15));
        // The loss is -inf (log 0 in row 0), yet no NaN may reach the gradient: the empty lane sends nothing.
        var loss = tape.Add(tape.Sum(tape.Mul(sm, tape.Constant(Random<double>(2, 3, 96)))), tape.Sum(lse));
        tape.Backward(loss);
        Assert.That(p.Grad.ToArray().All(double.IsFinite), Is.True, "gradient must stay finite");
        Assert.That(p.Grad.Row(0).ToArray(), Is.EqualTo(new double[] { 0, 0, 0 }));
        Assert.That(double.IsNegativeInfinity(loss.Item), Is.True);
    }

    [TestCaseSource(nameof(Shapes))]
    public void BernoulliLogLik((int R, int C) s)
    {
        var l = Uniform("logits", s.R, s.C, 101, -4, 4);
        var x = Uniform("x", s.R, s.C, 102, 0, 1);
        AssertGradCheck(t => Project(t, t.BernoulliLogLik(t.Param(l), t.Param(x)), 103), l, x);
    }

    [TestCase(1, 1, 1, 1)]
    [TestCase(3, 5, 7, 3)]
    [TestCase(6, 4, 9, 2)]
    public void LinearBernoulliLogLik(int rows, int inF, int outF, int xRows)
    {
        var h = Uniform("h", rows, inF, 107);
        var w = Uniform("W", inF, outF, 108, -2, 2);
        var b = Uniform("b", 1, outF, 109, -3, 3);
        var x = Uniform("x", xRows, outF, 110, 0, 1);
        AssertGradCheck(t => Project(t, t.LinearBernoulliLogLik(t.Param(h), t.Param(w), t.Param(b), t.Constant(x.Value)), 111), h, w, b);
        AssertGradCheck(t => Project(t, t.LinearBernoulliLogLik(t.Param(h), t.Param(w), t.Param(b), t.Param(x)), 112), h, w, b, x);
    }

    [TestCase(30.0)]
    [TestCase(1e4)]
    public void BernoulliLogLik_ExtremeLogits(double big)
    {
        var l = FromValues("logits", 2, 4, big, -big, big, -big, big / 3, -big / 3, 0.25, -0.25);
        var x = FromValues("x", 2, 4, 1, 0, 0, 1, 1, 0, 1, 0);
        AssertGradCheck(t => Project(t, t.BernoulliLogLik(t.Param(l), t.Param(x)), 104), l, x);
        var tape = new Tape<double>();
        var y = tape.BernoulliLogLik(tape.Param(l), tape.Param(x)).Value;
        // Row 0: x=1 at +big and x=0 at -big cost ~0; x=0 at +big and x=1 at -big cost ~big each.
        Assert.That(y[0, 0], Is.EqualTo(-2 * big).Within(1e-9 * big));
        Assert.That(double.IsFinite(y[1, 0]), Is.True);
    }

    [Test]
    public void BernoulliLogLik_MatchesDefinitionInModerateRange()
    {
        var tape = new Tape<double>();
        var l = Random<double>(3, 5, 105, 5);
        var x = Random<double>(3, 5, 106);
        for (int i = 0; i < x.Length; i++) x.Span[i] = x.Span[i] > 0 ? 1 : 0;
        var y = tape.BernoulliLogLik(tape.Constant(l), tape.Constant(x)).Value;
        for (int r = 0; r < 3; r++)
        {
            double expect = 0;
            for (int j = 0; j < 5; j++)
            {
                double p = 1 / (1 + Math.Exp(-l[r, j]));
                expect += x[r, j] * Math.Log(p) + (1 - x[r, j]) * Math.Log(1 - p);
            }
            Assert.That(y[r, 0], Is.EqualTo(expect).Within(1e-12));
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void GaussianLogDensity((int R, int C) s)
    {
        var z = Uniform("z", s.R, s.C, 111, -2, 2);
        var mu = Uniform("mu", s.R, s.C, 112);
        var ls = Uniform("logSigma", s.R, s.C, 113, -1, 1);
        AssertGradCheck(t => Project(t, t.GaussianLogDensity(t.Param(z), t.Param(mu), t.Param(ls)), 114), z, mu, ls);
    }

    [Test]
    public void GaussianLogDensity_ExtremeLogSigma()
    {
        var z = FromValues("z", 1, 4, 0.3, -0.2, 5, -5);
        var mu = FromValues("mu", 1, 4, 0.1, 0.1, 0, 0);
        var ls = FromValues("logSigma", 1, 4, -6, 6, -3, 4);
        AssertGradCheck(t => Project(t, t.GaussianLogDensity(t.Param(z), t.Param(mu), t.Param(ls)), 115), z, mu, ls);
    }

    [Test]
    public void GaussianLogDensity_AndStandardNormal_Values()
    {
        var tape = new Tape<double>();
        var z = tape.Constant(Tensor<double>.FromArray(1, 2, [0.5, -1.5]));
        var mu = tape.Constant(Tensor<double>.FromArray(1, 2, [0.0, -1.0]));
        var ls = tape.Constant(Tensor<double>.FromArray(1, 2, [Math.Log(2), 0.0]));
        double expect = -0.5 * Math.Pow(0.5 / 2, 2) - Math.Log(2) - 0.5 * Math.Log(2 * Math.PI)
                      - 0.5 * 0.25 - 0.5 * Math.Log(2 * Math.PI);
        Assert.That(tape.GaussianLogDensity(z, mu, ls).Item, Is.EqualTo(expect).Within(1e-14));
        var zero = tape.Fill(1, 2, 0.0);
        Assert.That(tape.GaussianLogDensity(z, zero, zero).Item, Is.EqualTo(tape.StandardNormalLogDensity(z).Item).Within(1e-14));
    }

    [TestCaseSource(nameof(Shapes))]
    public void StandardNormalLogDensity((int R, int C) s)
    {
        var z = Uniform("z", s.R, s.C, 121, -3, 3);
        AssertGradCheck(t => Project(t, t.StandardNormalLogDensity(t.Param(z)), 122), z);
    }

    [Test]
    public void StopGradient_PassesValue_BlocksGradient()
    {
        var p = Uniform("x", 2, 3, 131);
        var tape = new Tape<double>();
        var x = tape.Param(p);
        var s = tape.StopGradient(x);
        Assert.That(s.Value.ToArray(), Is.EqualTo(p.Value.ToArray()));
        Assert.That(s.RequiresGrad, Is.False);
        tape.Backward(tape.Add(tape.Sum(tape.Mul(s, s)), tape.Sum(x)));
        Assert.That(p.Grad.ToArray(), Is.All.EqualTo(1.0), "only the Sum(x) path contributes");
    }
}
