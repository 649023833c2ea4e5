using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The canonical order (issue 26): every elementwise and density kernel gives the same bits on every path in
/// <see cref="Simd.Available"/> (bits compared, not a tolerance), on odd sizes and awkward values (+-0, subnormals,
/// huge, NaN where the kernel passes it: any NaN for a NaN); and a row sum is the 16-lane sum with its fixed combine tree, written out here.
/// Closeness to the float64 twins is tested beside each kernel (BernoulliKernelTests, ParallelKernelTests, FastTanhTests).
/// </summary>
public class CanonicalOrderTests
{
    private static readonly int[] Sizes = [1, 2, 7, 15, 16, 17, 31, 33, 50, 784, 785];

    private static IEnumerable<TestCaseData> Cases() =>
        from p in Simd.Available where p != SimdPath.Scalar from n in Sizes select new TestCaseData(p, n);

    private static readonly float[] Awkward =
        [0f, -0f, float.Epsilon, -float.Epsilon, 1e-38f, -1e-38f, 1e-7f, -1e-7f, 0.3999f, 0.4f, -0.4001f, 1f, -1f, 20f, -20f,
         87.5f, -87.5f, 88f, -88f, 88.5f, 90f, -90f, 1e4f, -1e4f, 3e38f, -3e38f, float.PositiveInfinity, float.NegativeInfinity];

    /// <summary>Random values in [-scale, scale] with an awkward value at every third index.</summary>
    private static float[] Values(int n, ulong seed, float scale, bool nan = false)
    {
        var rng = new Rng(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(scale * (2 * rng.NextDouble() - 1));
        for (int i = 0; i < n; i += 3) v[i] = Awkward[i / 3 % Awkward.Length];
        if (nan && n > 4) v[n / 2] = float.NaN;
        return v;
    }

    private static float[] Binary(int n, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextFloat() < 0.3f ? 1f : 0f).ToArray();
    }

    /// <summary>
    /// The bits of each value, every NaN as one: a NaN's sign and payload are not part of the contract (x64 makes its
    /// default NaN negative and ARM64 positive, and the JIT may fold a negation into a negated FMA, which keeps a NaN's
    /// sign), only that a NaN stays a NaN.
    /// </summary>
    private static int[] Bits(float[] v) => v.Select(f => float.IsNaN(f) ? int.MinValue : BitConverter.SingleToInt32Bits(f)).ToArray();

    private static void AssertSameBits(float[] got, float[] scalar, string what) => Assert.That(Bits(got), Is.EqualTo(Bits(scalar)), what);

