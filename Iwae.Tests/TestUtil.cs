using Iwae.Autodiff;

namespace Iwae.Tests;

internal static class TestUtil
{
    /// <summary>The first <paramref name="n"/> training digits of the embedded MNIST subset, copied, with their labels.</summary>
    public static Iwae.Core.Data.Dataset MnistHead(int n)
    {
        var (train, _) = Iwae.Datasets.Mnist.Load(Iwae.Datasets.Mnist.DefaultFolder());
        return new Iwae.Core.Data.Dataset(train.Images.RowSlice(0, n).Clone(), train.Labels[..n], train.Rows, train.Cols);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Execution> Executions = new();

    /// <summary>
    /// An execution of <paramref name="threads"/> threads (every step on all of them), one per count for the whole test run,
    /// each with its own workers. Like any execution, one computation at a time: tests that run side by side build their own.
    /// </summary>
    public static Execution Threads(int threads) => Executions.GetOrAdd(threads, n => new Execution(n, ThreadPolicy.Fixed));

    /// <summary>A parameter of uniform values in [lo, hi).</summary>
    public static Parameter<double> Uniform(string name, int rows, int cols, ulong seed, double lo = -1, double hi = 1)
    {
        var rng = new Rng(seed);
        var p = new Parameter<double>(name, rows, cols);
        var s = p.Value.Span;
        for (int i = 0; i < s.Length; i++) s[i] = lo + (hi - lo) * rng.NextDouble();
        return p;
    }

    public static Parameter<double> FromValues(string name, int rows, int cols, params double[] values)
        => new(name, Tensor<double>.FromArray(rows, cols, values));

    public static Tensor<T> Random<T>(int rows, int cols, ulong seed, double scale = 1) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Rng(seed);
        var t = Tensor<T>.Zeros(rows, cols);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = T.CreateTruncating(scale * (2 * rng.NextDouble() - 1));
        return t;
    }

    /// <summary>
    /// sum(R * y) for a fixed random R: a scalar whose gradient is a random vector-Jacobian product of y,
    /// so a gradient check of it checks every output element of the op.
    /// </summary>
    public static Var<double> Project(Tape<double> t, Var<double> y, ulong seed)
        => t.Sum(t.Mul(y, t.Constant(Random<double>(y.Rows, y.Cols, seed))));

    public static void AssertGradCheck(Func<Tape<double>, Var<double>> f, params Parameter<double>[] ps)
        => AssertGradCheck(f, null, ps);

    public static void AssertGradCheck(Func<Tape<double>, Var<double>> f, GradCheckOptions? o, params Parameter<double>[] ps)
    {
        var r = GradCheck.Check(f, ps, o);
        Assert.That(r.Passed, Is.True, r.ToString());
        Assert.That(r.Checks, Is.GreaterThan(0));
    }

    /// <summary>Gives a float64 model the float32 model's exact weights.</summary>
    public static void CopyWeights(IReadOnlyList<Parameter<float>> from, IReadOnlyList<Parameter<double>> to)
    {
        Assert.That(to.Count, Is.EqualTo(from.Count));
        for (int p = 0; p < from.Count; p++)
        {
            var a = from[p].Value.Span;
            var b = to[p].Value.Span;
            for (int i = 0; i < a.Length; i++) b[i] = a[i];
        }
    }

    /// <summary>The repository's root (the folder of Iwae.sln) above the test folder, for tests that read docs or sources.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Iwae.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (Iwae.sln) above the test folder");
    }

    /// <summary>
    /// Bytes allocated on this thread by <paramref name="perWindow"/> consecutive calls of <paramref name="step"/>, the
    /// least over <paramref name="windows"/> windows, after <paramref name="warmup"/> calls. The runtime itself
    /// (tiered compilation) may allocate a few KB on the calling thread at a random moment; code that allocates
    /// on any step, or on every few steps, shows up in every window.
    /// </summary>
    public static long LeastAllocated(Action step, int warmup = 30, int windows = 4, int perWindow = 5)
    {
        for (int i = 0; i < warmup; i++) step();
        long least = long.MaxValue;
        for (int w = 0; w < windows; w++)
        {
            GC.Collect();   // a collection inside a window can report a few KB that were never allocated
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < perWindow; i++) step();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    public static double MaxAbsDiff(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        Assert.That(a.Length, Is.EqualTo(b.Length));
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
