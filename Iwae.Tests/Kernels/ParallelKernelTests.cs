using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The fused Gaussian kernels against their float64 twin on every SIMD path; the Bernoulli kernels with a
/// tiled target; and every kernel that runs on an <see cref="Execution"/>'s workers (elementwise maps, bias broadcast and
/// sum, Bernoulli, Gaussian, Adam) bit-identical on 1, 2 and 3 threads, on sizes that leave ragged parts.
/// </summary>
[NonParallelizable]
public class ParallelKernelTests
{
    private static readonly int[] Cols = [1, 7, 16, 17, 50, 51];

    private static IEnumerable<TestCaseData> Cases() =>
        from p in Simd.Available from c in Cols select new TestCaseData(p, c);

    private static float[] Uniform(int n, ulong seed, double lo, double hi)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(lo + (hi - lo) * rng.NextDouble())).ToArray();
    }

    [TestCaseSource(nameof(Cases))]
    public void GaussianLogDensity_MatchesFloat64Twin(SimdPath path, int cols)
    {
        const int rows = 5;
        var z = Uniform(rows * cols, 1, -4, 4);
        var mu = Uniform(rows * cols, 2, -2, 2);
        var s = Uniform(rows * cols, 3, -3, 2);
        var (fast, naive) = (new float[rows], new float[rows]);
        Gaussian.LogDensityRows(z, mu, s, fast, cols, path);
        GaussianNaive.LogDensityRows(z, mu, s, naive, cols);
        for (int r = 0; r < rows; r++) Assert.That(fast[r], Is.EqualTo(naive[r]).Within(2e-6 * (1 + Math.Abs(naive[r]))), $"row {r}");
    }

    [TestCaseSource(nameof(Cases))]
    public void GaussianBackward_MatchesFloat64Twin(SimdPath path, int cols)
    {
        const int rows = 3;
        var z = Uniform(rows * cols, 4, -4, 4);
        var mu = Uniform(rows * cols, 5, -2, 2);
        var s = Uniform(rows * cols, 6, -3, 2);
        float[] dy = [1.5f, -0.25f, 2f];
        var fast = Enumerable.Range(0, 3).Select(i => Enumerable.Repeat(0.125f * (i + 1), rows * cols).ToArray()).ToArray();
        var naive = fast.Select(a => (float[])a.Clone()).ToArray();
        Gaussian.Backward(z, mu, s, dy, fast[0], fast[1], fast[2], cols, path);
        GaussianNaive.Backward(z, mu, s, dy, naive[0], naive[1], naive[2], cols);
        for (int g = 0; g < 3; g++)
            for (int i = 0; i < rows * cols; i++)
                Assert.That(fast[g][i], Is.EqualTo(naive[g][i]).Within(2e-6 * (1 + Math.Abs(naive[g][i]))), $"gradient {g}, element {i}");

        // Gradients that are not wanted are skipped, and the others do not change.
        var only = Enumerable.Repeat(0.125f, rows * cols).ToArray();
        Gaussian.Backward(z, mu, s, dy, default, only, default, cols, path);
        Assert.That(only, Is.EqualTo(fast[1].Select((v, i) => v - 0.25f + 0.125f).ToArray()).Within(1e-5f));
    }

    [TestCaseSource(nameof(Cases))]
    public void Bernoulli_TiledTarget_MatchesRepeatedTarget(SimdPath path, int cols)
    {
        const int b = 3, k = 4, rows = b * k;
        var l = Uniform(rows * cols, 7, -20, 20);
        var rng = new Rng(8);
        var x = Enumerable.Range(0, b * cols).Select(_ => rng.NextFloat() < 0.4f ? 1f : 0f).ToArray();
        var repeated = Enumerable.Range(0, k).SelectMany(_ => x).ToArray();
        var (tiled, full, naive) = (new float[rows], new float[rows], new float[rows]);
        Bernoulli.LogLikRows(l, x, tiled, cols, path);
        Bernoulli.LogLikRows(l, repeated, full, cols, path);
        BernoulliNaive.LogLikRows(l, x, naive, cols);
        Assert.That(tiled, Is.EqualTo(full));
        for (int r = 0; r < rows; r++) Assert.That(tiled[r], Is.EqualTo(naive[r]).Within(2e-6 * (1 + 20 * cols)), $"row {r}");

        var dy = Uniform(rows, 9, -1, 1);
        var (dTiled, dFull) = (new float[rows * cols], new float[rows * cols]);
        Bernoulli.Backward(l, x, dy, dTiled, cols, path);
        Bernoulli.Backward(l, repeated, dy, dFull, cols, path);
        Assert.That(dTiled, Is.EqualTo(dFull));
    }

    [Test]
    public void Bernoulli_TargetThatDoesNotTile_Throws()
    {
        var l = new float[6 * 4];
        Assert.That(() => Bernoulli.LogLikRows(l, new float[4 * 4], new float[6], 4), Throws.ArgumentException);
        Assert.That(() => Bernoulli.LogLikRows(l, new float[5], new float[6], 4), Throws.ArgumentException);
    }

    [Test]
    public void BernoulliLogLikOp_TiledTarget_GradChecks()
    {
        var rng = new Rng(10);
        var l = new Parameter<double>("l", 6, 5);
        var x = new Parameter<double>("x", 2, 5);
        for (int i = 0; i < l.Value.Length; i++) l.Value.Span[i] = 6 * rng.NextDouble() - 3;
        for (int i = 0; i < x.Value.Length; i++) x.Value.Span[i] = rng.NextDouble();
        var result = GradCheck.Check(t => t.Sum(t.BernoulliLogLik(t.Param(l), t.Param(x))), [l, x]);
        Assert.That(result.Passed, Is.True, result.ToString());
    }

    /// <summary>Runs <paramref name="kernel"/> on executions of 1, 2 and 3 threads and returns the three outputs.</summary>
    private static float[][] OnThreads(Func<Execution, float[]> kernel) => [.. new[] { 1, 2, 3 }.Select(n => kernel(TestUtil.Threads(n)))];

    private static void AssertSameOnAnyThreadCount(Func<Execution, float[]> kernel)
    {
        var outs = OnThreads(kernel);
        Assert.That(outs[1], Is.EqualTo(outs[0]), "2 threads");
        Assert.That(outs[2], Is.EqualTo(outs[0]), "3 threads");
    }

    // Sizes past the parallel threshold, and not multiples of the 64-value cut.
    private const int Rows = 1001, Width = 83;

    [Test]
    public void ElementwiseMaps_AreBitIdenticalOnAnyThreadCount()
    {
        var a = Uniform(Rows * Width, 11, -5, 5);
        var b = Uniform(Rows * Width, 12, -5, 5);
        AssertSameOnAnyThreadCount(e => { var d = new float[a.Length]; Elementwise.Map<TanhOperator, float>(a, d, execution: e); return d; });
        AssertSameOnAnyThreadCount(e =>
        {
            var d = Uniform(a.Length, 13, -1, 1);
            Elementwise.Map<TanhGradOperator<float>, float>(a, b, d, accumulate: true, execution: e);
            return d;
        });
    }

    [Test]
    public void Clear_ZeroesLargeAndSmallSpans_OnAnyThreadCount()
    {
        foreach (int n in new[] { 5, Rows * Width })
            AssertSameOnAnyThreadCount(e =>
            {
                var x = Uniform(n + 2, 23, 1, 2);
                Elementwise.Clear(x.AsSpan(1, n), e);
                Assert.That(x.Skip(1).Take(n), Is.All.Zero);
                Assert.That((x[0], x[^1]), Is.Not.EqualTo((0f, 0f)), "the neighbours are untouched");
                return x;
            });
    }

    [Test]
    public void BiasGradientSum_IsBitIdenticalOnAnyThreadCount()
    {
        var row = Uniform(Width * 10, 14, -1, 1);
        var x = Uniform(Rows * Width * 10, 15, -1, 1);
        AssertSameOnAnyThreadCount(e => { var s = (float[])row.Clone(); Elementwise.SumRowsInto<float>(x, s, e); return s; });

        var sum = new float[row.Length];
        Elementwise.SumRowsInto<float>(x.AsSpan(0, 3 * row.Length), sum);
        for (int j = 0; j < row.Length; j += 97)
            Assert.That(sum[j], Is.EqualTo(x[j] + x[row.Length + j] + x[2 * row.Length + j]).Within(1e-6f));
    }

    [Test]
    public void BernoulliAndGaussian_AreBitIdenticalOnAnyThreadCount()
    {
        const int cols = 784, rows = 101;
        var l = Uniform(rows * cols, 16, -10, 10);
        var x = Uniform(cols, 17, 0, 1);
        var dy = Uniform(rows, 18, -1, 1);
        AssertSameOnAnyThreadCount(e => { var y = new float[rows]; Bernoulli.LogLikRows(l, x, y, cols, execution: e); return y; });
        AssertSameOnAnyThreadCount(e => { var d = new float[rows * cols]; Bernoulli.Backward(l, x, dy, d, cols, execution: e); return d; });
        AssertSameOnAnyThreadCount(e =>
        {
            var (y, res) = (new float[rows], new float[rows * cols]);
            Bernoulli.LogLikRowsWithResidual(l, x, y, res, cols, execution: e);
            return [.. y, .. res];
        });
        AssertSameOnAnyThreadCount(e => { var d = new float[rows * cols]; Bernoulli.BackwardFromResidual(l, dy, d, cols, execution: e); return d; });

        var mu = Uniform(rows * cols, 19, -1, 1);
        var s = Uniform(rows * cols, 20, -2, 1);
        AssertSameOnAnyThreadCount(e => { var y = new float[rows]; Gaussian.LogDensityRows(l, mu, s, y, cols, execution: e); return y; });
        AssertSameOnAnyThreadCount(e => { var d = new float[rows * cols]; Gaussian.Backward(l, mu, s, dy, d, d.AsSpan(), default, cols, execution: e); return d; });
    }

    /// <summary>
    /// The float standard-normal kernel keeps the bits of its reference's scalar loop run in float (one left-to-right
    /// chain per row, <see cref="GaussianNaive.StandardLogDensityRows{T}"/> with T = float), on row counts that leave 1-3 rows outside its groups of four, on 1, 2 and 3 threads; and it
    /// is within float rounding of the float64 twin. The backward pass is dz = fma(-dy, z, dz) on every path.
    /// </summary>
    [TestCase(1, 50)]
    [TestCase(7, 3)]
    [TestCase(1001, 50)]
    [TestCase(203, 33)]
    public void StandardNormal_KeepsTheScalarLoopsBits(int rows, int cols)
    {
        var z = Uniform(rows * cols, 31, -4, 4);
        var dy = Uniform(rows, 32, -1, 1);
        var loop = new float[rows];
        GaussianNaive.StandardLogDensityRows<float>(z, loop, cols);
        AssertSameOnAnyThreadCount(e =>
        {
            var y = new float[rows];
            StandardNormal.LogDensityRows(z, y, cols, e);
            Assert.That(y.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(loop.Select(BitConverter.SingleToInt32Bits)));
            return y;
        });
        var naive = new float[rows];
        GaussianNaive.StandardLogDensityRows(z, naive, cols);
        for (int r = 0; r < rows; r++) Assert.That(loop[r], Is.EqualTo(naive[r]).Within(1e-6 * (1 + cols * 8)), $"row {r}");

        var start = Uniform(rows * cols, 33, -1, 1);
        var twin = (float[])start.Clone();
        GaussianNaive.StandardBackward<float>(z, dy, twin, cols);
        // The backward pass is one fused multiply-add per element (the canonical order), dz = fma(-dy, z, dz): within an
        // ulp of the generic loop's two roundings, and those bits on every path.
        var expected = new float[start.Length];
        for (int i = 0; i < start.Length; i++) expected[i] = MathF.FusedMultiplyAdd(-dy[i / cols], z[i], start[i]);
        for (int i = 0; i < start.Length; i++) Assert.That(expected[i], Is.EqualTo(twin[i]).Within(1e-6f * (1 + Math.Abs(twin[i]))), $"element {i}");
        foreach (var path in Simd.Available)
        {
            var d = (float[])start.Clone();
            StandardNormal.Backward(z, dy, d, cols, path);
            Assert.That(d.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(expected.Select(BitConverter.SingleToInt32Bits)), $"{path}");
        }
        AssertSameOnAnyThreadCount(e => { var d = (float[])start.Clone(); StandardNormal.Backward(z, dy, d, cols, execution: e); return d; });
    }

    [Test]
    public void Adam_IsBitIdenticalOnAnyThreadCount()
    {
        AssertSameOnAnyThreadCount(e =>
        {
            var p = new Parameter<float>("w", Tensor<float>.Zeros(Rows, Width));
            Uniform(p.Value.Length, 21, -1, 1).CopyTo(p.Value.Span);
            var adam = new Adam<float>([p], 1e-2);
            for (int step = 0; step < 3; step++)
            {
                Uniform(p.Value.Length, 22 + (ulong)step, -1, 1).CopyTo(p.Grad.Span);
                adam.Step(e);
            }
            return p.Value.Span.ToArray();
        });
    }

    // Odd shapes: one value, tensors that end mid-cut, one past the parallel threshold on its own.
    private static readonly (int Rows, int Cols)[] Shapes = [(1, 1), (7, 9), (Rows, Width), (3, 64), (1, 5000), (13, 1)];

    private static Parameter<float>[] SeveralParameters(ulong seed) =>
        Shapes.Select((s, i) =>
        {
            var p = new Parameter<float>($"p{i}", s.Rows, s.Cols);
            Uniform(p.Value.Length, seed + (ulong)i, -1, 1).CopyTo(p.Value.Span);
            return p;
        }).ToArray();

    private static void SetGradients(Parameter<float>[] ps, ulong seed)
    {
        for (int i = 0; i < ps.Length; i++) Uniform(ps[i].Grad.Length, seed + 100 * (ulong)i, -1, 1).CopyTo(ps[i].Grad.Span);
    }

    [Test]
    public void Adam_OverSeveralParametersInOnePass_EqualsOneAdamPerTensor_OnAnyThreadCount()
    {
        float[] Run(Execution e, bool together)
        {
            var ps = SeveralParameters(31);
            var adams = together ? [new Adam<float>(ps, 1e-2)] : ps.Select(p => new Adam<float>([p], 1e-2)).ToArray();
            for (int step = 0; step < 3; step++)
            {
                SetGradients(ps, 40 + (ulong)step);
                foreach (var a in adams) a.Step(e);
            }
            return ps.SelectMany(p => p.Value.Span.ToArray()).ToArray();
        }

        var outs = OnThreads(e => Run(e, together: true));
        var apart = Run(TestUtil.Threads(1), together: false);
        for (int t = 0; t < 3; t++)
            Assert.That(outs[t].Select(BitConverter.SingleToInt32Bits), Is.EqualTo(apart.Select(BitConverter.SingleToInt32Bits)), $"{t + 1} threads");
    }

    private readonly struct RecordSegments(System.Collections.Concurrent.ConcurrentBag<(int, int, int)> seen) : ISegmentBody
    {
        public void Run(int index, int start, int end) => seen.Add((index, start, end));
    }

    /// <summary>
    /// Adam's passes cut every tensor alike: on n threads, tensor t is run as n slices at multiples of 64 (a tensor under
    /// 64 items whole in the last), so a thread keeps the same part of every parameter; on one thread, or below the
    /// parallel threshold, every tensor runs whole. Either way every item is covered once.
    /// </summary>
    [Test]
    public void TensorSlices_CutEveryTensorIntoTheSameSlices()
    {
        int[] lengths = [64 * 1000, 50, 64 * 700 + 5, 0, 64 * 600];
        static List<(int, int, int)> Segments(int threads, int[] lengths, long workPerItem)
        {
            var seen = new System.Collections.Concurrent.ConcurrentBag<(int, int, int)>();
            TensorSlices<RecordSegments>.For(new RecordSegments(seen), lengths, 64, workPerItem, TestUtil.Threads(threads));
            return seen.OrderBy(s => s).ToList();
        }
        Assert.That(Segments(3, lengths, 1), Is.EqualTo(new List<(int, int, int)>
        {
            (0, 0, 21312), (0, 21312, 42624), (0, 42624, 64000), (1, 0, 50), (2, 0, 14912), (2, 14912, 29824), (2, 29824, 44805),
            (4, 0, 12800), (4, 12800, 25600), (4, 25600, 38400),
        }));
        var whole = new List<(int, int, int)> { (0, 0, 64000), (1, 0, 50), (2, 0, 44805), (4, 0, 38400) };
        Assert.That(Segments(1, lengths, 1), Is.EqualTo(whole), "one thread");
        Assert.That(Segments(2, [64 * 100, 50], 1), Is.EqualTo(new List<(int, int, int)> { (0, 0, 6400), (1, 0, 50) }), "below the threshold");
    }

    [Test]
    public void AdamZeroGradAndFiniteCheck_CoverEveryParameter_OnAnyThreadCount()
    {
        var ps = SeveralParameters(51);
        var adam = new Adam<float>(ps);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var e = TestUtil.Threads(threads);
            SetGradients(ps, 60);
            Assert.That(adam.FirstNonFiniteGradient(e), Is.EqualTo(-1), $"{threads} threads, all finite");
            ps[4].Grad.Span[^1] = float.PositiveInfinity;
            Assert.That(adam.FirstNonFiniteGradient(e), Is.EqualTo(4), $"{threads} threads");
            ps[2].Grad.Span[Rows * Width / 2 + 1] = float.NaN;     // in the second half of the big tensor
            Assert.That(adam.FirstNonFiniteGradient(e), Is.EqualTo(2), $"{threads} threads");
            ps[0].Grad.Span[0] = float.NegativeInfinity;
            Assert.That(adam.FirstNonFiniteGradient(e), Is.EqualTo(0), $"{threads} threads");

            adam.ZeroGrad(e);
            foreach (var p in ps)
                Assert.That(p.Grad.Span.ToArray().All(g => BitConverter.SingleToInt32Bits(g) == 0), Is.True, $"{threads} threads, {p.Name} zeroed");
            Assert.That(adam.FirstNonFiniteGradient(e), Is.EqualTo(-1), $"{threads} threads, after zeroing");

            // No parameters, or only empty ones: nothing to do, and nothing breaks.
            var none = new Adam<float>([]);
            var empty = new Adam<float>([new Parameter<float>("e0", 0, 3), new Parameter<float>("e1", 2, 0)]);
            foreach (var a in new[] { none, empty })
            {
                a.ZeroGrad(e);
                a.Step(e);
                Assert.That(a.FirstNonFiniteGradient(e), Is.EqualTo(-1));
            }
        }
    }
}
