using System.Numerics;
using Iwae.Autodiff.Kernels;
using Iwae.Autodiff;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Kernels;

/// <summary>
/// Every GEMM form on every SIMD path this machine runs, against the naive triple loop, at sizes that hit
/// every edge of the blocking (partial tiles, half tiles, padded rows, several k and column blocks); plus
/// the promises the fast path makes: accumulate adds, results do not depend on the thread count, and a
/// steady-state call allocates nothing.
/// </summary>
public class GemmTests
{
    public enum Form { NN, NT, TN }

    // [m, n, k]. 1, 7, 33, 785 on each axis; k = 1, n = 1, m = 1; the model's encoder shapes;
    // 40 x 1100 x 300, which needs two k blocks and two column blocks; and 21 x 70 x 801: full, half and
    // padded row tiles against full and quarter panels over three k blocks.
    private static readonly int[][] Sizes =
    [
        [1, 1, 1], [7, 1, 3], [1, 33, 7], [7, 7, 7], [7, 33, 16], [33, 7, 65], [33, 33, 33], [16, 17, 15],
        [13, 785, 9], [3, 9, 785], [785, 3, 5], [65, 64, 200], [9, 40, 1], [40, 1, 300], [1, 300, 40],
        [20, 200, 784], [20, 784, 200], [40, 1100, 300], [21, 70, 801],
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var p in Simd.Available)
            foreach (var f in Enum.GetValues<Form>())
                foreach (var s in Sizes)
                    foreach (bool acc in new[] { false, true })
                        yield return new TestCaseData(p, f, s[0], s[1], s[2], acc);
    }

    private static void Fast<T>(Form f, SimdPath path, T[] a, T[] b, T[] c, int m, int n, int k, bool acc, Execution? execution = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (f)
        {
            case Form.NN: Gemm.NN<T>(a, b, c, m, n, k, acc, path, execution); break;
            case Form.NT: Gemm.NT<T>(a, b, c, m, n, k, acc, path, execution); break;
            default: Gemm.TN<T>(a, b, c, m, n, k, acc, path, execution: execution); break;
        }
    }

    private static void Naive<T>(Form f, T[] a, T[] b, T[] c, int m, int n, int k, bool acc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (f)
        {
            case Form.NN: GemmNaive.NN<T>(a, b, c, m, n, k, acc); break;
            case Form.NT: GemmNaive.NT<T>(a, b, c, m, n, k, acc); break;
            default: GemmNaive.TN<T>(a, b, c, m, n, k, acc); break;
        }
    }

    /// <summary>
    /// Per-element error allowance: rel * (|c0| + sum_q |a_iq| |b_qj|), the scale a rounding error of the
    /// sum can reach whatever its order; computed with the naive loops on |a|, |b|.
    /// </summary>
    private static double[] Scale<T>(Form f, T[] a, T[] b, T[] c0, int m, int n, int k, bool acc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var absA = a.Select(x => double.CreateTruncating(T.Abs(x))).ToArray();
        var absB = b.Select(x => double.CreateTruncating(T.Abs(x))).ToArray();
        var s = c0.Select(x => double.CreateTruncating(T.Abs(x))).ToArray();
        Naive(f, absA, absB, s, m, n, k, acc);
        return s;
    }

    private static (T[] A, T[] B, T[] C0) Inputs<T>(int m, int n, int k, ulong seed) where T : unmanaged, IFloatingPointIeee754<T>
        => (Random<T>(1, m * k, seed).Span.ToArray(), Random<T>(1, k * n, seed + 1).Span.ToArray(), Random<T>(1, m * n, seed + 2).Span.ToArray());

    private static void AssertClose<T>(T[] fast, T[] naive, double[] scale, double rel, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < fast.Length; i++)
        {
            double d = Math.Abs(double.CreateTruncating(fast[i]) - double.CreateTruncating(naive[i]));
            if (!(d <= rel * scale[i] + 1e-30))
                Assert.Fail($"{what}: element {i}: fast {fast[i]} naive {naive[i]} (allowed {rel * scale[i]:G3})");
        }
    }

    // Float: sums in a different order than the naive loop, each rounding ~6e-8; ~1e-5 sqrt(k) is the
    // suggested bound and leaves a dropped or doubled term (~1/k of the scale) clearly visible.
    private static double FloatRel(int k) => 1e-5 * Math.Sqrt(k);

    [TestCaseSource(nameof(Cases))]
    public void Float_FastPathMatchesNaive(SimdPath path, Form f, int m, int n, int k, bool acc)
    {
        var (a, b, c0) = Inputs<float>(m, n, k, 1);
        var (fast, naive) = ((float[])c0.Clone(), (float[])c0.Clone());
        Fast(f, path, a, b, fast, m, n, k, acc);
        Naive(f, a, b, naive, m, n, k, acc);
        AssertClose(fast, naive, Scale(f, a, b, c0, m, n, k, acc), FloatRel(k), $"{path} {f}");
    }

    [TestCaseSource(nameof(Cases))]
    public void Double_FastPathMatchesNaive(SimdPath path, Form f, int m, int n, int k, bool acc)
    {
        var (a, b, c0) = Inputs<double>(m, n, k, 4);
        var (fast, naive) = ((double[])c0.Clone(), (double[])c0.Clone());
        Fast(f, path, a, b, fast, m, n, k, acc);
        Naive(f, a, b, naive, m, n, k, acc);
        AssertClose(fast, naive, Scale(f, a, b, c0, m, n, k, acc), 1e-12, $"{path} {f}");
    }

    /// <summary>
    /// Large shapes once per form and type, every path against one naive run: the decoder's largest layer
    /// (m, n, k) = (1000, 200, 784), and 133 x 1100 x 450, tall enough to pack B, with two column blocks,
    /// two k blocks and a padded last row tile.
    /// </summary>
    [Test]
    public void LargeShapes_AllPathsMatchNaive([Values] Form f, [Values(typeof(float), typeof(double))] Type t,
        [Values("1000x200x784", "133x1100x450")] string shape)
    {
        var d = shape.Split('x').Select(int.Parse).ToArray();
        if (t == typeof(float)) Large<float>(f, d[0], d[1], d[2], FloatRel(d[2]));
        else Large<double>(f, d[0], d[1], d[2], 1e-12);
    }

    private static void Large<T>(Form f, int m, int n, int k, double rel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (a, b, c0) = Inputs<T>(m, n, k, 7);
        var naive = (T[])c0.Clone();
        Naive(f, a, b, naive, m, n, k, true);
        var scale = Scale(f, a, b, c0, m, n, k, true);
        foreach (var path in Simd.Available)
        {
            var fast = (T[])c0.Clone();
            Fast(f, path, a, b, fast, m, n, k, true);
            AssertClose(fast, naive, scale, rel, $"{path} {f}");
        }
    }

    [Test]
    public void Accumulate_AddsIntoC([Values] Form f)
    {
        const int m = 37, n = 45, k = 53;
        var (a, b, _) = Inputs<double>(m, n, k, 11);
        var once = new double[m * n];
        Fast(f, Simd.Best, a, b, once, m, n, k, false);
        var twice = Enumerable.Repeat(1.0, m * n).ToArray();
        Fast(f, Simd.Best, a, b, twice, m, n, k, true);
        Fast(f, Simd.Best, a, b, twice, m, n, k, true);
        for (int i = 0; i < once.Length; i++) Assert.That(twice[i], Is.EqualTo(1 + 2 * once[i]).Within(1e-12 * (1 + Math.Abs(once[i]))));
    }

    [Test]
    public void OverwriteMode_IgnoresWhatCHeld([Values] Form f)
    {
        const int m = 9, n = 35, k = 300;
        var (a, b, _) = Inputs<float>(m, n, k, 12);
        var clean = new float[m * n];
        var dirty = Enumerable.Repeat(float.NaN, m * n).ToArray();
        Fast(f, Simd.Best, a, b, clean, m, n, k, false);
        Fast(f, Simd.Best, a, b, dirty, m, n, k, false);
        Assert.That(dirty, Is.EqualTo(clean));
    }

    [Test]
    public void EmptyK_ClearsOrKeepsC([Values] Form f)
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        Fast(f, Simd.Best, [], [], c, 2, 3, 0, true);
        Assert.That(c, Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        Fast(f, Simd.Best, [], [], c, 2, 3, 0, false);
        Assert.That(c, Is.All.EqualTo(0f));
    }

    /// <summary>
    /// Threads own disjoint blocks of C and every element keeps the same summation order, so 1, 2 and 3
    /// threads give the same bits. Shapes that split by rows (1000 x 200), by columns (20 x 784) and
    /// that take the column-block path (40 x 1100).
    /// </summary>
    [Test]
    public void ThreadCount_DoesNotChangeABit([Values] Form f, [Values(1000, 20, 40)] int m)
    {
        int n = m switch { 1000 => 200, 20 => 784, _ => 1100 }, k = m == 1000 ? 784 : 300;
        var (a, b, c0) = Inputs<float>(m, n, k, 21);
        var (da, db, dc0) = Inputs<double>(m, n, k, 22);
        float[]? first = null;
        double[]? firstD = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var e = TestUtil.Threads(threads);
            var c = (float[])c0.Clone();
            Fast(f, Simd.Best, a, b, c, m, n, k, true, e);
            var dc = (double[])dc0.Clone();
            Fast(f, Simd.Best, da, db, dc, m, n, k, true, e);
            first ??= c;
            firstD ??= dc;
            Assert.That(c.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(first.Select(BitConverter.SingleToInt32Bits)), $"float, {threads} threads");
            Assert.That(dc.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(firstD.Select(BitConverter.DoubleToInt64Bits)), $"double, {threads} threads");
        }
    }

    /// <summary>
    /// A GEMM on two threads is cut where its largest share costs least, counting what the share reads as well as its
    /// multiply-adds: the output layer's weight gradient (TN, 200 x 784 over 1000 rows) and the first decoder layer's
    /// (50 x 200) by columns, so that each thread reads half of dY instead of all of it; the 1000-row forward and dX
    /// products and the 200 x 200 weight gradient by rows; a 20-row layer by columns.
    /// </summary>
    [TestCase(200, 784, 1000, false)]
    [TestCase(50, 200, 1000, false)]
    [TestCase(1000, 784, 200, true)]
    [TestCase(1000, 200, 784, true)]
    [TestCase(1000, 200, 200, true)]
    [TestCase(200, 200, 1000, true)]
    [TestCase(20, 200, 784, false)]
    public void TwoThreadSplit_WeighsTheOperandsReadBesideTheWork(int m, int n, int k, bool byRows)
    {
        var work = new GemmWork<float>();
        work.Set(new GemmProblem<float> { M = m, N = n, K = k }, SimdPath.Vector512, threads: 2);
        Assert.That((work.ByRows, work.Parts), Is.EqualTo((byRows, 2)));
    }

    private static IEnumerable<TestCaseData> LinearCases()
    {
        foreach (var p in Simd.Available)
            foreach (var s in Sizes)
                foreach (bool tanh in new[] { false, true })
                    yield return new TestCaseData(p, s[0], s[1], s[2], tanh);
    }

    /// <summary>
    /// Gemm.Linear (the bias as each chain's start, tanh applied after the last k block) gives the
    /// bits of the three passes it replaces: broadcast the bias into C, NN with accumulate, tanh over C; in float
    /// (FastMath's tanh, whose scalar, Vector256 and Vector512 forms must agree) and in double, on 1 and 2 threads.
    /// </summary>
    [TestCaseSource(nameof(LinearCases))]
    public void Linear_EqualsBiasThenAccumulatingNnThenTanh_BitForBit(SimdPath path, int m, int n, int k, bool tanh)
    {
        static void Check<T>(SimdPath path, int m, int n, int k, bool tanh, ulong seed) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var (a, b, _) = Inputs<T>(m, n, k, seed);
            var bias = Random<T>(1, n, seed + 3).Span.ToArray();
            var expected = new T[m * n];
            for (int r = 0; r < m; r++) bias.CopyTo(expected, r * n);
            Gemm.NN<T>(a, b, expected, m, n, k, accumulate: true, path);
            if (tanh) Activations.Tanh<T>(expected, expected);
            foreach (int threads in new[] { 1, 2 })
            {
                var c = new T[m * n];
                c.AsSpan().Fill(T.NaN);                 // every element must be written
                Gemm.Linear<T>(a, b, bias, c, m, n, k, tanh, path, TestUtil.Threads(threads));
                for (int i = 0; i < c.Length; i++)
                    if (!c[i].Equals(expected[i]))
                        Assert.Fail($"{typeof(T).Name} {path} {threads} threads: element {i}: {c[i]} against {expected[i]}");
            }
        }
        Check<float>(path, m, n, k, tanh, 31);
        Check<double>(path, m, n, k, tanh, 41);
    }

    /// <summary>
    /// TN with column sums (a layer's bias gradient beside its weight gradient) gives C's bits of TN without them, and sums
    /// with the bits of <see cref="Elementwise.SumRowsInto{T}"/> over B, on every path and size, on 1, 2 and 3 threads
    /// (shares split by rows sum disjoint slices of the columns, shares split by columns their own), float and double.
    /// </summary>
    [Test]
    public void TnColumnSums_AreSumRowsInto_BitForBit([Values(typeof(float), typeof(double))] Type t)
    {
        static void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (var p in Simd.Available)
                foreach (var s in Sizes.Append([0, 5, 7]))
                {
                    int m = s[0], n = s[1], k = s[2];
                    var (a, b, c0) = Inputs<T>(m, n, k, 61);
                    var sums0 = Random<T>(1, n, 64).Span.ToArray();
                    var (expectedC, expectedSums) = ((T[])c0.Clone(), (T[])sums0.Clone());
                    Gemm.TN<T>(a, b, expectedC, m, n, k, accumulate: true, p);
                    Elementwise.SumRowsInto<T>(b.AsSpan(0, k * n), expectedSums);
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var (c, sums) = ((T[])c0.Clone(), (T[])sums0.Clone());
                        Gemm.TN<T>(a, b, c, m, n, k, accumulate: true, p, columnSums: sums, execution: TestUtil.Threads(threads));
                        string where = $"{typeof(T).Name} {p} {m}x{n}x{k}, {threads} threads";
                        Assert.That(c, Is.EqualTo(expectedC), $"C, {where}");
                        for (int j = 0; j < n; j++)
                            if (!sums[j].Equals(expectedSums[j])) Assert.Fail($"sum {j}: {sums[j]} against {expectedSums[j]}, {where}");
                    }
                }
            Assert.That(() => Gemm.TN<T>(new T[6], new T[6], new T[4], 2, 2, 3, false, columnSums: new T[3]), Throws.ArgumentException);
        }
        if (t == typeof(float)) Check<float>();
        else Check<double>();
    }

    /// <summary>
    /// A layer's backward GEMMs in one call (side by side on two threads or more when the rows are few, else one after the
    /// other) give the bits of NT and TN with column sums called one by one: every size, dx written or added into, each
    /// output left out in turn, on 1, 2 and 3 threads, float and double.
    /// </summary>
    [Test]
    public void LinearBackward_IsNtAndTnCalledOneByOne([Values(typeof(float), typeof(double))] Type t)
    {
        static void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (var s in Sizes.Append([300, 40, 30]))
            {
                // rows x in x out as the layer sees them.
                int rows = s[0], inF = s[1], outF = s[2];
                var dz = Random<T>(rows, outF, 81).Span.ToArray();
                var x = Random<T>(rows, inF, 82).Span.ToArray();
                var w = Random<T>(inF, outF, 83).Span.ToArray();
                var (dx0, dw0, db0) = (Random<T>(rows, inF, 84).Span.ToArray(), Random<T>(inF, outF, 85).Span.ToArray(), Random<T>(1, outF, 86).Span.ToArray());
                foreach (bool acc in new[] { false, true })
                {
                    var (dx, dw, db) = ((T[])dx0.Clone(), (T[])dw0.Clone(), (T[])db0.Clone());
                    Gemm.NT<T>(dz, w, dx, rows, inF, outF, acc);
                    Gemm.TN<T>(x, dz, dw, inF, outF, rows, accumulate: true, columnSums: db);
                    foreach (int threads in new[] { 1, 2, 3 })
                        foreach (int leftOut in new[] { -1, 0, 1, 2 })
                        {
                            var (fx, fw, fb) = ((T[])dx0.Clone(), (T[])dw0.Clone(), (T[])db0.Clone());
                            Gemm.LinearBackward<T>(dz, x, w, leftOut == 0 ? default : fx, leftOut == 1 ? default : fw, leftOut == 2 ? default : fb,
                                rows, inF, outF, dxAccumulate: acc, execution: TestUtil.Threads(threads));
                            string where = $"{typeof(T).Name} {rows}x{inF}x{outF} acc={acc}, {threads} threads, without {leftOut}";
                            Assert.That(fx, Is.EqualTo(leftOut == 0 ? dx0 : dx), $"dx, {where}");
                            Assert.That(fw, Is.EqualTo(leftOut == 1 ? dw0 : dw), $"dW, {where}");
                            if (leftOut == 1)
                            {
                                var alone = (T[])db0.Clone();
                                Elementwise.SumRowsInto<T>(dz, alone);
                                Assert.That(fb, Is.EqualTo(alone), $"db alone, {where}");
                            }
                            else Assert.That(fb, Is.EqualTo(leftOut == 2 ? db0 : db), $"db, {where}");
                        }
                }
            }
        }
        if (t == typeof(float)) Check<float>();
        else Check<double>();
    }

    /// <summary>
    /// Writing C (accumulate false) gives the bits of adding into a zeroed C, -0 included: the tape relies on it to skip
    /// clearing a fresh gradient buffer. A zero column of B makes some products -0 (negative a times +0), which both
    /// must turn into +0.
    /// </summary>
    [Test]
    public void Overwrite_EqualsAccumulateIntoZeros_BitForBit([Values] Form f)
    {
        foreach (var p in Simd.Available)
            foreach (var s in Sizes)
            {
                int m = s[0], n = s[1], k = s[2];
                var (a, b, _) = Inputs<float>(m, n, k, 51);
                if (f == Form.NT) for (int q = 0; q < k; q++) b[q] = 0f;           // B row 0 = column 0 of op(B)
                else for (int q = 0; q < k; q++) b[q * n] = 0f;
                var zeros = new float[m * n];
                var garbage = Enumerable.Repeat(float.NaN, m * n).ToArray();
                Fast(f, p, a, b, zeros, m, n, k, acc: true);
                Fast(f, p, a, b, garbage, m, n, k, acc: false);
                Assert.That(garbage.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(zeros.Select(BitConverter.SingleToInt32Bits)), $"{p} {f} {m}x{n}x{k}");
            }
    }

    [Test]
    public void Linear_RejectsABiasOfTheWrongLength()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Linear<float>(new float[6], new float[6], new float[3], new float[4], 2, 2, 3, tanh: false));
        Assert.That(ex!.Message, Does.Contain("bias has 3 values, C has 2 columns"));
    }

    /// <summary>Two threads calling on one execution at once: one gets its workers, the other runs alone; both are right.</summary>
    [Test]
    public void ConcurrentCallers_BothGetTheRightAnswer()
    {
        const int m = 300, n = 200, k = 300;
        var (a, b, _) = Inputs<float>(m, n, k, 31);
        var expected = new float[m * n];
        Gemm.NN<float>(a, b, expected, m, n, k, false);
        var results = new float[4][];
        using var shared = new Execution(2);
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var c = new float[m * n];
            for (int rep = 0; rep < 20; rep++) Gemm.NN<float>(a, b, c, m, n, k, false, execution: shared);
            results[i] = c;
        });
        foreach (var r in results) Assert.That(r, Is.EqualTo(expected));
    }

    /// <summary>
    /// After a warm-up call grows the scratch (the caller's, from its execution, and each worker's own), a float call
    /// allocates nothing, with or without workers.
    /// </summary>
    [Test]
    public void SteadyStateFloatCall_AllocatesNothing([Values(1, 2)] int threads, [Values] Form f)
    {
        const int m = 200, n = 300, k = 400;
        var (a, b, c) = Inputs<float>(m, n, k, 41);
        var e = TestUtil.Threads(threads);
        Fast(f, Simd.Best, a, b, c, m, n, k, false, e);
        // A collection that lands inside the window (earlier tests leave plenty of garbage) can shift
        // this thread's count by its unused allocation quantum (~8 KB, seen as 8152 bytes) although
        // nothing was allocated, so collect first.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Fast(f, Simd.Best, a, b, c, m, n, k, true, e);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero);
    }

    // The canonical order (issue 26): every element is the chain s = fma(a_q, b_q, s) in increasing q from C, the bias or
    // 0, so Scalar, Vector128, Vector256 and Vector512 give the same bits. Shapes: each of the odd sizes below on each axis
    // three times (rotations of one table), and four large ones with two k blocks, column blocks and packed B.
    private static readonly int[] Odd = [1, 2, 3, 7, 15, 16, 17, 33, 50, 200, 784, 785];

    private static readonly int[][] OddShapes = Enumerable.Range(0, Odd.Length)
        .SelectMany(i => new[]
        {
            new[] { Odd[i], Odd[(i + 4) % 12], Odd[(i + 8) % 12] },
            new[] { Odd[(i + 8) % 12], Odd[i], Odd[(i + 4) % 12] },
            new[] { Odd[(i + 4) % 12], Odd[(i + 8) % 12], Odd[i] },
        })
        .Concat([[200, 784, 785], [785, 200, 50], [33, 785, 784], [784, 50, 200], [17, 17, 17], [50, 33, 785]])
        .ToArray();

    private static bool SameBits<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>
        => typeof(T) == typeof(float)
            ? BitConverter.SingleToInt32Bits(float.CreateTruncating(x)) == BitConverter.SingleToInt32Bits(float.CreateTruncating(y))
            : BitConverter.DoubleToInt64Bits(double.CreateTruncating(x)) == BitConverter.DoubleToInt64Bits(double.CreateTruncating(y));

    /// <summary>Equal bits, element by element; with <paramref name="nanPayloads"/>, any two NaNs count as equal.</summary>
    internal static void AssertSameBits<T>(T[] got, T[] expected, string what, bool nanPayloads = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.That(got.Length, Is.EqualTo(expected.Length), what);
        for (int i = 0; i < got.Length; i++)
            if (!SameBits(got[i], expected[i]) && !(nanPayloads && T.IsNaN(got[i]) && T.IsNaN(expected[i])))
                Assert.Fail($"{what}: element {i}: {got[i]} against {expected[i]}");
    }

    /// <summary>
    /// NN, NT and TN, writing C or adding into it, give the same bits on every path in <see cref="Simd.Available"/> and on
    /// 1, 2 and 3 threads as the scalar path on one, and the scalar result is within the naive loop's tolerance; float and
    /// double.
    /// </summary>
    [Test]
    public void EveryPath_GivesTheScalarBits([Values] Form f, [Values] bool acc)
    {
        static void Check<T>(Form f, bool acc, double rel) where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (var s in OddShapes)
            {
                int m = s[0], n = s[1], k = s[2];
                var (a, b, c0) = Inputs<T>(m, n, k, 91);
                var reference = (T[])c0.Clone();
                Fast(f, SimdPath.Scalar, a, b, reference, m, n, k, acc, TestUtil.Threads(1));
                if ((long)m * n * k <= 2_000_000)
                {
                    var naive = (T[])c0.Clone();
                    Naive(f, a, b, naive, m, n, k, acc);
                    AssertClose(reference, naive, Scale(f, a, b, c0, m, n, k, acc), rel == 0 ? FloatRel(k) : rel, $"scalar {f} {m}x{n}x{k}");
                }
                foreach (var path in Simd.Available)
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var c = (T[])c0.Clone();
                        Fast(f, path, a, b, c, m, n, k, acc, TestUtil.Threads(threads));
                        AssertSameBits(c, reference, $"{typeof(T).Name} {path} {f} {m}x{n}x{k} acc={acc}, {threads} threads");
                    }
            }
        }
        Check<float>(f, acc, 0);
        Check<double>(f, acc, 1e-12);
    }

    /// <summary>
    /// Awkward values, the same bits on every path: signed zeros (a zero sum's sign depends on the order of the terms),
    /// subnormal products, products that overflow to infinity and sums of opposite infinities (NaN), and NaN inputs. A
    /// NaN's payload is not part of the contract (it depends on which operand the hardware propagates), so any NaN matches
    /// any NaN; every other element must match bit for bit.
    /// </summary>
    [Test]
    public void AwkwardValues_GiveTheSameBitsOnEveryPath([Values] Form f, [Values] bool acc)
    {
        float[] specials = [0f, -0f, 1e-30f, -1e-30f, 1e-40f, 3e38f, -3e38f, 1f, -1f, float.Epsilon, 1e20f, -1e20f];
        foreach (var (m, n, k) in new[] { (7, 17, 15), (16, 33, 3), (13, 50, 401) })
        {
            var rng = new Rng(5);
            float Pick() => rng.NextDouble() < 0.7 ? specials[(int)(rng.NextDouble() * specials.Length)] : (float)(2 * rng.NextDouble() - 1);
            var a = Enumerable.Range(0, m * k).Select(_ => Pick()).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => Pick()).ToArray();
            var c0 = Enumerable.Range(0, m * n).Select(_ => Pick()).ToArray();
            a[^1] = float.NaN;
            // Row 0 of op(A) all -0 against a column 0 of op(B) of ones: with C = -0 the sum stays -0 when C is added into.
            for (int q = 0; q < k; q++)
            {
                a[f == Form.TN ? q * m : q] = -0f;
                b[f == Form.NT ? q : q * n] = 1f;
            }
            c0[0] = -0f;
            var reference = (float[])c0.Clone();
            Fast(f, SimdPath.Scalar, a, b, reference, m, n, k, acc);
            Assert.That(reference.Any(float.IsNaN) && (!acc || float.IsNegative(reference[0])) && reference.Any(float.IsInfinity), Is.True,
                $"the inputs reach NaN, -0 and infinity ({m}x{n}x{k})");
            foreach (var path in Simd.Available)
                foreach (int threads in new[] { 1, 2 })
                {
                    var c = (float[])c0.Clone();
                    Fast(f, path, a, b, c, m, n, k, acc, TestUtil.Threads(threads));
                    AssertSameBits(c, reference, $"{path} {f} {m}x{n}x{k} acc={acc}, {threads} threads", nanPayloads: true);
                }
        }
    }

    /// <summary>
    /// One multiply-add that rounds differently fused and unfused: x = 1 + 2^-12 squares to 1 + 2^-11 + 2^-24 exactly, which
    /// rounds to 1 + 2^-11; with C = -(1 + 2^-11) the fused sum is 2^-24 and the unfused one 0. Pins fma on every path, the
    /// scalar one included, in every tile width (n = 1 to 33).
    /// </summary>
    [Test]
    public void EveryPath_FusesTheMultiplyAdd([Values] Form f)
    {
        float x = 1 + MathF.Pow(2, -12);
        float product = x * x;                                      // rounded: the 2^-24 of the exact square is lost
        float c0 = -product;
        Assert.That(MathF.FusedMultiplyAdd(x, x, c0), Is.Not.EqualTo(0f), "the case must tell fused from unfused");
        foreach (var path in Simd.Available)
            foreach (int n in new[] { 1, 4, 8, 16, 33 })
            {
                var a = new[] { x };
                var b = Enumerable.Repeat(x, n).ToArray();
                var c = Enumerable.Repeat(c0, n).ToArray();
                Fast(f, path, a, b, c, 1, n, 1, acc: true);
                Assert.That(c, Is.All.EqualTo(MathF.FusedMultiplyAdd(x, x, c0)), $"{path} {f} n={n}");
            }
    }

    /// <summary>
    /// Linear (the bias as each chain's start, tanh after the last k block), TN with column sums and LinearBackward (both
    /// GEMMs, dx written or added into, db) give the scalar path's bits on every path and on 1, 2 and 3 threads.
    /// </summary>
    [Test]
    public void LinearTnSumsAndBackward_GiveTheScalarBitsOnEveryPath([Values(typeof(float), typeof(double))] Type t)
    {
        static void Check<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            foreach (var s in OddShapes)
            {
                int m = s[0], n = s[1], k = s[2];
                var (a, b, c0) = Inputs<T>(m, n, k, 101);
                var bias = Random<T>(1, n, 104).Span.ToArray();
                var sums0 = Random<T>(1, n, 105).Span.ToArray();
                var aT = Random<T>(k, m, 112).Span.ToArray();
                // Linear: A [m,k] B [k,n]. TN with sums: A [k,m], B [k,n]. Backward: rows = m, in = n, out = k.
                var dz = Random<T>(m, k, 106).Span.ToArray();
                var x = Random<T>(m, n, 107).Span.ToArray();
                var w = Random<T>(n, k, 108).Span.ToArray();
                var (dx0, dw0) = (Random<T>(m, n, 109).Span.ToArray(), Random<T>(n, k, 110).Span.ToArray());
                var db0 = Random<T>(1, k, 111).Span.ToArray();
                T[][]? reference = null;
                foreach (var path in Simd.Available)
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        if (reference is not null && path == SimdPath.Scalar && threads == 1) continue;
                        var e = TestUtil.Threads(threads);
                        var lin = new T[m * n];
                        var linTanh = new T[m * n];
                        Gemm.Linear<T>(a, b, bias, lin, m, n, k, tanh: false, path, e);
                        Gemm.Linear<T>(a, b, bias, linTanh, m, n, k, tanh: true, path, e);
                        var (tn, sums) = ((T[])c0.Clone(), (T[])sums0.Clone());
                        Gemm.TN<T>(aT, b, tn, m, n, k, accumulate: true, path, columnSums: sums, execution: e);
                        var results = new List<T[]> { lin, linTanh, tn, sums };
                        foreach (bool dxAcc in new[] { false, true })
                        {
                            var (dx, dw, db) = ((T[])dx0.Clone(), (T[])dw0.Clone(), (T[])db0.Clone());
                            Gemm.LinearBackward<T>(dz, x, w, dx, dw, db, m, n, k, dxAccumulate: dxAcc, path, e);
                            results.AddRange([dx, dw, db]);
                        }
                        if (reference is null)
                        {
                            Assert.That(path, Is.EqualTo(SimdPath.Scalar));
                            reference = results.ToArray();
                            continue;
                        }
                        string[] names = ["linear", "linear+tanh", "TN", "column sums", "dx", "dW", "db", "dx (acc)", "dW (acc)", "db (acc)"];
                        for (int r = 0; r < results.Count; r++)
                            AssertSameBits(results[r], reference[r], $"{typeof(T).Name} {names[r]} {path} {m}x{n}x{k}, {threads} threads");
                    }
            }
        }
        if (t == typeof(float)) Check<float>();
        else Check<double>();
    }

    /// <summary>Axpy is one fma per element on every path: the same bits at every length (tails included).</summary>
    [Test]
    public void Axpy_GivesTheSameBitsOnEveryPath()
    {
        foreach (int n in new[] { 0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 50, 785 })
        {
            var x = Random<float>(1, n, 120).Span.ToArray();
            var y0 = Random<float>(1, n, 121).Span.ToArray();
            var expected = y0.Select((y, i) => MathF.FusedMultiplyAdd(0.3f, x[i], y)).ToArray();
            var xd = Random<double>(1, n, 122).Span.ToArray();
            var yd0 = Random<double>(1, n, 123).Span.ToArray();
            var expectedD = yd0.Select((y, i) => Math.FusedMultiplyAdd(0.3, xd[i], y)).ToArray();
            foreach (var path in Simd.Available)
            {
                var y = (float[])y0.Clone();
                Gemm.Axpy(0.3f, x, y, path);
                AssertSameBits(y, expected, $"float {path} n={n}");
                var yd = (double[])yd0.Clone();
                Gemm.Axpy(0.3, xd, yd, path);
                AssertSameBits(yd, expectedD, $"double {path} n={n}");
            }
        }
    }

    [Test]
    public void Naive_IsAMatrixProduct()
    {
        // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
        var c = new double[4];
        GemmNaive.NN<double>([1, 2, 3, 4], [5, 6, 7, 8], c, 2, 2, 2, false);
        Assert.That(c, Is.EqualTo(new double[] { 19, 22, 43, 50 }));
        GemmNaive.NT<double>([1, 2, 3, 4], [5, 7, 6, 8], c, 2, 2, 2, false);
        Assert.That(c, Is.EqualTo(new double[] { 19, 22, 43, 50 }));
        GemmNaive.TN<double>([1, 3, 2, 4], [5, 6, 7, 8], c, 2, 2, 2, false);
        Assert.That(c, Is.EqualTo(new double[] { 19, 22, 43, 50 }));
    }

    [Test]
    public void ShortSpans_AreRejected()
    {
        Assert.That(() => Gemm.NN<float>(new float[5], new float[6], new float[6], 2, 3, 3, false), Throws.ArgumentException);
        Assert.That(() => Gemm.NT<float>(new float[6], new float[8], new float[6], 2, 3, 3, false), Throws.ArgumentException);
        Assert.That(() => Gemm.TN<float>(new float[6], new float[9], new float[5], 2, 3, 3, false), Throws.ArgumentException);
    }

    [Test]
    public void NegativeSizes_AreRejected()
    {
        Assert.That(() => Gemm.NN<float>(new float[4], new float[4], new float[4], -2, -2, 1, false), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void ThisMachine_HasItsBestPathAvailable()
    {
        Assert.That(Simd.Available, Does.Contain(Simd.Best));
        Assert.That(Simd.Available, Does.Contain(SimdPath.Scalar));
    }
}
