using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The fused output layer (<see cref="Gemm.LinearBernoulli"/>) on every SIMD path: the row log-likelihoods, the residual
/// and the logits are bit for bit those of <see cref="Gemm.Linear{T}"/> followed by the Bernoulli kernels on the same path,
/// on 1, 2 and 3 threads, at sizes that hit every edge of the blocking and every tail of the vector steps; and close to
/// the float64 twins.
/// </summary>
public class LinearBernoulliTests
{
    // [m, n, k, target rows]. n = 1, 7, 15, 16, 17, 33 and 785 leave every tail of 16- and 8-lane steps, 784 and 200 are
    // the model's; k = 401 and 801 take two and three k blocks (C must then be written); m from 1 to 1000 (packed B, and
    // B read in place), half and padded row tiles.
    private static readonly int[][] Sizes =
    [
        [1, 1, 1, 1], [7, 7, 3, 7], [5, 15, 7, 1], [9, 16, 16, 3], [13, 17, 9, 13], [20, 33, 50, 4], [21, 785, 9, 7],
        [40, 200, 200, 20], [64, 784, 200, 16], [1000, 784, 200, 20], [30, 70, 401, 10], [21, 40, 801, 3],
    ];

    public enum Mode { Residual, Logits, Unwritten }

    private static IEnumerable<TestCaseData> Cases() =>
        from p in Simd.Available from s in Sizes from mode in Enum.GetValues<Mode>()
        where mode != Mode.Unwritten || s[2] <= Gemm.UnwrittenMaxK
        select new TestCaseData(p, s[0], s[1], s[2], s[3], mode);

    private static (float[] A, float[] B, float[] Bias, float[] X) Inputs(int m, int n, int k, int xRows)
    {
        var a = Random<float>(1, m * k, 71).Span.ToArray();
        var b = Random<float>(1, k * n, 72, 4 / Math.Sqrt(k)).Span.ToArray();
        // A wide bias: logits from about -30 to 30, so softplus and sigmoid saturate in places.
        var bias = Random<float>(1, n, 73, 30).Span.ToArray();
        var rng = new Rng(74);
        var x = Enumerable.Range(0, xRows * n).Select(_ => rng.NextFloat() < 0.3f ? 1f : 0f).ToArray();
        return (a, b, bias, x);
    }

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();

