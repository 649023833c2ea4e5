using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Kernels;

/// <summary>Every GEMM form on every SIMD path this machine runs, against the naive triple loop.</summary>
public class GemmTests
{
    private static IEnumerable<SimdPath> Paths => Simd.Available;

    private static readonly int[][] Sizes =
    [
        [1, 1, 1], [7, 1, 3], [1, 33, 7], [7, 33, 16], [33, 7, 65], [16, 17, 15], [13, 785, 9], [3, 9, 785], [65, 64, 200],
    ];

    public enum Form { NN, NT, TN }

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var p in Simd.Available)
            foreach (var f in Enum.GetValues<Form>())
                foreach (var s in Sizes)
                    foreach (bool acc in new[] { false, true })
                        yield return new TestCaseData(p, f, s[0], s[1], s[2], acc);
    }

    private static void Run<T>(Form f, bool fast, SimdPath path, T[] a, T[] b, T[] c, int m, int n, int k, bool acc)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        switch (f)
        {
            case Form.NN: if (fast) Gemm.NN<T>(a, b, c, m, n, k, acc, path); else GemmNaive.NN<T>(a, b, c, m, n, k, acc); break;
            case Form.NT: if (fast) Gemm.NT<T>(a, b, c, m, n, k, acc, path); else GemmNaive.NT<T>(a, b, c, m, n, k, acc); break;
            default: if (fast) Gemm.TN<T>(a, b, c, m, n, k, acc, path); else GemmNaive.TN<T>(a, b, c, m, n, k, acc); break;
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Float_FastPathMatchesNaive(SimdPath path, Form f, int m, int n, int k, bool acc)
    {
        var a = Random<float>(1, m * k, 1).ToArray();
        var b = Random<float>(1, k * n, 2).ToArray();
        var c0 = Random<float>(1, m * n, 3).ToArray();
        var (fast, naive) = ((float[])c0.Clone(), (float[])c0.Clone());
        Run(f, true, path, a, b, fast, m, n, k, acc);
        Run(f, false, path, a, b, naive, m, n, k, acc);
        for (int i = 0; i < fast.Length; i++)
            Assert.That(fast[i], Is.EqualTo(naive[i]).Within(1e-5f * (k + 1)), $"element {i}");
    }

    [TestCaseSource(nameof(Cases))]
    public void Double_FastPathMatchesNaive(SimdPath path, Form f, int m, int n, int k, bool acc)
    {
        var a = Random<double>(1, m * k, 4).ToArray();
        var b = Random<double>(1, k * n, 5).ToArray();
        var c0 = Random<double>(1, m * n, 6).ToArray();
        var (fast, naive) = ((double[])c0.Clone(), (double[])c0.Clone());
        Run(f, true, path, a, b, fast, m, n, k, acc);
        Run(f, false, path, a, b, naive, m, n, k, acc);
        for (int i = 0; i < fast.Length; i++)
            Assert.That(fast[i], Is.EqualTo(naive[i]).Within(1e-13 * (k + 1)), $"element {i}");
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
    }

    [Test]
    public void ThisMachine_HasItsBestPathAvailable()
    {
        Assert.That(Simd.Available, Does.Contain(Simd.Best));
        Assert.That(Simd.Available, Does.Contain(SimdPath.Scalar));
    }
}
