using Iwae.Autodiff;
using Iwae.Autodiff.Kernels;

namespace Iwae.Tests.Kernels;

/// <summary>
/// The float GEMM tile for x64 without FMA hardware (<c>Kernel128.EmulatedTile</c>: double accumulators, each step
/// rounded to float, a block redone one Fused.MultiplyAdd per step when some step's sum was a float midpoint or
/// subnormal), called directly so that it runs on any x64, against the per-element chains of MathF.FusedMultiplyAdd,
/// bit for bit: GEMM-like values (the direct path), short mantissas (true ties), sums that the double rounds onto a
/// float midpoint (every block redone) and awkward values (subnormal, huge, infinite, NaN). Under DOTNET_EnableAVX2=0 the GEMM tests reach it through the driver too.
/// </summary>
public class GemmEmulatedTileTests
{
    private static float Pow2(int e) => (float)Math.ScaleB(1.0, e);

    private static float Value(Rng rng, int kind, bool left) => kind switch
    {
        // pixels (a third zero) times small normal weights
        0 => left ? (rng.NextULong() % 3 == 0 ? 0f : (int)(rng.NextULong() % 256) / 255f) : (float)(rng.NextNormal() * 0.05),
        // 12-bit mantissas: products that are floats or float midpoints exactly, true ties
        1 => (1 + (int)(rng.NextULong() % 4096) * Pow2(-12)) * Pow2((int)(rng.NextULong() % 9) - 4) * (rng.NextULong() % 2 == 0 ? 1 : -1),
        _ => (rng.NextULong() % 16) switch
        {
            0 => 0f,
            1 => -0f,
            2 => float.Epsilon * (int)(rng.NextULong() % 1000),
            3 => Pow2(-70) * (1 + rng.NextFloat()),
            4 => Pow2(60) * (rng.NextFloat() - 0.5f),
            5 => rng.NextULong() % 50 == 0 ? float.PositiveInfinity : 1f,
            6 => rng.NextULong() % 80 == 0 ? float.NaN : -1f,
            7 => float.MaxValue * (rng.NextFloat() - 0.5f),
            _ => (float)rng.NextNormal(),
        },
    };

    [Test]
    public unsafe void EmulatedTile_GivesTheFusedChains_BitForBit([Values(3, 6)] int rows, [Values(4, 8)] int width, [Values] Start start,
                                                                  [Values(0, 1, 2, 3)] int kind)
    {
        var rng = new Rng((ulong)(1000 * kind + 10 * rows + width + 100 * (int)start));
        const int kc = 301;
        int ldb = width + 3, ldc = width + 1;
        float[] a = new float[rows * kc], b = new float[kc * ldb], c = new float[rows * ldc];
        for (int i = 0; i < a.Length; i++) a[i] = Value(rng, kind, true);
        for (int i = 0; i < b.Length; i++) b[i] = Value(rng, kind, false);
        for (int i = 0; i < c.Length; i++) c[i] = kind == 1 ? Value(rng, 1, false) * Pow2(6) : (float)rng.NextNormal();
        if (kind == 3)
        {
            // a*b = +-(1 + u 2^-23)(1 - u 2^-23) = +-(1 - u^2 2^-46) (or 0) into C near +-2^24, where floats are 2 apart:
            // the double sum drops the u^2 2^-46 and lands on an odd integer, a midpoint, at nearly every step, while the
            // exact sum lies just inside it. So every block is redone (and must be).
            int u = 1 + (int)(rng.NextULong() % 300), e = (int)(rng.NextULong() % 40) - 20;
            for (int i = 0; i < a.Length; i++) a[i] = (1 + u * Pow2(-23)) * Pow2(e) * (rng.NextULong() % 2 == 0 ? 1 : -1);
            for (int i = 0; i < b.Length; i++) b[i] = rng.NextULong() % 4 == 0 ? 0f : (1 - u * Pow2(-23)) * Pow2(-e) * (rng.NextULong() % 2 == 0 ? 1 : -1);
            for (int i = 0; i < c.Length; i++) c[i] = (Pow2(24) + 2 * (int)(rng.NextULong() % 500)) * (rng.NextULong() % 2 == 0 ? 1 : -1);
        }
        float[] bias = c[..width];      // a row of C's kind of values, broadcast down the tile
        var want = (float[])c.Clone();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++)
            {
                float s = start switch { Start.C => c[r * ldc + j], Start.Bias => bias[j], _ => 0f };
                for (int q = 0; q < kc; q++) s = MathF.FusedMultiplyAdd(a[r * kc + q], b[q * ldb + j], s);
                want[r * ldc + j] = s;
            }
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            Kernel128<float>.EmulatedTile(rows, width, pa, kc, 1, pb, ldb, kc, pc, ldc,
                start switch { Start.C => pc, Start.Bias => pbias, _ => null }, start == Start.C ? ldc : 0);
        for (int i = 0; i < c.Length; i++)
        {
            bool same = float.IsNaN(want[i]) ? float.IsNaN(c[i]) : BitConverter.SingleToInt32Bits(c[i]) == BitConverter.SingleToInt32Bits(want[i]);
            Assert.That(same, Is.True, $"row {i / ldc}, column {i % ldc}: fused chain {want[i]:R}, tile {c[i]:R}");
        }
    }

    /// <summary>Where the tile's sums start: zero, C itself, or a bias row broadcast down the tile.</summary>
    public enum Start { Zero, C, Bias }
}