    [TestCaseSource(nameof(Cases))]
    public void LinearBernoulli_IsBitForBitLinearThenTheBernoulliKernels(SimdPath path, int m, int n, int k, int xRows, Mode mode)
    {
        var (a, b, bias, x) = Inputs(m, n, k, xRows);
        var logits = new float[m * n];
        Gemm.Linear<float>(a, b, bias, logits, m, n, k, tanh: false, path);
        var (expectedY, residual) = (new float[m], new float[m * n]);
        Bernoulli.LogLikRowsWithResidual(logits, x, expectedY, residual, n, path);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var y = Enumerable.Repeat(float.NaN, m).ToArray();
            var c = mode == Mode.Unwritten ? [] : Enumerable.Repeat(float.NaN, m * n).ToArray();
            Gemm.LinearBernoulli(a, b, bias, x, y, c, m, n, k, residual: mode == Mode.Residual, path, TestUtil.Threads(threads));
            Assert.That(Bits(y), Is.EqualTo(Bits(expectedY)), $"y, {threads} threads");
            if (mode == Mode.Residual) Assert.That(Bits(c), Is.EqualTo(Bits(residual)), $"residual, {threads} threads");
            if (mode == Mode.Logits) Assert.That(Bits(c), Is.EqualTo(Bits(logits)), $"logits, {threads} threads");
        }
    }

    /// <summary>Against the float64 twins: the naive GEMM's logits and the naive Bernoulli sum.</summary>
    [Test]
    public void LinearBernoulli_MatchesTheFloat64Twins([ValueSource(typeof(Simd), nameof(Simd.Available))] SimdPath path)
    {
        const int m = 45, n = 785, k = 37, xRows = 15;
        var (a, b, bias, x) = Inputs(m, n, k, xRows);
        var logits = new float[m * n];
        for (int r = 0; r < m; r++) bias.CopyTo(logits, r * n);
        GemmNaive.NN<float>(a, b, logits, m, n, k, accumulate: true);
        var naive = new float[m];
        BernoulliNaive.LogLikRows(logits, x, naive, n);
        var (y, c) = (new float[m], new float[m * n]);
        Gemm.LinearBernoulli(a, b, bias, x, y, c, m, n, k, residual: true, path);
        for (int r = 0; r < m; r++)
        {
            double scale = 1 + Enumerable.Range(0, n).Sum(j => Math.Abs(logits[r * n + j]));
            Assert.That(y[r], Is.EqualTo(naive[r]).Within(1e-5 * scale), $"row {r}");
        }
        var sig = new float[m * n];
        BernoulliNaive.Sigmoid(logits, sig);
        for (int i = 0; i < c.Length; i++) Assert.That(c[i], Is.EqualTo(x[i / n % xRows * n + i % n] - sig[i]).Within(1e-5), $"residual {i}");
    }

    /// <summary>No inner dimension: the logits are the bias in every row (written, unwritten, or as the residual); no pixels: 0.</summary>
    [Test]
    public void LinearBernoulli_OnEmptyDimensions_IsTheBiasAlone_OrZero()
    {
        var (_, _, bias, x) = Inputs(6, 9, 1, 3);
        var logits = Enumerable.Range(0, 6).SelectMany(_ => bias).ToArray();
        var (expected, residual) = (new float[6], new float[54]);
        Bernoulli.LogLikRowsWithResidual(logits, x, expected, residual, 9);
        foreach (var mode in Enum.GetValues<Mode>())
        {
            var y = new float[6];
            var c = mode == Mode.Unwritten ? [] : new float[54];
            Gemm.LinearBernoulli([], [], bias, x, y, c, 6, 9, 0, residual: mode == Mode.Residual);
            Assert.That(Bits(y), Is.EqualTo(Bits(expected)), $"{mode}: y");
            if (mode == Mode.Residual) Assert.That(Bits(c), Is.EqualTo(Bits(residual)), "residual");
            if (mode == Mode.Logits) Assert.That(Bits(c), Is.EqualTo(Bits(logits)), "logits");
        }
        var none = Enumerable.Repeat(float.NaN, 4).ToArray();
        Gemm.LinearBernoulli(new float[12], [], [], [], none, [], 4, 0, 3, residual: false);
        Assert.That(none, Is.All.Zero, "no pixels");
    }

    [Test]
    public void LinearBernoulli_RejectsWhatItCannotDo()
    {
        var (a, b, bias, x) = Inputs(4, 5, 3, 2);
        var y = new float[4];
        Assert.That(() => Gemm.LinearBernoulli(a, b, bias, x, y, [], 4, 5, 3, residual: true), Throws.ArgumentException, "residual needs C");
        var (a2, b2, _, _) = Inputs(4, 5, Gemm.UnwrittenMaxK + 1, 2);
        Assert.That(() => Gemm.LinearBernoulli(a2, b2, bias, x, y, [], 4, 5, Gemm.UnwrittenMaxK + 1, residual: false), Throws.ArgumentException, "two k blocks need C");
        Assert.That(() => Gemm.LinearBernoulli(a, b, bias, x[..5], new float[4], new float[20], 4, 5, 3, residual: false), Throws.Nothing, "one target row tiles all");
        Assert.That(() => Gemm.LinearBernoulli(a, b, bias, x.Concat(x[..5]).ToArray(), y, new float[20], 4, 5, 3, residual: false), Throws.ArgumentException, "3 target rows do not tile 4");
        Assert.That(() => Gemm.LinearBernoulli(a, b, bias[..4], x, y, new float[20], 4, 5, 3, residual: false), Throws.ArgumentException, "bias");
        Assert.That(() => Gemm.LinearBernoulli(a, b, bias, x, y, new float[19], 4, 5, 3, residual: false), Throws.ArgumentException, "short C");
    }
}