    [TestCaseSource(nameof(Cases))]
    public void UnaryOperators_GiveTheScalarBits(SimdPath path, int n)
    {
        var x = Values(n, 1, 6, nan: true);
        Check<TanhOperator>("tanh");
        Check<ExpOperator>("exp");
        Check<SoftplusOperator>("softplus");
        Check<SigmoidOperator>("sigmoid");

        void Check<TOp>(string what) where TOp : IUnaryOperator<float>
        {
            var (got, want) = (new float[n], new float[n]);
            Elementwise.Map<TOp, float>(x, got, path);
            Elementwise.Map<TOp, float>(x, want, SimdPath.Scalar);
            AssertSameBits(got, want, what);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void TanhGrad_GivesTheScalarBits(SimdPath path, int n)
    {
        var y = Values(n, 2, 1, nan: true);
        var dy = Values(n, 3, 2);
        var d0 = Values(n, 4, 1);
        foreach (bool accumulate in new[] { false, true })
        {
            var (got, want) = ((float[])d0.Clone(), (float[])d0.Clone());
            Elementwise.Map<TanhGradOperator<float>, float>(y, dy, got, accumulate, path);
            Elementwise.Map<TanhGradOperator<float>, float>(y, dy, want, accumulate, SimdPath.Scalar);
            AssertSameBits(got, want, $"accumulate={accumulate}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Bernoulli_GivesTheScalarBits(SimdPath path, int cols)
    {
        const int rows = 6, xRows = 3;
        var l = Values(rows * cols, 5, 40);
        for (int i = 0; i < l.Length; i++) if (float.IsInfinity(l[i]) || Math.Abs(l[i]) > 1e5f) l[i] = Math.Sign(l[i]) * 1e4f;
        var x = Binary(xRows * cols, 6);
        float[] dy = [1.5f, -0.25f, 2f, 0f, -3f, 0.5f];

        var (y, yWant) = (new float[rows], new float[rows]);
        Bernoulli.LogLikRows(l, x, y, cols, path);
        Bernoulli.LogLikRows(l, x, yWant, cols, SimdPath.Scalar);
        AssertSameBits(y, yWant, "y");

        var (res, resWant) = (new float[rows * cols], new float[rows * cols]);
        Bernoulli.LogLikRowsWithResidual(l, x, y, res, cols, path);
        Bernoulli.LogLikRowsWithResidual(l, x, yWant, resWant, cols, SimdPath.Scalar);
        AssertSameBits(y, yWant, "y with residual");
        AssertSameBits(res, resWant, "residual");

        var d0 = Values(rows * cols, 7, 1);
        var (d, dWant) = ((float[])d0.Clone(), (float[])d0.Clone());
        Bernoulli.Backward(l, x, dy, d, cols, path);
        Bernoulli.Backward(l, x, dy, dWant, cols, SimdPath.Scalar);
        AssertSameBits(d, dWant, "backward");

        (d, dWant) = ((float[])d0.Clone(), (float[])d0.Clone());
        Bernoulli.BackwardFromResidual(res, dy, d, cols, path);
        Bernoulli.BackwardFromResidual(resWant, dy, dWant, cols, SimdPath.Scalar);
        AssertSameBits(d, dWant, "backward from residual");
        Bernoulli.BackwardFromResidual(res, dy, d, cols, path, overwrite: true);
        Bernoulli.BackwardFromResidual(resWant, dy, dWant, cols, SimdPath.Scalar, overwrite: true);
        AssertSameBits(d, dWant, "backward from residual, overwrite");
    }

    [TestCaseSource(nameof(Cases))]
    public void Gaussian_GivesTheScalarBits(SimdPath path, int cols)
    {
        const int rows = 5;
        var z = Values(rows * cols, 8, 3);
        var mu = Values(rows * cols, 9, 3);
        var s = Values(rows * cols, 10, 2);
        // log sigma from -40 to 40 (exp(-s) from 4e-18 to 2e17) and +-0; infinities and 3e38 would only make inf - inf.
        for (int i = 0; i < s.Length; i++) if (!(Math.Abs(s[i]) <= 40)) s[i] = Math.Sign(s[i]) * 40;
        for (int i = 0; i < z.Length; i++) if (!(Math.Abs(z[i]) <= 1e4f)) z[i] = Math.Sign(z[i]) * 1e4f;
        var dy = Values(rows, 11, 2);
        dy[0] = -0f;

        var (y, yWant) = (new float[rows], new float[rows]);
        Gaussian.LogDensityRows(z, mu, s, y, cols, path);
        Gaussian.LogDensityRows(z, mu, s, yWant, cols, SimdPath.Scalar);
        AssertSameBits(y, yWant, "y");

        var (dz, dm, ds) = (Values(rows * cols, 12, 1), Values(rows * cols, 13, 1), Values(rows * cols, 14, 1));
        var (dzW, dmW, dsW) = ((float[])dz.Clone(), (float[])dm.Clone(), (float[])ds.Clone());
        Gaussian.Backward(z, mu, s, dy, dz, dm, ds, cols, path);
        Gaussian.Backward(z, mu, s, dy, dzW, dmW, dsW, cols, SimdPath.Scalar);
        AssertSameBits(dz, dzW, "dz");
        AssertSameBits(dm, dmW, "dmu");
        AssertSameBits(ds, dsW, "ds");

        var (sz, szW) = (Values(rows * cols, 15, 1), Values(rows * cols, 15, 1));
        StandardNormal.Backward(z, dy, sz, cols, path);
        StandardNormal.Backward(z, dy, szW, cols, SimdPath.Scalar);
        AssertSameBits(sz, szW, "standard normal dz");
    }

    /// <summary>The 16 lanes and the tree, written out: lane j mod 16 sums its terms in column order, then the pairs.</summary>
    private static float CanonicalSum(Func<int, float> term, int n)
    {
        var lane = new float[16];
        for (int j = 0; j < n; j++) lane[j % 16] += term(j);
        var s8 = Enumerable.Range(0, 8).Select(i => lane[i] + lane[i + 8]).ToArray();
        var s4 = Enumerable.Range(0, 4).Select(i => s8[i] + s8[i + 4]).ToArray();
        var s2 = Enumerable.Range(0, 2).Select(i => s4[i] + s4[i + 2]).ToArray();
        return s2[0] + s2[1];
    }

    [TestCaseSource(nameof(Cases))]
    public void RowSums_AreTheSixteenLaneOrder(SimdPath path, int cols)
    {
        const int rows = 3;
        var l = Values(rows * cols, 16, 30);
        for (int i = 0; i < l.Length; i++) if (!(Math.Abs(l[i]) <= 1e4f)) l[i] = 1e4f;
        var x = Binary(rows * cols, 17);
        var y = new float[rows];
        Bernoulli.LogLikRows(l, x, y, cols, path);
        for (int r = 0; r < rows; r++)
        {
            float want = CanonicalSum(j =>
            {
                float lj = l[r * cols + j];
                return MathF.FusedMultiplyAdd(x[r * cols + j], lj, -FastMath.Softplus(lj));
            }, cols);
            Assert.That(BitConverter.SingleToInt32Bits(y[r]), Is.EqualTo(BitConverter.SingleToInt32Bits(want)), $"bernoulli row {r}");
        }

        var (z, mu, s) = (Values(rows * cols, 18, 3), Values(rows * cols, 19, 3), Values(rows * cols, 20, 2));
        for (int i = 0; i < s.Length; i++)
        {
            if (!(Math.Abs(s[i]) <= 40)) s[i] = 40;
            if (!(Math.Abs(z[i]) <= 1e4f)) z[i] = 1e4f;
        }
        Gaussian.LogDensityRows(z, mu, s, y, cols, path);
        for (int r = 0; r < rows; r++)
        {
            float want = CanonicalSum(j =>
            {
                int i = r * cols + j;
                float u = (z[i] - mu[i]) * FastMath.Exp(-s[i]);
                return MathF.FusedMultiplyAdd(-0.5f * u, u, -s[i]);
            }, cols) - cols * 0.918938533f;
            Assert.That(BitConverter.SingleToInt32Bits(y[r]), Is.EqualTo(BitConverter.SingleToInt32Bits(want)), $"gaussian row {r}");
        }
    }

    /// <summary>
    /// The fused output layer's Bernoulli epilogue gives the scalar Bernoulli kernel's bits on every path and thread count,
    /// with strips that start inside a 16-column group (k = 400 splits 785 columns into blocks). The inputs are small
    /// multiples of 1/4, so every order of the GEMM's sums gives the same exact logits and only the epilogue is tested.
    /// </summary>
    [Test]
    public void LinearBernoulli_GivesTheScalarBernoulliBits([ValueSource(typeof(Simd), nameof(Simd.Available))] SimdPath path,
        [Values(1, 7, 17, 33, 784, 785)] int n, [Values(3, 400)] int k)
    {
        const int m = 37, xRows = 37;
        var rng = new Rng(31);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextInt(5) - 2)).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => 0.25f * (rng.NextInt(3) - 1)).ToArray();
        var bias = Enumerable.Range(0, n).Select(_ => 0.25f * (rng.NextInt(241) - 120)).ToArray();
        var x = Binary(xRows * n, 32);
        var logits = new float[m * n];
        for (int r = 0; r < m; r++) bias.CopyTo(logits, r * n);
        GemmNaive.NN<float>(a, b, logits, m, n, k, accumulate: true);
        var (want, residual) = (new float[m], new float[m * n]);
        Bernoulli.LogLikRowsWithResidual(logits, x, want, residual, n, SimdPath.Scalar);
        foreach (int threads in new[] { 1, 2, 3 })
            foreach (bool withResidual in new[] { false, true })
            {
                var (y, c) = (new float[m], new float[m * n]);
                Gemm.LinearBernoulli(a, b, bias, x, y, c, m, n, k, residual: withResidual, path, TestUtil.Threads(threads));
                AssertSameBits(y, want, $"y, {threads} threads, residual={withResidual}");
                AssertSameBits(c, withResidual ? residual : logits, $"c, {threads} threads, residual={withResidual}");
            }
    }
}
