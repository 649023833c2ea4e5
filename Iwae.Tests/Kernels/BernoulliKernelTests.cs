using System.Runtime.Intrinsics;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Tests.Kernels;

/// <summary>FastMath and the fused Bernoulli kernels on every SIMD path, against float64 twins, on odd sizes and extreme logits.</summary>
public class BernoulliKernelTests
{
    private static readonly int[] Cols = [1, 7, 15, 16, 17, 33, 784, 785];

    private static IEnumerable<TestCaseData> Cases() =>
        from p in Simd.Available from c in Cols select new TestCaseData(p, c);

    /// <summary>Logits spread over [-40, 40] with a few extreme ones (+-1e4, +-88, +-90, 0).</summary>
    private static float[] Logits(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var l = new float[n];
        float[] extremes = [1e4f, -1e4f, 88f, -88f, 90f, -90f, 0f, 30f, -30f];
        for (int i = 0; i < n; i++) l[i] = rng.NextInt(6) == 0 ? extremes[rng.NextInt(extremes.Length)] : (float)(80 * rng.NextDouble() - 40);
        return l;
    }

    private static float[] Binary(int n, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextFloat() < 0.3f ? 1f : 0f).ToArray();
    }

    [TestCaseSource(nameof(Cases))]
    public void LogLikRows_MatchesFloat64Twin(SimdPath path, int cols)
    {
        const int rows = 5;
        var l = Logits(rows * cols, 1);
        var x = Binary(rows * cols, 2);
        var (fast, naive) = (new float[rows], new float[rows]);
        Bernoulli.LogLikRows(l, x, fast, cols, path);
        BernoulliNaive.LogLikRows(l, x, naive, cols);
        for (int r = 0; r < rows; r++)
        {
            double scale = 1 + Enumerable.Range(0, cols).Sum(j => Math.Abs(l[r * cols + j]));
            Assert.That(fast[r], Is.EqualTo(naive[r]).Within(2e-6 * scale), $"row {r}");
        }
    }

    /// <summary>
    /// The forward pass that saves x - sigmoid(l) gives LogLikRows's bits, the residual matches its float64 twin, and
    /// the backward pass from it gives Backward's bits (on every path, with a target that tiles the rows).
    /// </summary>
    [TestCaseSource(nameof(Cases))]
    public void Residual_ForwardAndBackward_AreBitForBitThePlainKernels(SimdPath path, int cols)
    {
        const int rows = 6, xRows = 3;
        var l = Logits(rows * cols, 11);
        var x = Binary(xRows * cols, 12);
        float[] dy = [1.5f, -0.25f, 2f, 0f, -3f, 0.5f];
        var (plain, withRes, res) = (new float[rows], new float[rows], new float[rows * cols]);
        Bernoulli.LogLikRows(l, x, plain, cols, path);
        Bernoulli.LogLikRowsWithResidual(l, x, withRes, res, cols, path);
        Assert.That(withRes.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(plain.Select(BitConverter.SingleToInt32Bits)), "y");
        for (int i = 0; i < res.Length; i++)
        {
            double lj = l[i], sig = lj >= 0 ? 1 / (1 + Math.Exp(-lj)) : Math.Exp(lj) / (1 + Math.Exp(lj));
            Assert.That(res[i], Is.EqualTo(x[i / cols % xRows * cols + i % cols] - sig).Within(1e-6), $"residual {i}");
        }
        var start = Enumerable.Range(0, rows * cols).Select(i => 0.125f * (i % 5)).ToArray();
        var (dPlain, dRes) = ((float[])start.Clone(), (float[])start.Clone());
        Bernoulli.Backward(l, x, dy, dPlain, cols, path);
        Bernoulli.BackwardFromResidual(res, dy, dRes, cols, path);
        Assert.That(dRes.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(dPlain.Select(BitConverter.SingleToInt32Bits)), "dl");
        // Overwriting (a fresh gradient buffer) gives the bits of adding into zeros, -0 products included: a saturated
        // logit with x = 1 has residual 0, and a negative dy makes dy * 0 = -0, which 0 + (-0) turns into +0.
        var zeros = new float[rows * cols];
        var garbage = Enumerable.Repeat(float.NaN, rows * cols).ToArray();
        res[0] = 0f;
        Bernoulli.BackwardFromResidual(res, dy, zeros, cols, path);
        Bernoulli.BackwardFromResidual(res, dy, garbage, cols, path, overwrite: true);
        Assert.That(garbage.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(zeros.Select(BitConverter.SingleToInt32Bits)), "overwrite");
        res[cols] = 0f;                                                     // row 1 has dy = -0.25
        Bernoulli.BackwardFromResidual(res, dy, garbage, cols, path, overwrite: true);
        Assert.That(BitConverter.SingleToInt32Bits(garbage[cols]), Is.Zero, "+0, not -0");
        Assert.That(() => Bernoulli.LogLikRowsWithResidual(l, x, withRes, new float[rows * cols - 1], cols, path), Throws.ArgumentException);
        Assert.That(() => Bernoulli.BackwardFromResidual(res, dy, new float[rows * cols - 1], cols, path), Throws.ArgumentException);
    }

    [TestCaseSource(nameof(Cases))]
    public void Backward_MatchesFloat64Twin(SimdPath path, int cols)
    {
        const int rows = 3;
        var l = Logits(rows * cols, 3);
        var x = Binary(rows * cols, 4);
        float[] dy = [1.5f, -0.25f, 2f];
        var fast = Enumerable.Repeat(0.125f, rows * cols).ToArray();
        var naive = (float[])fast.Clone();
        Bernoulli.Backward(l, x, dy, fast, cols, path);
        BernoulliNaive.Backward(l, x, dy, naive, cols);
        for (int i = 0; i < fast.Length; i++) Assert.That(fast[i], Is.EqualTo(naive[i]).Within(1e-6), $"element {i}");
    }

    /// <summary>
    /// The float twin's backward adds each term dy (x - sigmoid(l)), computed in double and rounded, in float as the
    /// kernels add theirs: bit for bit, a -0 term (a saturated logit with x = 1 and a negative dy) on a -0 gradient included.
    /// </summary>
    [Test]
    public void NaiveBackward_AddsEachFloat64TermInFloat()
    {
        const int cols = 5;
        float[] l = [1e4f, -3f, 0.5f, 90f, -90f, 2f, -1e4f, 0f, 30f, -0.25f];
        float[] x = [1f, 0f, 1f, 0.3f, 0f, 1f, 0f, 0.5f, 1f, 1f];
        float[] dy = [-1.5f, 0.75f];
        float[] dl = [-0f, 0.125f, -2f, 1f, 0f, -0f, 3f, 0.5f, -0.125f, 1e-3f];
        var expected = new float[dl.Length];
        for (int i = 0; i < dl.Length; i++) expected[i] = dl[i] + (float)(dy[i / cols] * (x[i] - Activations.Sigmoid((double)l[i])));
        BernoulliNaive.Backward(l, x, dy, dl, cols);
        Assert.That(dl.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)));
        Assert.That(BitConverter.SingleToInt32Bits(dl[0]), Is.EqualTo(BitConverter.SingleToInt32Bits(-0f)), "-0 + (-0) stays -0");
    }

    [TestCaseSource(nameof(Cases))]
    public void SoftplusAndSigmoid_MatchFloat64Twins(SimdPath path, int n)
    {
        var x = Logits(n, 5);
        var (f, g) = (new float[n], new float[n]);
        Elementwise.Map<SoftplusOperator, float>(x, f, path);
        BernoulliNaive.Softplus(x, g);
        for (int i = 0; i < n; i++) Assert.That(f[i], Is.EqualTo(g[i]).Within(1e-6f * Math.Max(1, Math.Abs(g[i]))).Or.EqualTo(g[i]).Within(3e-7f).Percent, $"softplus({x[i]})");
        Elementwise.Map<SigmoidOperator, float>(x, f, path);
        BernoulliNaive.Sigmoid(x, g);
        for (int i = 0; i < n; i++) Assert.That(f[i], Is.EqualTo(g[i]).Within(1e-6f), $"sigmoid({x[i]})");
    }

    [TestCaseSource(nameof(Cases))]
    public void ExpOperator_MatchesMathExp_WithIeeeEdges(SimdPath path, int n)
    {
        var x = Logits(n, 6);
        float[] edges = [89f, 88.5f, 100f, -100f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        for (int i = 0; i < n; i += 5) x[i] = edges[i / 5 % edges.Length];
        var y = new float[n];
        Elementwise.Map<ExpOperator, float>(x, y, path);
        for (int i = 0; i < n; i++)
        {
            double e = Math.Exp(x[i]);
            if (double.IsNaN(e)) Assert.That(y[i], Is.NaN, $"exp({x[i]})");
            else if (e > float.MaxValue) Assert.That(y[i], Is.EqualTo(float.PositiveInfinity), $"exp({x[i]})");
            else if (e < 1.2e-38) Assert.That(y[i], Is.EqualTo(0f).Within(1.2e-38f), $"exp({x[i]})");
            else Assert.That(y[i], Is.EqualTo(e).Within(5e-7 * e), $"exp({x[i]})");
        }
    }

    [Test]
    public void FastExp_IsAccurateToAFewUlp_AcrossItsRange()
    {
        double worst = 0;
        for (float x = -87f; x <= 88f; x += 0.00731f)
        {
            double rel = Math.Abs(FastMath.Exp(x) - Math.Exp(x)) / Math.Exp(x);
            worst = Math.Max(worst, rel);
        }
        TestContext.Out.WriteLine($"max relative error of FastMath.Exp: {worst:E2}");
        Assert.That(worst, Is.LessThan(4e-7));
        Assert.That(FastMath.Exp(-1e4f), Is.Zero);
        Assert.That(float.IsFinite(FastMath.Exp(1e4f)), Is.True);
    }

    /// <summary>
    /// Exp's vector forms give the scalar form's bits lane by lane, on a dense grid and at the edges (the range
    /// limits, infinities, zeros, subnormals, NaN): 2^n is built with the machine's plain float-to-int conversion,
    /// which differs from the saturating one only on a NaN n, in a bit that the shift drops.
    /// </summary>
    [Test]
    public void FastExp_VectorFormsAreTheScalarFormBitForBit()
    {
        var inputs = new List<float> { float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f,
            float.Epsilon, -float.Epsilon, 1e-38f, -1e-38f, float.MaxValue, float.MinValue, 88f, 88.5f, 89f,
            -87.33654f, -87.33655f, -87.3365f, -88f, -103f, -104f, -150f, 1e4f, -1e4f };
        for (float v = -100f; v <= 100f; v += 0.0173f) inputs.Add(v);
        while (inputs.Count % 16 != 0) inputs.Add(1f);
        foreach (var path in Simd.Available.Where(p => p != SimdPath.Scalar))
        {
            var y = new float[inputs.Count];
            for (int i = 0; i < inputs.Count; i += 16)
            {
                var x = inputs.GetRange(i, 16).ToArray();
                if (path == SimdPath.Vector512) FastMath.Exp(Vector512.Create(x)).CopyTo(y, i);
                else if (path == SimdPath.Vector128)
                    for (int q = 0; q < 16; q += 4) FastMath.Exp(Vector128.Create(x, q)).CopyTo(y, i + q);
                else
                {
                    FastMath.Exp(Vector256.Create(x, 0)).CopyTo(y, i);
                    FastMath.Exp(Vector256.Create(x, 8)).CopyTo(y, i + 8);
                }
            }
            for (int i = 0; i < inputs.Count; i++)
            {
                float scalar = FastMath.Exp(inputs[i]);
                if (float.IsNaN(scalar)) Assert.That(y[i], Is.NaN, $"{path}: exp({inputs[i]})");
                else Assert.That(BitConverter.SingleToInt32Bits(y[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(scalar)), $"{path}: exp({inputs[i]})");
            }
        }
    }

    /// <summary>
    /// The Terms loops work on blocks of vectors in two stages (all the exps, then the rest), with the 16 lanes in one,
    /// two or four accumulators; their lanes and residuals are those of the scalar loop (lane j mod 16 adds column j's
    /// term, one fused multiply-add, in column order), bit for bit, for full and partial blocks and lanes that start non-zero.
    /// </summary>
    [TestCase(16), TestCase(32), TestCase(48), TestCase(112), TestCase(128), TestCase(144), TestCase(400), TestCase(416), TestCase(784)]
    public unsafe void Terms_OnEveryPath_AreTheScalarLoopBitForBit(int count)
    {
        var l = Logits(count, 21);
        var x = Binary(count, 22);
        var start = Enumerable.Range(0, 16).Select(i => 0.5f + i).ToArray();
        var want = (float[])start.Clone();
        var wantRes = new float[count];
        for (int j = 0; j < count; j++)
        {
            float t = FastMath.ExpNegAbs(l[j]);
            want[j % 16] += MathF.FusedMultiplyAdd(x[j], l[j], -FastMath.Softplus(l[j], t));
            wantRes[j] = x[j] - FastMath.Sigmoid(l[j], t);
        }
        foreach (var path in Simd.Available)
            foreach (bool residual in new[] { false, true })
            {
                var res = new float[count];
                var got = (float[])start.Clone();
                fixed (float* pl = l, px = x, pr = res, pg = got)
                    Bernoulli.Terms(path, pl, px, residual ? pr : null, count, pg);
                Assert.That(got.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(want.Select(BitConverter.SingleToInt32Bits)), $"{path}, lanes");
                if (residual) Assert.That(res.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(wantRes.Select(BitConverter.SingleToInt32Bits)), $"{path}, residuals");
                else Assert.That(res, Is.All.Zero, $"{path}: no residual pointer, nothing written");
            }
    }

    [Test]
    public void Log1pUnit_KeepsRelativeAccuracyForTinyArguments()
    {
        // Reference: the series t - t^2/2 + t^3/3 where 1 + t would round away t's digits in double.
        static double Log1p(double t) => t < 1e-4 ? t - t * t / 2 + t * t * t / 3 : Math.Log(1 + t);
        foreach (float t in new[] { 1e-30f, 1e-10f, 1e-5f, 0.1f, 0.5f, 1f })
            Assert.That(FastMath.Log1pUnit(t), Is.EqualTo(Log1p(t)).Within(3e-7 * Log1p(t)), $"t = {t}");
    }

    [Test]
    public void Float32BernoulliOp_AgreesWithFloat64Op()
    {
        var l = Logits(4 * 33, 7);
        var x = Binary(4 * 33, 8);
        var t32 = new Tape<float>();
        var y32 = t32.BernoulliLogLik(t32.Constant(Tensor<float>.FromArray(4, 33, l)), t32.Constant(Tensor<float>.FromArray(4, 33, x))).Value;
        var t64 = new Tape<double>();
        var y64 = t64.BernoulliLogLik(t64.Constant(Tensor<double>.FromArray(4, 33, l.Select(v => (double)v).ToArray())),
                                      t64.Constant(Tensor<double>.FromArray(4, 33, x.Select(v => (double)v).ToArray()))).Value;
        for (int r = 0; r < 4; r++) Assert.That(y32[r, 0], Is.EqualTo(y64[r, 0]).Within(1e-6 * (1 + Math.Abs(y64[r, 0]))));
    }
}
