using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iwae.Autodiff.Kernels;

namespace Iwae.Bench;

/// <summary>
/// `quick tile [kc=50,200,400]`: each path's GEMM micro-kernel alone, one full tile (MR x NR) over kc steps with A, B
/// and C in L1, one thread, beside the same sitting's one-thread `peak` for that path. It is what the driver's
/// blocking, packing and edges are measured against (a GEMM's rate over the tile's is the driver's share of the loss),
/// and a direct check of the peak line: no kernel may exceed it.
/// </summary>
public static unsafe class TileProbe
{
    public static void Run(string[] args)
    {
        var opt = Scenarios.QuickOptions(args);
        var depths = opt.TryGetValue("kc", out var s) ? s.Split(',').Select(int.Parse).ToArray() : [50, 200, 400];
        Console.WriteLine("# one thread, one full tile in L1, best of 5 windows of 0.2 s (`quick gemm`'s timer); of_peak: over this path's one-thread peak just before");
        foreach (var path in Simd.Available)
        {
            double peak = PeakProbe.GFlops(path, 1);
            foreach (int kc in depths)
            {
                var (mr, nr, gflops) = Measure(path, kc);
                // Without FMA hardware the peak loop times the runtime's software fallback while the kernels run an
                // exact emulation of their own (Fused.cs), so a ratio would compare unlike things.
                string ratio = Fused.IsEmulated ? "of_peak=n/a (FMA emulated)" : FormattableString.Invariant($"of_peak={gflops / peak:F2}");
                Console.WriteLine(FormattableString.Invariant($"tile path={path} {mr}x{nr} kc={kc} gflops={gflops:F1} peak={peak:F1} {ratio}"));
            }
        }
    }

    private static (int Mr, int Nr, double GFlops) Measure(SimdPath path, int kc) => path switch
    {
        SimdPath.Vector512 => Measure<Kernel512<float>>(kc),
        SimdPath.Vector256 => Measure<Kernel256<float>>(kc),
        SimdPath.Vector128 when Kernel128Arm64<float>.Chosen => Measure<Kernel128Arm64<float>>(kc),
        SimdPath.Vector128 => Measure<Kernel128<float>>(kc),
        _ => Measure<KernelScalar<float>>(kc),
    };

    /// <summary>Tiles per timed call: enough that the delegate call around them costs nothing measurable.</summary>
    private const int TilesPerCall = 100;

    /// <summary>The tile's GFLOP/s: A as a packed [kc][MR] micro-panel, B as one [kc][NR] panel, C written, no init.</summary>
    private static (int, int, double) Measure<TK>(int kc) where TK : IGemmKernel<float>
    {
        int mr = TK.MR, nr = TK.NR;
        float* a = Alloc(kc * mr), b = Alloc(kc * nr), c = Alloc(mr * nr);
        try
        {
            for (int i = 0; i < kc * mr; i++) a[i] = 0.001f * (i % 7);
            for (int i = 0; i < kc * nr; i++) b[i] = 0.001f * (i % 5);
            double seconds = GemmQuick.Measure(() => Tiles<TK>(a, b, c, kc), seconds: 0.2, runs: 5);
            return (mr, nr, TilesPerCall * 2.0 * mr * nr * kc / seconds / 1e9);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tiles<TK>(float* a, float* b, float* c, int kc) where TK : IGemmKernel<float>
    {
        for (int i = 0; i < TilesPerCall; i++) TK.Tile(true, TK.NR, a, 1, TK.MR, b, TK.NR, kc, c, TK.NR, null, 0);
    }

    private static float* Alloc(int floats) => (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
}
