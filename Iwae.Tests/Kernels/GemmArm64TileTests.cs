using System.Numerics;
using Iwae.Autodiff.Kernels;
using static Iwae.Tests.Kernels.GemmTests;
using static Iwae.Tests.TestUtil;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The Vector128 path's ARM64 tile (<c>Kernel128Arm64</c>: 8 rows x 2 vectors, for NEON's 32 registers), run through
/// the GEMM driver on any machine (on x64 it spills, but computes the same chains), against x64's 6-row Vector128 tile
/// and the scalar kernel, bit for bit: every form, with sizes that give it full, half and zero-padded row tiles, full
/// and narrow panels, several k blocks, B packed and read in place, and every epilogue (accumulate, bias, tanh, column
/// sums, the Bernoulli row sums with C written or not). On ARM64 the whole suite runs it (scripts/arm64/check.sh).
/// </summary>
public unsafe class GemmArm64TileTests
{
    public enum Epilogue { None, Accumulate, BiasTanh, ColumnSums, Bernoulli, BernoulliUnwritten }

    // [m, n, k]: 8 and 4 rows exactly, 1..3 tail rows after full and half tiles, one narrow panel (n = 4, 12), many
    // panels, k over one block (801: three blocks of 267), and C short enough for B in place (m <= 64) or not.
    private static readonly int[][] Sizes =
    [
        [8, 8, 5], [4, 4, 1], [13, 12, 33], [15, 9, 7], [67, 20, 801], [133, 37, 50], [21, 200, 784], [1000, 50, 200],
    ];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var s in Sizes)
            foreach (var f in Enum.GetValues<Form>())
                foreach (var e in Enum.GetValues<Epilogue>())
                    if (e is Epilogue.None or Epilogue.Accumulate or Epilogue.BiasTanh
                        || (e == Epilogue.ColumnSums && f == Form.TN)
                        || (e == Epilogue.Bernoulli && f == Form.NN)
                        || (e == Epilogue.BernoulliUnwritten && f == Form.NN && s[2] <= GemmDriver.Kc))
                        yield return new TestCaseData(f, e, s[0], s[1], s[2]);
    }

    [TestCaseSource(nameof(Cases))]
    public void Arm64Tile_GivesTheX64AndScalarBits(Form f, Epilogue e, int m, int n, int k)
    {
        var seed = (ulong)(m * 7919 + n * 104729 + k * 31 + (int)f * 5 + (int)e);
        var (want, wantY) = Run<float, KernelScalar<float>>(f, e, m, n, k, seed);
        var (x64, x64Y) = Run<float, Kernel128<float>>(f, e, m, n, k, seed);
        var (arm, armY) = Run<float, Kernel128Arm64<float>>(f, e, m, n, k, seed);
        AssertSameBits(x64, want, "x64 Vector128 tile against scalar");
        AssertSameBits(arm, want, "ARM64 tile against scalar");
        AssertSameBits(x64Y, wantY, "x64 Vector128 tile's row sums against scalar");
        AssertSameBits(armY, wantY, "ARM64 tile's row sums against scalar");
    }

    [Test]
    public void Arm64Tile_Double_GivesTheScalarBits([Values] Form f, [Values(Epilogue.None, Epilogue.Accumulate)] Epilogue e)
    {
        foreach (var s in Sizes)
        {
            var seed = (ulong)(s[0] + 3 * s[1] + 11 * s[2]);
            AssertSameBits(Run<double, Kernel128Arm64<double>>(f, e, s[0], s[1], s[2], seed).C,
                Run<double, KernelScalar<double>>(f, e, s[0], s[1], s[2], seed).C, $"double {s[0]}x{s[1]}x{s[2]}");
        }
    }

    /// <summary>
    /// The problem on one thread through <c>GemmDriver.Solve</c> with kernel TK: C (and the column sums after it),
    /// and the Bernoulli row sums.
    /// </summary>
    private static (T[] C, float[] Y) Run<T, TK>(Form f, Epilogue e, int m, int n, int k, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T> where TK : IGemmKernel<T>
    {
        var a = Random<T>(1, m * k, seed).Span.ToArray();
        var b = Random<T>(1, k * n, seed + 1).Span.ToArray();
        var c = e == Epilogue.Accumulate ? Random<T>(1, m * n, seed + 2).Span.ToArray() : new T[m * n];
        var bias = Random<T>(1, n, seed + 3).Span.ToArray();
        var sums = Random<T>(1, n, seed + 4).Span.ToArray();
        var y = new float[e is Epilogue.Bernoulli or Epilogue.BernoulliUnwritten ? m : 0];
        int images = m % 3 == 0 ? 3 : 1;                          // the binary targets tile the rows
        var pixels = Random<float>(1, images * n, seed + 5).Span.ToArray().Select(v => v > 0 ? 1f : 0f).ToArray();
        fixed (T* pa = a, pb = b, pc = c, pbias = bias, psums = sums)
        fixed (float* px = pixels, py = y)
        {
            var p = f switch
            {
                // The strides of Gemm.NN, Gemm.NT and Gemm.TN.
                Form.NN => GemmDriver.Problem(pa, k, 1, pb, n, 1, pc, m, n, k, e == Epilogue.Accumulate),
                Form.NT => GemmDriver.Problem(pa, k, 1, pb, 1, k, pc, m, n, k, e == Epilogue.Accumulate),
                _ => GemmDriver.Problem(pa, 1, m, pb, n, 1, pc, m, n, k, e == Epilogue.Accumulate),
            };
            if (e == Epilogue.BiasTanh) p = p with { Bias = pbias, Tanh = typeof(T) == typeof(float) };
            if (e == Epilogue.ColumnSums) p = p with { ColSums = psums };
            if (y.Length > 0)
                p = p with
                {
                    Bias = pbias, LikX = px, LikY = py, LikXRows = pixels.Length / n, Unwritten = e == Epilogue.BernoulliUnwritten,
                    C = e == Epilogue.BernoulliUnwritten ? null : pc,
                };
            GemmDriver.Solve<T, TK>(in p, 0, m, 0, n, 0, n, new Workspace());
        }
        return (e == Epilogue.ColumnSums ? [.. c, .. sums] : c, y);
    }
}
